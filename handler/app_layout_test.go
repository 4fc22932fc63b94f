package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The host's name rules (HostFunctionMetadataProvider, binding validation).
var (
	functionNameRule = regexp.MustCompile(`^[a-z][a-z0-9_\-]{0,127}$`)
	bindingNameRule  = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9]{0,127}|\$return)$`)
	settingRef       = regexp.MustCompile(`%([^%]+)%`)
)

// triggerBindings are the binding names routes.go decodes, by function.
var triggerBindings = map[string][]string{
	fnIngest: {"events"}, fnTimerFanout: {"timer"}, fnScoreSensor: {"job"},
	fnBackfill: {"req", httpOut}, fnRunStatus: {"req", httpOut},
}

func readSampleSettings(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "local.settings.sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ls struct {
		IsEncrypted bool
		Values      map[string]string
	}
	if err := json.Unmarshal(b, &ls); err != nil {
		t.Fatalf("local.settings.sample.json: %v", err)
	}
	return ls.Values
}

// TestSampleSettings: local.settings.sample.json holds every setting the
// handler reads and every %SETTING% a function.json refers to, and its values
// pass the handler's validation together with the repository's host.json.
func TestSampleSettings(t *testing.T) {
	values := readSampleSettings(t)
	if got := values["FUNCTIONS_WORKER_RUNTIME"]; got != "custom" {
		t.Errorf("FUNCTIONS_WORKER_RUNTIME = %q, want custom", got)
	}
	st := reflect.TypeFor[spec]()
	for i := range st.NumField() {
		key := st.Field(i).Tag.Get("envconfig")
		if _, ok := values[key]; !ok {
			t.Errorf("local.settings.sample.json has no %s (handler/config.go reads it)", key)
		}
		if !slices.Contains(ourSettings, key) {
			t.Errorf("config_test.go ourSettings lacks %s", key)
		}
	}
	if _, ok := values["AzureWebJobsStorage"]; !ok {
		t.Error("local.settings.sample.json has no AzureWebJobsStorage")
	}
	files, err := filepath.Glob(filepath.Join("..", "functions", "*", "function.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no function.json files: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range settingRef.FindAllSubmatch(b, -1) {
			if _, ok := values[string(m[1])]; !ok {
				t.Errorf("%s refers to %%%s%%, which local.settings.sample.json does not set", f, m[1])
			}
		}
	}

	env := map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "7071", "FUNCTIONS_APP_ROOT_PATH": ".."}
	for k, v := range values {
		env[k] = v
	}
	setEnv(t, env)
	if _, err := loadConfig(os.Getenv); err != nil {
		t.Errorf("the sample settings with the repository's host.json do not load:\n%v", err)
	}
}

// TestFunctionFolders: the function folders are exactly the routes, their
// names and binding names follow the host's rules, and each function.json
// declares the trigger (and output) bindings the handler decodes.
func TestFunctionFolders(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "functions", "*", "function.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range dirs {
		name := filepath.Base(filepath.Dir(f))
		names = append(names, name)
		if !functionNameRule.MatchString(name) {
			t.Errorf("function name %q breaks the host rule %s", name, functionNameRule)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var fj struct {
			Bindings []struct {
				Name, Type, Direction string
			}
		}
		if err := json.Unmarshal(b, &fj); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var triggers int
		var got []string
		for _, bd := range fj.Bindings {
			got = append(got, bd.Name)
			if !bindingNameRule.MatchString(bd.Name) {
				t.Errorf("%s: binding name %q breaks the host rule %s", f, bd.Name, bindingNameRule)
			}
			if strings.HasSuffix(bd.Type, "Trigger") {
				triggers++
			}
		}
		if triggers != 1 {
			t.Errorf("%s: %d trigger bindings, want 1", f, triggers)
		}
		for _, want := range triggerBindings[name] {
			if !slices.Contains(got, want) {
				t.Errorf("%s: no binding %q, which handler/routes.go decodes", f, want)
			}
		}
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(functionNames))
	if !slices.Equal(names, want) {
		t.Errorf("function folders %q, routes %q", names, want)
	}
}
