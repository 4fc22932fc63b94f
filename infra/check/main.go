// Command check is `make check-infra`: it checks infra/bicep without the Bicep compiler or Azure.
//
//   - syntax: every .bicep and .bicepparam file parses with tree-sitter-bicep (no ERROR or MISSING node);
//   - properties: every resource type and API version is one an Azure SDK for Go resource-manager module
//     was generated for, every property name of every resource body is one its model knows, and every
//     literal given to one of its enumerations is one of the enumeration's values;
//   - modules and parameter files: every module parameter passed exists, every required one is passed;
//     every .bicepparam parameter exists in main.bicep and every required one is set; members of imported
//     objects (builtInRoles.<role>) are keys the exported variable has;
//   - settings: the function app's app settings against local.settings.sample.json (the handler's
//     settings) and the connections and %settings% of functions/*/function.json: none missing, none unused;
//     SQL_URL is Azure SQL through the managed identity; host.json agrees with the dequeue count and timeout;
//   - roles: every role definition GUID matches the built-in role name it is given;
//   - secrets: no key, SAS, password or connection string in an app setting, parameter default or output;
//   - SQL: infra/sql/app-user.sql grants the app's database user exactly what the migrations and the
//     store's statements need;
//   - docs: docs/deploy.md names every parameter of main.bicep and every app setting.
//
// Usage (from the repository root): go -C infra/check run . -root ../..
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Problem is one finding, shown as file:line: message.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line == 0 {
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// Repo says where the inputs are.
type Repo struct {
	Root     string // repository root: local.settings.sample.json, functions/*/function.json
	BicepDir string // the Bicep files (infra/bicep in the repository)
	Script   string // parse.js
	Doc      string // docs/deploy.md, checked to name every parameter and app setting; "" skips it
}

// Report is what a check found.
type Report struct {
	Files, Resources, Properties, Settings int
	Problems                               []Problem
}

// Check runs every check over the repository.
func Check(r Repo) (Report, error) {
	var paths, names []string
	err := filepath.WalkDir(r.BicepDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".bicep") || strings.HasSuffix(p, ".bicepparam")) {
			rel, _ := filepath.Rel(r.BicepDir, p)
			paths = append(paths, p)
			names = append(names, filepath.ToSlash(filepath.Join("infra/bicep", rel)))
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	if len(paths) == 0 {
		return Report{}, fmt.Errorf("no .bicep files under %s", r.BicepDir)
	}
	files, err := parseFiles(r.Script, paths, names)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Files: len(files), Resources: len(resources(files))}
	for _, f := range files {
		for _, e := range f.Errors {
			what := "syntax error near " + fmt.Sprintf("%q", e.Text)
			if e.Missing {
				what = "syntax error: missing " + e.T
			}
			rep.Problems = append(rep.Problems, Problem{f.Name, e.R, fmt.Sprintf("%s (column %d)", what, e.Col)})
		}
	}
	if len(rep.Problems) > 0 {
		return rep, nil // the other checks would only report the same error again
	}
	ps, n := checkProperties(files)
	rep.Problems = append(rep.Problems, ps...)
	rep.Properties = n
	rep.Problems = append(rep.Problems, checkParams(files)...)
	rep.Problems = append(rep.Problems, checkImports(files)...)
	ps, n, err = checkSettings(r.Root, files)
	if err != nil {
		return rep, err
	}
	rep.Problems = append(rep.Problems, ps...)
	rep.Settings = n
	if r.Doc != "" {
		ps, err = checkDocs(r.Doc, files)
		if err != nil {
			return rep, err
		}
		rep.Problems = append(rep.Problems, ps...)
	}
	ps, err = checkSQLGrants(r.Root)
	if err != nil {
		return rep, err
	}
	rep.Problems = append(rep.Problems, ps...)
	rep.Problems = append(rep.Problems, checkRoles(files)...)
	rep.Problems = append(rep.Problems, checkSecrets(files)...)
	sort.SliceStable(rep.Problems, func(i, j int) bool {
		a, b := rep.Problems[i], rep.Problems[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return rep, nil
}

func main() {
	root := flag.String("root", "../..", "repository root")
	dir := flag.String("bicep", "", "folder of the Bicep files (default: ROOT/infra/bicep)")
	flag.Parse()
	r := Repo{Root: *root, BicepDir: *dir, Script: filepath.Join(*root, "infra", "check", "parse.js"), Doc: filepath.Join(*root, "docs", "deploy.md")}
	if r.BicepDir == "" {
		r.BicepDir = filepath.Join(*root, "infra", "bicep")
	}
	rep, err := Check(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check-infra:", err)
		os.Exit(2)
	}
	for _, p := range rep.Problems {
		fmt.Println(p)
	}
	if len(rep.Problems) > 0 {
		fmt.Printf("check-infra: %d problem(s)\n", len(rep.Problems))
		os.Exit(1)
	}
	fmt.Printf("check-infra: ok: %d files parse; %d resources, %d property names known to the Azure models; %d app settings match the handler and function.json; roles and secrets clean\n",
		rep.Files, rep.Resources, rep.Properties, rep.Settings)
}
