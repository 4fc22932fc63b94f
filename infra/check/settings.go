package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// hostSettings are app settings read by the Functions host or App Service, not by the handler, with why
// each is there. Anything else in the Bicep app settings must be a handler setting or a connection.
var hostSettings = map[string]string{
	"FUNCTIONS_EXTENSION_VERSION":                  "Functions runtime 4.x",
	"WEBSITE_RUN_FROM_PACKAGE":                     "the blob URL of the zip the app runs",
	"WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID": "the user-assigned identity that reads that blob",
	"APPLICATIONINSIGHTS_CONNECTION_STRING":        "where the host sends telemetry (no credential: the component only takes Entra-signed telemetry)",
	"APPLICATIONINSIGHTS_AUTHENTICATION_STRING":    "Entra authentication of that telemetry with the app's identity",
}

// noContentShare are settings this deployment must not have: Azure Files takes only a key.
var noContentShare = map[string]bool{"WEBSITE_CONTENTAZUREFILECONNECTIONSTRING": true, "WEBSITE_CONTENTSHARE": true}

// setting is one app setting of a function app in Bicep.
type setting struct {
	Name  string
	Value *Node
	File  *File
	Line  int
}

// functionApps returns each function app resource with its literal app settings.
func functionApps(files []*File) (apps []*Resource, settings map[*Resource][]setting, problems []Problem) {
	settings = map[*Resource][]setting{}
	for _, r := range resources(files) {
		if r.Type != "Microsoft.Web/sites" || r.Existing {
			continue
		}
		apps = append(apps, r)
		for _, body := range r.Bodies {
			list := prop(prop(prop(body, "properties"), "siteConfig"), "appSettings")
			if list == nil || list.T != "array" {
				problems = append(problems, Problem{r.File.Name, r.Node.R, fmt.Sprintf("function app %s: properties.siteConfig.appSettings is not an array literal", r.Symbol)})
				continue
			}
			for _, e := range list.kids() {
				name, ok := literal(prop(e, "name"))
				if e.T != "object" || !ok {
					problems = append(problems, Problem{r.File.Name, e.R, "app setting without a literal name"})
					continue
				}
				settings[r] = append(settings[r], setting{Name: name, Value: prop(e, "value"), File: r.File, Line: e.R})
			}
		}
	}
	return apps, settings, problems
}

var percentRef = regexp.MustCompile(`%([A-Za-z0-9_.:-]+)%`)

// functionBindings reads every functions/*/function.json: the connections and the %SETTING% names its
// bindings use.
func functionBindings(root string) (connections, refs map[string]string, err error) {
	paths, err := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	if err != nil {
		return nil, nil, err
	}
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("no functions/*/function.json under %s", root)
	}
	connections, refs = map[string]string{}, map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		var fj struct {
			Bindings []map[string]any `json:"bindings"`
		}
		if err := json.Unmarshal(b, &fj); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		fn := filepath.Base(filepath.Dir(p))
		for _, bd := range fj.Bindings {
			for k, v := range bd {
				s, ok := v.(string)
				if !ok {
					continue
				}
				if k == "connection" {
					connections[s] = fn
				}
				for _, m := range percentRef.FindAllStringSubmatch(s, -1) {
					refs[m[1]] = fn
				}
			}
		}
	}
	return connections, refs, nil
}

// sampleSettings reads the Values of local.settings.sample.json: every setting the handler reads
// (handler/config_test.go keeps that list complete).
func sampleSettings(root string) (map[string]bool, error) {
	b, err := os.ReadFile(filepath.Join(root, "local.settings.sample.json"))
	if err != nil {
		return nil, err
	}
	var ls struct {
		Values map[string]string `json:"Values"`
	}
	if err := json.Unmarshal(b, &ls); err != nil {
		return nil, fmt.Errorf("local.settings.sample.json: %w", err)
	}
	out := map[string]bool{}
	for k := range ls.Values {
		out[k] = true
	}
	return out, nil
}

// checkSettings compares the function app's app settings with the handler's settings and the bindings.
func checkSettings(root string, files []*File) ([]Problem, int, error) {
	sample, err := sampleSettings(root)
	if err != nil {
		return nil, 0, err
	}
	conns, refs, err := functionBindings(root)
	if err != nil {
		return nil, 0, err
	}
	apps, all, problems := functionApps(files)
	if len(apps) == 0 {
		return append(problems, Problem{"infra/bicep", 0, "no Microsoft.Web/sites resource: nothing to check the app settings of"}), 0, nil
	}
	count := 0
	for _, app := range apps {
		list := all[app]
		count += len(list)
		byName := map[string]setting{}
		for _, s := range list {
			if _, dup := byName[s.Name]; dup {
				problems = append(problems, Problem{s.File.Name, s.Line, fmt.Sprintf("app setting %s set twice", s.Name)})
			}
			byName[s.Name] = s
		}
		at := func(msg string) Problem {
			return Problem{app.File.Name, app.Node.R, fmt.Sprintf("function app %s: %s", app.Symbol, msg)}
		}
		has := func(name string) bool { _, ok := byName[name]; return ok }
		hasPrefix := func(p string) bool {
			for n := range byName {
				if strings.HasPrefix(n, p+"__") {
					return true
				}
			}
			return false
		}
		want := map[string]string{"FUNCTIONS_WORKER_RUNTIME": "custom", "FUNCTIONS_EXTENSION_VERSION": "~4"}
		for _, name := range sortedNames(want) {
			s, ok := byName[name]
			if v, lit := literal(s.Value); ok && (!lit || v != want[name]) {
				problems = append(problems, Problem{s.File.Name, s.Line, fmt.Sprintf("app setting %s must be '%s'", name, want[name])})
			} else if !ok {
				problems = append(problems, at(fmt.Sprintf("app setting %s ('%s') missing", name, want[name])))
			}
		}
		for _, name := range sortedNames(sample) {
			if !has(name) && !hasPrefix(name) {
				problems = append(problems, at(fmt.Sprintf("app setting %s missing: the handler reads it (local.settings.sample.json)", name)))
			}
		}
		for _, c := range sortedNames(conns) {
			problems = append(problems, checkConnection(at, c, conns[c], byName)...)
		}
		problems = append(problems, checkValues(root, byName)...)
		for _, r := range sortedNames(refs) {
			if !has(r) {
				problems = append(problems, at(fmt.Sprintf("app setting %s missing: functions/%s/function.json uses %%%s%%", r, refs[r], r)))
			}
		}
		for _, s := range list {
			prefix, _, identity := strings.Cut(s.Name, "__")
			switch {
			case noContentShare[s.Name]:
				problems = append(problems, Problem{s.File.Name, s.Line, fmt.Sprintf("app setting %s: an Azure Files content share takes only an account key; this app runs from a package blob without one (docs/deploy.md)", s.Name)})
			case sample[s.Name], hostSettings[s.Name] != "", s.Name == "FUNCTIONS_WORKER_RUNTIME":
			case identity && (sample[prefix] || conns[prefix] != ""):
			default:
				problems = append(problems, Problem{s.File.Name, s.Line, fmt.Sprintf("app setting %s is read by nothing: not in local.settings.sample.json, not a function.json connection, not a host setting", s.Name)})
			}
		}
	}
	return problems, count, nil
}

// checkConnection checks one function.json connection: identity-based, with a user-assigned identity.
func checkConnection(at func(string) Problem, c, fn string, byName map[string]setting) []Problem {
	var problems []Problem
	if s, ok := byName[c]; ok {
		return []Problem{{s.File.Name, s.Line, fmt.Sprintf("app setting %s is a connection string (functions/%s); use identity-based %s__* settings", c, fn, c)}}
	}
	service := map[string][][]string{
		"AzureWebJobsStorage": {{"accountName"}, {"blobServiceUri", "queueServiceUri"}},
	}[c]
	if service == nil {
		service = [][]string{{"fullyQualifiedNamespace"}} // Event Hubs, Service Bus
	}
	found := false
	for _, alt := range service {
		all := true
		for _, k := range alt {
			if _, ok := byName[c+"__"+k]; !ok {
				all = false
			}
		}
		found = found || all
	}
	if !found {
		var alts []string
		for _, alt := range service {
			alts = append(alts, c+"__"+strings.Join(alt, " + "+c+"__"))
		}
		problems = append(problems, at(fmt.Sprintf("connection %s (functions/%s): app setting %s missing", c, fn, strings.Join(alts, " or "))))
	}
	if s, ok := byName[c+"__credential"]; !ok {
		problems = append(problems, at(fmt.Sprintf("connection %s: app setting %s__credential ('managedidentity') missing", c, c)))
	} else if v, lit := literal(s.Value); !lit || v != "managedidentity" {
		problems = append(problems, Problem{s.File.Name, s.Line, fmt.Sprintf("app setting %s__credential must be 'managedidentity'", c)})
	}
	if _, ok := byName[c+"__clientId"]; !ok {
		problems = append(problems, at(fmt.Sprintf("connection %s: app setting %s__clientId missing (the app has only a user-assigned identity)", c, c)))
	}
	return problems
}

var sqlURL = regexp.MustCompile(`^'sqlserver://\$\{[^}]+\}\?database=\$\{[^}]+\}&fedauth=ActiveDirectoryManagedIdentity&user\+id=\$\{[^}]+\}'$`)

// checkValues checks the values the handler would refuse at start: SQL_URL must be Azure SQL through the
// app's managed identity (the handler refuses an SQLite file in Azure), MAX_DEQUEUE_COUNT must equal
// host.json's extensions.queues.maxDequeueCount and INVOCATION_TIMEOUT must be below its functionTimeout
// (handler/config.go checkHostJSON).
func checkValues(root string, byName map[string]setting) []Problem {
	var problems []Problem
	if s, ok := byName["SQL_URL"]; ok && !sqlURL.MatchString(strings.TrimSpace(s.File.Text(s.Value))) {
		problems = append(problems, Problem{s.File.Name, s.Line, "app setting SQL_URL must be 'sqlserver://${fqdn}?database=${db}&fedauth=ActiveDirectoryManagedIdentity&user+id=${clientId}' (Azure SQL as the app's user-assigned identity)"})
	}
	b, err := os.ReadFile(filepath.Join(root, "host.json"))
	if err != nil {
		return append(problems, Problem{"host.json", 0, err.Error()})
	}
	var h struct {
		FunctionTimeout string `json:"functionTimeout"`
		Extensions      struct {
			Queues struct {
				MaxDequeueCount *int `json:"maxDequeueCount"`
			} `json:"queues"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return append(problems, Problem{"host.json", 0, err.Error()})
	}
	want := 5 // the Queues extension's default
	if h.Extensions.Queues.MaxDequeueCount != nil {
		want = *h.Extensions.Queues.MaxDequeueCount
	}
	if s, ok := byName["MAX_DEQUEUE_COUNT"]; ok {
		if v, lit := literal(s.Value); !lit || v != strconv.Itoa(want) {
			problems = append(problems, Problem{s.File.Name, s.Line, fmt.Sprintf("app setting MAX_DEQUEUE_COUNT must be '%d', host.json extensions.queues.maxDequeueCount", want)})
		}
	}
	if s, ok := byName["INVOCATION_TIMEOUT"]; ok {
		v, lit := literal(s.Value)
		d, err := time.ParseDuration(v)
		limit, ok := parseTimeSpan(h.FunctionTimeout)
		if !lit || err != nil || (ok && d >= limit) {
			problems = append(problems, Problem{s.File.Name, s.Line, fmt.Sprintf("app setting INVOCATION_TIMEOUT must be a literal duration below host.json functionTimeout %s", h.FunctionTimeout)})
		}
	}
	return problems
}

// parseTimeSpan reads a .NET TimeSpan "hh:mm:ss".
func parseTimeSpan(s string) (time.Duration, bool) {
	var h, m, sec int
	if _, err := fmt.Sscanf(s, "%d:%d:%d", &h, &m, &sec); err != nil {
		return 0, false
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second, true
}
