package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// checkDocs keeps docs/deploy.md in step with the Bicep: every parameter of main.bicep and every app
// setting of the function app must be named there (in backquotes).
func checkDocs(path string, files []*File) ([]Problem, error) {
	const doc = "docs/deploy.md"
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	text := string(b)
	// A setting family may be documented once with its first member: `AzureWebJobsStorage__accountName`,
	// `__credential`, `__clientId`.
	named := func(name string) bool {
		if strings.Contains(text, "`"+name+"`") {
			return true
		}
		if _, sub, ok := strings.Cut(name, "__"); ok {
			return strings.Contains(text, "`__"+sub+"`")
		}
		return false
	}
	var problems []Problem
	for _, f := range files {
		if filepath.Base(f.Path) != "main.bicep" {
			continue
		}
		for _, p := range decls(f, "parameter_declaration") {
			if !named(p.Name) {
				problems = append(problems, Problem{f.Name, p.Node.R, fmt.Sprintf("parameter %s is not in %s's parameter table", p.Name, doc)})
			}
		}
	}
	apps, settings, _ := functionApps(files)
	for _, app := range apps {
		for _, s := range settings[app] {
			if !named(s.Name) {
				problems = append(problems, Problem{s.File.Name, s.Line, fmt.Sprintf("app setting %s is not in %s's app settings table", s.Name, doc)})
			}
		}
	}
	return problems, nil
}
