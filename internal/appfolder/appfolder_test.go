package appfolder

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const repo = "../.."

var allPlatforms = flag.Bool("all-platforms", false, "TestLayoutBuildsHandler: cross-compile the real handler for every platform, not only this computer's")

// platforms are the OS/architecture pairs a developer runs func start on, and
// linux/amd64, Azure's.
var platforms = []struct{ goos, goarch string }{
	{"darwin", "arm64"}, {"darwin", "amd64"}, {"windows", "amd64"}, {"linux", "amd64"}, {"linux", "arm64"},
}

// The app folder for each platform: the handler is an executable for that pair
// under the name host.json gives, every function has its function.json, and
// local.settings.json points at Azurite. The handler here is testdata/tiny,
// cross-compiled for the pair (seconds, where the real handler's dependencies
// take minutes per platform to compile cold: TestLayoutBuildsHandler builds that).
func TestLayoutPerPlatform(t *testing.T) {
	for _, p := range platforms {
		t.Run(p.goos+"-"+p.goarch, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "tiny")
			cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./testdata/tiny")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.goos, "GOARCH="+p.goarch)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("cross-compile testdata/tiny: %v\n%s", err, out)
			}
			out := filepath.Join(t.TempDir(), "app")
			fns, err := Layout(t.Context(), Options{Src: repo, Out: out, GOOS: p.goos, GOARCH: p.goarch, Handler: bin, Local: true})
			if err != nil {
				t.Fatal(err)
			}
			checkLayout(t, out, p.goos, p.goarch, fns)
		})
	}
}

// Layout builds the real handler for the platform (go build, CGO_ENABLED=0): for
// this computer's pair always; for the others with -all-platforms, because each
// compiles every dependency for that platform (measured cold on an AMD EPYC with
// 2 vCPUs shared with other builds: 2-7 minutes per platform).
func TestLayoutBuildsHandler(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the handler")
	}
	for _, p := range platforms {
		t.Run(p.goos+"-"+p.goarch, func(t *testing.T) {
			if !*allPlatforms && (p.goos != runtime.GOOS || p.goarch != runtime.GOARCH) {
				t.Skipf("cross-compiling the handler for %s/%s takes minutes cold: go test ./internal/appfolder -run TestLayoutBuildsHandler -all-platforms", p.goos, p.goarch)
			}
			out := filepath.Join(t.TempDir(), "app")
			fns, err := Layout(t.Context(), Options{Src: repo, Out: out, GOOS: p.goos, GOARCH: p.goarch, Local: true})
			if err != nil {
				t.Fatal(err)
			}
			checkLayout(t, out, p.goos, p.goarch, fns)
		})
	}
}

func checkLayout(t *testing.T, out, goos, goarch string, fns []string) {
	t.Helper()
	want, _ := filepath.Glob(filepath.Join(repo, "functions", "*", "function.json"))
	if len(fns) != len(want) || len(fns) == 0 {
		t.Errorf("functions %v, want the %d of functions/", fns, len(want))
	}
	for _, fn := range fns {
		got, err := os.ReadFile(filepath.Join(out, fn, "function.json"))
		src, _ := os.ReadFile(filepath.Join(repo, "functions", fn, "function.json"))
		if err != nil || string(got) != string(src) {
			t.Errorf("%s/function.json differs from functions/%s/function.json (err %v)", fn, fn, err)
		}
	}
	var host struct {
		CustomHandler struct {
			Description struct{ DefaultExecutablePath string }
		}
	}
	readJSON(t, filepath.Join(out, "host.json"), &host)
	exe := host.CustomHandler.Description.DefaultExecutablePath
	if wantExe := map[bool]string{true: "handler.exe", false: "handler"}[goos == "windows"]; exe != wantExe {
		t.Errorf("host.json defaultExecutablePath %q, want %q", exe, wantExe)
	}
	if err := CheckBinary(filepath.Join(out, exe), goos, goarch); err != nil {
		t.Error(err)
	}
	if fi, err := os.Stat(filepath.Join(out, exe)); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("%s is not an executable file (%v)", exe, err)
	}
	var sample, local struct{ Values map[string]string }
	readJSON(t, filepath.Join(repo, "local.settings.sample.json"), &sample)
	readJSON(t, filepath.Join(out, "local.settings.json"), &local)
	for k, v := range sample.Values {
		if local.Values[k] != v {
			t.Errorf("local.settings.json %s = %q, want the sample's %q", k, local.Values[k], v)
		}
	}
	for _, s := range azuriteEndpoints {
		if !strings.Contains(local.Values["AzureWebJobsStorage"], s) {
			t.Errorf("local.settings.json AzureWebJobsStorage %q lacks %q", local.Values["AzureWebJobsStorage"], s)
		}
	}
	if local.Values[IngestDisabled] != "true" {
		t.Errorf("local.settings.json %s = %q, want true", IngestDisabled, local.Values[IngestDisabled])
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// A prebuilt handler is copied only when it is an executable for the target:
// `make app` copies bin/handler, and a binary of another OS or architecture is
// refused. A local.settings.json the developer edited survives a new layout.
func TestLayoutPrebuiltHandler(t *testing.T) {
	exe, err := os.Executable() // the test binary: an executable of this computer's OS/arch
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "app")
	fns, err := Layout(t.Context(), Options{Src: repo, Out: out, GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Handler: exe, Local: true})
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, out, runtime.GOOS, runtime.GOARCH, fns)

	edited := []byte(`{"IsEncrypted": false, "Values": {"EventHubConnection": "mine"}}`)
	if err := os.WriteFile(filepath.Join(out, "local.settings.json"), edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Layout(t.Context(), Options{Src: repo, Out: out, GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Handler: exe, Local: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "local.settings.json")); string(got) != string(edited) {
		t.Errorf("local.settings.json after a new layout = %s, want the edited one kept", got)
	}
	// A layout that fails (here the handler is missing; a compile error in
	// make app is the same) must not lose it either.
	if _, err := Layout(t.Context(), Options{Src: repo, Out: out, GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Handler: filepath.Join(t.TempDir(), "none"), Local: true}); err == nil {
		t.Fatal("layout with a missing handler succeeded")
	}
	if got, _ := os.ReadFile(filepath.Join(out, "local.settings.json")); string(got) != string(edited) {
		t.Errorf("local.settings.json after a failed layout = %q, want the edited one kept", got)
	}

	other := map[string]string{"windows": "linux", "linux": "windows", "darwin": "linux"}[runtime.GOOS]
	_, err = Layout(t.Context(), Options{Src: repo, Out: filepath.Join(t.TempDir(), "app"), GOOS: other, GOARCH: runtime.GOARCH, Handler: exe})
	if err == nil || !strings.Contains(err.Error(), "want "+other+"/"+runtime.GOARCH) {
		t.Errorf("layout for %s with a %s handler: err %v, want a refusal naming %s/%s", other, runtime.GOOS, err, other, runtime.GOARCH)
	}
}

// Layout replaces o.Out: a folder that is no app folder, or one holding the
// repository, is refused and left as it is. (The repository here is a copy in
// a temporary folder: a Layout that does replace such a folder removes it.)
func TestLayoutRefusesOtherFolders(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	src := filepath.Join(parent, "repo")
	for _, f := range []string{"host.json", "local.settings.sample.json", filepath.Join("functions", "ingest", "function.json")} {
		b, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	notApp := t.TempDir()
	precious := filepath.Join(notApp, "notes.txt")
	if err := os.WriteFile(precious, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{notApp, src, parent} {
		_, err := Layout(t.Context(), Options{Src: src, Out: out, GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Handler: exe, Local: true})
		if err == nil || !strings.Contains(err.Error(), "not replaced") {
			t.Errorf("layout into %s: err %v, want a refusal", out, err)
		}
	}
	for _, f := range []string{precious, filepath.Join(src, "host.json")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("after the refused layouts: %v", err)
		}
	}
	if _, err := Layout(t.Context(), Options{Src: src, Out: filepath.Join(parent, "app"), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Handler: exe}); err != nil {
		t.Errorf("layout into a new folder beside the repository: %v", err)
	}
}

func TestHostJSON(t *testing.T) {
	tests := []struct {
		name, in, handler, want, err string
	}{
		{name: "windows", in: `{"customHandler": {"description": {"defaultExecutablePath": "handler", "arguments": []}}}`,
			handler: "handler.exe", want: `{"customHandler": {"description": {"defaultExecutablePath": "handler.exe", "arguments": []}}}`},
		{name: "unchanged", in: `{"customHandler":{"description":{"defaultExecutablePath":"handler"}}}`,
			handler: "handler", want: `{"customHandler":{"description":{"defaultExecutablePath":"handler"}}}`},
		{name: "missing", in: `{"version": "2.0"}`, handler: "handler", err: "found 0"},
		{name: "outside customHandler", in: `{"x": {"defaultExecutablePath": "handler"}}`, handler: "handler", err: `is ""`},
		{name: "not JSON", in: `{"defaultExecutablePath": "handler",`, handler: "handler", err: "host.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "host.json")
			if err := os.WriteFile(p, []byte(tt.in), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := HostJSON(p, tt.handler)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// TestExecutablePath: the one reader of defaultExecutablePath (the app
// folder checks it after rewriting, the app zip reads it to find the handler).
func TestExecutablePath(t *testing.T) {
	for _, tt := range []struct{ name, in, want, err string }{
		{name: "set", in: `{"customHandler":{"description":{"defaultExecutablePath":"bin/handler"}}}`, want: "bin/handler"},
		{name: "missing", in: `{"version":"2.0"}`, want: ""},
		{name: "outside customHandler", in: `{"x":{"defaultExecutablePath":"handler"}}`, want: ""},
		{name: "not JSON", in: `{"customHandler":`, err: "host.json: unexpected end of JSON input"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExecutablePath([]byte(tt.in))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestCheckBinaryRefusesOtherFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "handler")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckBinary(p, "linux", "amd64"); err == nil || !strings.Contains(err.Error(), "not an ELF, Mach-O or PE") {
		t.Errorf("CheckBinary(shell script) = %v, want a refusal", err)
	}
}
