// Package appfolder lays out the function app folder the Azure Functions host
// runs: host.json, the custom handler built for one GOOS/GOARCH, one
// <function>/function.json per function and, for `func start` on a developer's
// machine, a local.settings.json pointing at Azurite.
//
// The host starts the handler named by host.json's
// customHandler.description.defaultExecutablePath, relative to the app folder;
// on Windows that is handler.exe (Microsoft docs, "Azure Functions custom
// handlers": "defaultExecutablePath": "handler.exe" in the Windows quickstart).
// `make package` lays out the linux/amd64 folder for Azure in dist/; `make app`
// (cmd/funcapp) the folder for the developer's own OS and architecture. The
// package builds on every OS Core Tools runs on (no Linux-only process control).
package appfolder

import (
	"context"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Options configure Layout.
type Options struct {
	Src    string // repository root: host.json, local.settings.sample.json, functions/*/function.json
	Out    string // the app folder; replaced
	GOOS   string
	GOARCH string
	// Handler is a handler binary already built for GOOS/GOARCH that is copied;
	// "" builds ./handler with `go build` (CGO_ENABLED=0, -trimpath).
	Handler string
	// Local adds local.settings.json for func start: the sample's values with
	// Azurite's default endpoints and the Event Hubs trigger disabled. An
	// existing local.settings.json in Out is kept as it is.
	Local bool
}

// HandlerName is the handler's file name for goos.
func HandlerName(goos string) string {
	if goos == "windows" {
		return "handler.exe"
	}
	return "handler"
}

// IngestDisabled is the app setting local.settings.json sets so that func start
// runs without an Event Hubs namespace ("AzureWebJobs.<function>.Disabled",
// Microsoft docs, "How to disable functions in Azure Functions").
const IngestDisabled = "AzureWebJobs.ingest.Disabled"

// Layout writes the app folder o.Out and returns the names of the functions in it.
func Layout(ctx context.Context, o Options) ([]string, error) {
	if o.GOOS == "" || o.GOARCH == "" {
		return nil, errors.New("app folder: GOOS and GOARCH are required")
	}
	fns, err := filepath.Glob(filepath.Join(o.Src, "functions", "*", "function.json"))
	if err != nil || len(fns) == 0 {
		return nil, fmt.Errorf("app folder: no functions/*/function.json under %q", o.Src)
	}
	host, err := HostJSON(filepath.Join(o.Src, "host.json"), HandlerName(o.GOOS))
	if err != nil {
		return nil, err
	}
	if err := replaceable(o.Src, o.Out); err != nil {
		return nil, err
	}
	// A local.settings.json the developer already has (with their own settings)
	// is kept; everything else is laid out anew.
	kept, err := os.ReadFile(filepath.Join(o.Out, "local.settings.json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("app folder: %w", err)
	}
	if err := os.RemoveAll(o.Out); err != nil {
		return nil, fmt.Errorf("app folder: %w", err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("app folder: %w", err)
	}
	// local.settings.json first: the developer's edited one must survive a
	// layout that fails further on (a handler that does not compile).
	sample := filepath.Join(o.Src, "local.settings.sample.json")
	if o.Local {
		ls := kept
		if ls == nil {
			if ls, err = LocalSettings(sample); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(filepath.Join(o.Out, "local.settings.json"), ls, 0o644); err != nil {
			return nil, fmt.Errorf("app folder: %w", err)
		}
	}
	bin := filepath.Join(o.Out, HandlerName(o.GOOS))
	if o.Handler == "" {
		if err := Build(ctx, o.Src, o.GOOS, o.GOARCH, bin); err != nil {
			return nil, err
		}
	} else if err := copyFile(o.Handler, bin, 0o755); err != nil {
		return nil, fmt.Errorf("app folder: handler: %w", err)
	}
	if err := CheckBinary(bin, o.GOOS, o.GOARCH); err != nil {
		return nil, fmt.Errorf("app folder: %w", err)
	}
	if err := os.WriteFile(filepath.Join(o.Out, "host.json"), host, 0o644); err != nil {
		return nil, fmt.Errorf("app folder: %w", err)
	}
	if err := copyFile(sample, filepath.Join(o.Out, "local.settings.sample.json"), 0o644); err != nil {
		return nil, fmt.Errorf("app folder: %w", err)
	}
	var names []string
	for _, f := range fns {
		name := filepath.Base(filepath.Dir(f))
		if !functionName.MatchString(name) {
			return nil, fmt.Errorf("app folder: bad function name %q", name)
		}
		if err := os.MkdirAll(filepath.Join(o.Out, name), 0o755); err != nil {
			return nil, fmt.Errorf("app folder: %w", err)
		}
		if err := copyFile(f, filepath.Join(o.Out, name, "function.json"), 0o644); err != nil {
			return nil, fmt.Errorf("app folder: %w", err)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// functionName is the host's rule for a function name (the folder name).
// replaceable refuses an out folder that Layout must not remove: one that
// holds the repository src (-out . or -out ..), or an existing folder with
// entries but no host.json, which is no app folder.
func replaceable(src, out string) error {
	as, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("app folder: %w", err)
	}
	ao, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("app folder: %w", err)
	}
	if rel, err := filepath.Rel(ao, as); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("app folder: %s holds the repository %s: not replaced", out, src)
	}
	entries, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("app folder: %w", err)
	}
	if len(entries) > 0 {
		if _, err := os.Stat(filepath.Join(out, "host.json")); err != nil {
			return fmt.Errorf("app folder: %s is not an app folder (no host.json): not replaced", out)
		}
	}
	return nil
}

var functionName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,127}$`)

// Build builds the handler of the repository at src for goos/goarch into out,
// with the flags `make build` uses.
func Build(ctx context.Context, src, goos, goarch, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", abs, "./handler")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build handler for %s/%s: %w\n%s", goos, goarch, err, b)
	}
	return nil
}

var execPath = regexp.MustCompile(`("defaultExecutablePath"\s*:\s*)"[^"]*"`)

// HostJSON returns the repository's host.json with defaultExecutablePath set to
// handler; everything else is kept byte for byte.
func HostJSON(path, handler string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("host.json: %w", err)
	}
	if n := len(execPath.FindAllIndex(b, -1)); n != 1 {
		return nil, fmt.Errorf("host.json: want one customHandler.description.defaultExecutablePath, found %d", n)
	}
	q, _ := json.Marshal(handler)
	b = execPath.ReplaceAll(b, append([]byte("${1}"), q...))
	got, err := ExecutablePath(b)
	if err != nil {
		return nil, err
	}
	if got != handler {
		return nil, fmt.Errorf("host.json: customHandler.description.defaultExecutablePath is %q, want %q", got, handler)
	}
	return b, nil
}

// ExecutablePath returns customHandler.description.defaultExecutablePath of
// the host.json document b ("" when it has none): the one reader of it, for
// the app folder and the app zip.
func ExecutablePath(b []byte) (string, error) {
	var h struct {
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
		} `json:"customHandler"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return "", fmt.Errorf("host.json: %w", err)
	}
	return h.CustomHandler.Description.DefaultExecutablePath, nil
}

// azuriteEndpoints are the parts of the sample's AzureWebJobsStorage that point
// at an Azurite started with its default ports (what func start expects).
var azuriteEndpoints = []string{
	"AccountName=devstoreaccount1;",
	"BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
	"QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;",
	"TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;",
}

// LocalSettings returns local.settings.json for func start: the sample's values
// (whose AzureWebJobsStorage must be Azurite's full connection string on its
// default ports: the Go SDKs refuse UseDevelopmentStorage=true) with the Event
// Hubs-triggered ingest function disabled (set EventHubConnection and remove
// the setting to run it).
func LocalSettings(samplePath string) ([]byte, error) {
	b, err := os.ReadFile(samplePath)
	if err != nil {
		return nil, fmt.Errorf("local settings: %w", err)
	}
	var ls map[string]any
	if err := json.Unmarshal(b, &ls); err != nil {
		return nil, fmt.Errorf("local settings: %s: %w", samplePath, err)
	}
	values, ok := ls["Values"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("local settings: %s has no Values object", samplePath)
	}
	storage, _ := values["AzureWebJobsStorage"].(string)
	for _, want := range azuriteEndpoints {
		if !strings.Contains(storage, want) {
			return nil, fmt.Errorf("local settings: %s: AzureWebJobsStorage lacks Azurite's %q", samplePath, want)
		}
	}
	values[IngestDisabled] = "true"
	out, err := json.MarshalIndent(ls, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("local settings: %w", err)
	}
	return append(out, '\n'), nil
}

// CheckBinary reports whether the file at path is an executable for goos/goarch.
func CheckBinary(path, goos, goarch string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	got, err := binaryTarget(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if want := goos + "/" + goarch; got != want {
		return fmt.Errorf("%s is a %s executable, want %s", path, got, want)
	}
	return nil
}

// binaryTarget names the OS/architecture of an ELF, Mach-O or PE executable.
func binaryTarget(r io.ReaderAt) (string, error) {
	if f, err := elf.NewFile(r); err == nil {
		arch := map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64", elf.EM_386: "386"}[f.Machine]
		if arch == "" {
			return "", fmt.Errorf("ELF machine %v", f.Machine)
		}
		if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
			return "", fmt.Errorf("ELF OS ABI %v", f.OSABI)
		}
		return "linux/" + arch, nil
	}
	if f, err := macho.NewFile(r); err == nil {
		arch := map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
		if arch == "" {
			return "", fmt.Errorf("Mach-O CPU %v", f.Cpu)
		}
		return "darwin/" + arch, nil
	}
	if f, err := pe.NewFile(r); err == nil {
		arch := map[uint16]string{pe.IMAGE_FILE_MACHINE_AMD64: "amd64", pe.IMAGE_FILE_MACHINE_ARM64: "arm64", pe.IMAGE_FILE_MACHINE_I386: "386"}[f.Machine]
		if arch == "" {
			return "", fmt.Errorf("PE machine %#x", f.Machine)
		}
		return "windows/" + arch, nil
	}
	return "", errors.New("not an ELF, Mach-O or PE executable")
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}
