// Package appzip builds the zip package Azure Functions runs from
// (WEBSITE_RUN_FROM_PACKAGE: a blob URL, as `make deploy` sets it, or 1 after a
// zip deploy) out of the app folder `make package` lays out: host.json, the custom handler executable named by host.json's
// customHandler.description.defaultExecutablePath, and one <function>/function.json
// per function at the top level.
//
// The package holds those files and nothing else: local.settings*.json (local
// secrets and Azurite keys), SQLite databases and anything else lying in the
// folder are left out and listed in the Report. The executable's mode is
// stored as 0755 in the Unix external attributes with the creator set to Unix:
// on Linux App Service and Elastic Premium plans the host does not set the
// executable bit itself, so a package whose handler lost it fails to start
// with "permission denied" (Azure/azure-functions-core-tools#2510; Core Tools
// marks the customHandler executable when it publishes, #2521).
//
// The output is deterministic: entries sorted by name, a fixed modification
// time, Deflate, so the same folder gives the same bytes.
package appzip

import (
	"archive/zip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/batchscore/batchscore/internal/appfolder"
)

// ModTime is the modification time of every entry, so that a package depends
// only on the files' contents.
var ModTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// functionName is the host's rule for a function (folder) name, "host"
// excepted (azure-functions-host Utility.FunctionNameValidationRegex,
// case-insensitive).
var functionName = regexp.MustCompile(`(?i)^[a-z][a-z0-9_\-]{0,127}$`)

// Entry is one file of the package.
type Entry struct {
	Name string      // slash-separated path in the zip
	Mode os.FileMode // mode stored in the Unix external attributes
	Size int64       // uncompressed bytes
}

// Report is what Write put in the package and what it left out.
type Report struct {
	Entries    []Entry  // in zip order (sorted by name)
	Executable string   // the handler's name in the zip
	LeftOut    []string // slash-separated paths in the app folder not packaged, sorted
}

// Write writes the package of the app folder dir to w.
func Write(w io.Writer, dir string) (Report, error) {
	var rep Report
	exe, err := executablePath(dir)
	if err != nil {
		return rep, err
	}
	rep.Executable = exe
	if err := checkExecutable(filepath.Join(dir, filepath.FromSlash(exe))); err != nil {
		return rep, err
	}
	files := map[string]os.FileMode{"host.json": 0o644, exe: 0o755}

	// Every top-level folder with a function.json is a function (the host
	// enumerates the app root's directories: HostFunctionMetadataProvider).
	top, err := os.ReadDir(dir)
	if err != nil {
		return rep, fmt.Errorf("appzip: %w", err)
	}
	var functions int
	for _, e := range top {
		if !e.IsDir() {
			continue
		}
		fj := path.Join(e.Name(), "function.json")
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "function.json")); err != nil {
			continue
		}
		if !functionName.MatchString(e.Name()) || strings.EqualFold(e.Name(), "host") {
			return rep, fmt.Errorf("appzip: function folder %q breaks the host's name rule %s", e.Name(), functionName)
		}
		files[fj] = 0o644
		functions++
	}
	if functions == 0 {
		return rep, fmt.Errorf("appzip: %s has no <function>/function.json: run `make package`", dir)
	}

	// Everything else in the folder is left out, and said so.
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." || d.IsDir() {
			return err
		}
		if _, ok := files[filepath.ToSlash(rel)]; !ok {
			rep.LeftOut = append(rep.LeftOut, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("appzip: %w", err)
	}
	slices.Sort(rep.LeftOut)

	// Folders get entries of their own (0755), so an unzip that creates them
	// from the entry does not fall back to a mode of its choosing.
	for name := range files {
		if d := path.Dir(name); d != "." {
			files[d+"/"] = os.ModeDir | 0o755
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)

	zw := zip.NewWriter(w)
	for _, name := range names {
		mode := files[name]
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: ModTime}
		if mode.IsDir() {
			h.Method = zip.Store
		}
		h.SetMode(mode) // creator Unix, mode in the high 16 bits of the external attributes
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return rep, fmt.Errorf("appzip: %s: %w", name, err)
		}
		var n int64
		if !mode.IsDir() {
			if n, err = copyFile(fw, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
				return rep, fmt.Errorf("appzip: %s: %w", name, err)
			}
		}
		rep.Entries = append(rep.Entries, Entry{Name: name, Mode: mode, Size: n})
	}
	if err := zw.Close(); err != nil {
		return rep, fmt.Errorf("appzip: %w", err)
	}
	return rep, nil
}

// WriteFile writes the package of dir to the file out, replacing it only
// once the whole package is written.
func WriteFile(out, dir string) (Report, error) {
	f, err := os.CreateTemp(filepath.Dir(out), ".appzip-*")
	if err != nil {
		return Report{}, fmt.Errorf("appzip: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	rep, err := Write(f, dir)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("appzip: %w", cerr)
	}
	if err != nil {
		return rep, err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return rep, fmt.Errorf("appzip: %w", err)
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return rep, fmt.Errorf("appzip: %w", err)
	}
	return rep, nil
}

// executablePath reads host.json's customHandler.description.defaultExecutablePath:
// a relative path inside the app folder.
func executablePath(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "host.json"))
	if err != nil {
		return "", fmt.Errorf("appzip: %w: run `make package`", err)
	}
	p, err := appfolder.ExecutablePath(b)
	if err != nil {
		return "", fmt.Errorf("appzip: %w", err)
	}
	switch clean := path.Clean(filepath.ToSlash(p)); {
	case p == "":
		return "", errors.New("appzip: host.json has no customHandler.description.defaultExecutablePath")
	case path.IsAbs(clean) || filepath.IsAbs(p) || clean == ".." || strings.HasPrefix(clean, "../"):
		return "", fmt.Errorf("appzip: host.json defaultExecutablePath %q is not a path inside the app folder", p)
	default:
		return clean, nil
	}
}

// checkExecutable makes sure the handler is a Linux x86-64 executable, the
// only kind a Linux Elastic Premium instance runs.
func checkExecutable(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("appzip: handler: %w: run `make package`", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("appzip: handler %s is not a regular file", p)
	}
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("appzip: handler %s is not a Linux executable (%v): build it with GOOS=linux GOARCH=amd64 (make package)", p, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 || (f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN) {
		return fmt.Errorf("appzip: handler %s is a %s %s %s file, want an x86-64 executable: build it with GOOS=linux GOARCH=amd64 (make package)", p, f.Class, f.Machine, f.Type)
	}
	return nil
}

func copyFile(w io.Writer, p string) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(w, f)
}
