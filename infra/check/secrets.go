package main

import (
	"fmt"
	"regexp"
	"strings"
)

// secretText matches text that is, holds or fetches a credential: storage and Event Hubs connection
// strings, account and SAS keys, SAS tokens, passwords, and the ARM list* functions that return keys.
var secretText = regexp.MustCompile(`(?i)(accountkey\s*=|sharedaccesskey|sharedaccesssignature|[?&;]sig=|password|pwd\s*=|defaultendpointsprotocol\s*=|endpoint\s*=\s*sb://|\blist(keys|connectionstrings|secrets|accountsas|servicesas)\s*\(|primarykey|secondarykey|primaryconnectionstring|secondaryconnectionstring|connectionstring)`)

// secretName matches a property or parameter name that holds a credential.
var secretName = regexp.MustCompile(`(?i)(password|secret|connectionstring|accountkey|sharedaccesskey|sastoken)`)

// appInsightsConnection is the one connection string allowed in an app setting: Application Insights'
// (an instrumentation key, which identifies the component, and its endpoints), and only when the
// component takes Entra-authenticated telemetry alone (DisableLocalAuth) and the app authenticates
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING with Authorization=AAD).
var appInsightsConnection = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\.properties\.ConnectionString$`)

// checkSecrets looks for credentials in app settings, parameter defaults, outputs, parameter files
// and resource properties.
func checkSecrets(files []*File) []Problem {
	var problems []Problem
	add := func(f *File, line int, format string, a ...any) {
		problems = append(problems, Problem{f.Name, line, fmt.Sprintf(format, a...)})
	}

	components := map[string]*Resource{} // symbol -> App Insights component (declared or existing)
	localAuthOff := true
	for _, r := range resources(files) {
		if r.Type == "Microsoft.Insights/components" {
			components[r.Symbol] = r
			if !r.Existing {
				for _, b := range r.Bodies {
					if v := prop(prop(b, "properties"), "DisableLocalAuth"); v == nil || v.T != "boolean" || v.X != "true" {
						localAuthOff = false
						add(r.File, r.Node.R, "Application Insights %s: set properties.DisableLocalAuth to true (telemetry only with Entra ID)", r.Symbol)
					}
				}
			}
		}
		for _, b := range r.Bodies {
			b.walk(func(n *Node) {
				if n.T != "object_property" {
					return
				}
				if k, ok := key(n); ok && secretName.MatchString(k) {
					add(r.File, n.R, "resource %s: property %s holds a credential", r.Symbol, k)
				}
			})
		}
	}

	apps, settings, _ := functionApps(files)
	for _, app := range apps {
		aad := false
		for _, s := range settings[app] {
			if s.Name == "APPLICATIONINSIGHTS_AUTHENTICATION_STRING" && strings.Contains(s.File.Text(s.Value), "Authorization=AAD") {
				aad = true
			}
		}
		for _, s := range settings[app] {
			text := s.File.Text(s.Value)
			if m := appInsightsConnection.FindStringSubmatch(strings.TrimSpace(text)); m != nil && components[m[1]] != nil && s.Name == "APPLICATIONINSIGHTS_CONNECTION_STRING" {
				if !aad || !localAuthOff {
					add(s.File, s.Line, "app setting %s: an Application Insights connection string is allowed only with APPLICATIONINSIGHTS_AUTHENTICATION_STRING (Authorization=AAD) and DisableLocalAuth on the component", s.Name)
				}
				continue
			}
			if secretText.MatchString(text) || secretName.MatchString(s.Name) {
				add(s.File, s.Line, "app setting %s holds a key, SAS, password or connection string: %s", s.Name, short(text))
			}
		}
	}

	for _, f := range files {
		for _, p := range decls(f, "parameter_declaration") {
			pi := paramsOf(f)[p.Name]
			if pi.def == nil {
				continue
			}
			switch {
			case pi.secure:
				add(f, p.Node.R, "parameter %s is @secure() and has a default: a secret in the template", p.Name)
			case secretName.MatchString(p.Name), secretText.MatchString(f.Text(pi.def)):
				add(f, p.Node.R, "parameter %s: its default is a key, SAS, password or connection string: %s", p.Name, short(f.Text(pi.def)))
			}
		}
		for _, o := range decls(f, "output_declaration") {
			k := o.Node.kids()
			if secretName.MatchString(o.Name) || secretText.MatchString(f.Text(k[len(k)-1])) {
				add(f, o.Node.R, "output %s is a key, SAS, password or connection string (outputs are kept in the deployment history)", o.Name)
			}
		}
		if strings.HasSuffix(f.Path, ".bicepparam") {
			for _, v := range decls(f, "variable_declaration") {
				k := v.Node.kids()
				if secretName.MatchString(v.Name) || secretText.MatchString(f.Text(k[len(k)-1])) {
					add(f, v.Node.R, "parameter %s: its value is a key, SAS, password or connection string", v.Name)
				}
			}
		}
	}
	return problems
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
