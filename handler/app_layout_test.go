package main

import (
	"encoding/json"
	"fmt"
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
	fnIngest: {"events"}, fnTimerFanout: {"timer"}, fnScoreSensor: {"job"}, fnScorePoison: {"job"},
	fnBackfill: {"req", httpOut}, fnRunStatus: {"req", httpOut},
}

// wantRetry is each function's retry policy as "strategy maxRetryCount".
var wantRetry = map[string]string{fnIngest: "exponentialBackoff -1", fnTimerFanout: "fixedDelay 3"}

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
			Retry *struct {
				Strategy      string
				MaxRetryCount int
			}
		}
		if err := json.Unmarshal(b, &fj); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// The retry policies docs/host.md explains: Event Hubs retries until
		// the batch lands (else the checkpoint skips it), the timer a few
		// times; queue and HTTP triggers have none (the queue redelivers).
		var gotRetry string
		if fj.Retry != nil {
			gotRetry = fmt.Sprintf("%s %d", fj.Retry.Strategy, fj.Retry.MaxRetryCount)
		}
		if want := wantRetry[name]; gotRetry != want {
			t.Errorf("%s: retry policy %q, want %q", f, gotRetry, want)
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

// TestHostJSON checks the host.json choices the code depends on.
func TestHostJSON(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "host.json"))
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Version       string
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string
			}
			EnableForwardingHttpRequest bool
		}
		ExtensionBundle struct{ ID, Version string }
		FunctionTimeout string
		Logging         struct {
			ApplicationInsights struct {
				SamplingSettings struct{ ExcludedTypes string }
			}
		}
		Extensions struct {
			Queues struct{ MessageEncoding string }
		}
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("host.json: %v", err)
	}
	for _, c := range []struct{ what, got, want string }{
		{"version", h.Version, "2.0"},
		// make package writes dist/handler.
		{"customHandler.description.defaultExecutablePath", h.CustomHandler.Description.DefaultExecutablePath, "handler"},
		{"extensionBundle.id", h.ExtensionBundle.ID, "Microsoft.Azure.Functions.ExtensionBundle"},
		{"extensionBundle.version", h.ExtensionBundle.Version, "[4.*, 5.0.0)"},
		// internal/storage writes base64 bodies (storage.Encode).
		{"extensions.queues.messageEncoding", h.Extensions.Queues.MessageEncoding, "base64"},
	} {
		if c.got != c.want {
			t.Errorf("host.json %s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if h.CustomHandler.EnableForwardingHttpRequest {
		t.Error("enableForwardingHttpRequest is true; the HTTP functions decode the wrapped request")
	}
	if !slices.Contains(strings.Split(h.Logging.ApplicationInsights.SamplingSettings.ExcludedTypes, ";"), "Request") {
		t.Error("App Insights sampling may drop invocations: excludedTypes lacks Request")
	}
	if d, ok := parseTimeSpan(h.FunctionTimeout); !ok || d <= 0 {
		t.Errorf("functionTimeout %q is not a positive hh:mm:ss", h.FunctionTimeout)
	}
}
