package appzip

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// elfHeader returns the 64-byte header of an ELF file of the given class,
// machine and type: enough for debug/elf, which is all Write reads of it.
func elfHeader(t *testing.T, machine elf.Machine, typ elf.Type) []byte {
	t.Helper()
	h := elf.Header64{Type: uint16(typ), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT), Ehsize: 64, Phentsize: 56, Shentsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type file struct {
	data string
	mode os.FileMode
}

// writeApp lays files out under a new folder; a mode of 0 means 0644.
func writeApp(t *testing.T, files map[string]file) string {
	t.Helper()
	dir := t.TempDir()
	for name, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(p, []byte(f.data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	return dir
}

const hostJSON = `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"}}}`

// readZip opens a package and returns its entries (name, mode, size) and
// contents, checking every entry's raw header: creator Unix, the Unix mode
// (file type and permissions) in the high 16 bits of the external
// attributes, the fixed time.
func readZip(t *testing.T, b []byte) ([]Entry, map[string]string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var entries []Entry
	contents := map[string]string{}
	for _, f := range zr.File {
		if creator := f.CreatorVersion >> 8; creator != 3 {
			t.Errorf("%s: creator %d, want 3 (Unix)", f.Name, creator)
		}
		unix := f.ExternalAttrs >> 16
		wantType := uint32(0o100000) // S_IFREG
		if strings.HasSuffix(f.Name, "/") {
			wantType = 0o040000 // S_IFDIR
		}
		if unix&0o170000 != wantType {
			t.Errorf("%s: Unix file type %o, want %o", f.Name, unix&0o170000, wantType)
		}
		if !f.Modified.Equal(ModTime) {
			t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, ModTime)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		entries = append(entries, Entry{Name: f.Name, Mode: os.FileMode(unix&0o777) | f.Mode()&os.ModeDir, Size: int64(len(data))})
		contents[f.Name] = string(data)
	}
	return entries, contents
}

func TestWrite(t *testing.T) {
	exe := string(elfHeader(t, elf.EM_X86_64, elf.ET_EXEC))
	const subHost = `{"customHandler":{"description":{"defaultExecutablePath":"bin/handler"}}}`
	app := map[string]file{
		"host.json":            {data: hostJSON},
		"handler":              {data: exe, mode: 0o755},
		"ingest/function.json": {data: `{"bindings":[]}`},
		"score/function.json":  {data: `{"bindings":[1]}`},
	}
	with := func(extra map[string]file) map[string]file {
		m := map[string]file{}
		for k, v := range app {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	wantEntries := []Entry{
		{Name: "handler", Mode: 0o755, Size: int64(len(exe))},
		{Name: "host.json", Mode: 0o644, Size: int64(len(hostJSON))},
		{Name: "ingest/", Mode: os.ModeDir | 0o755},
		{Name: "ingest/function.json", Mode: 0o644, Size: 15},
		{Name: "score/", Mode: os.ModeDir | 0o755},
		{Name: "score/function.json", Mode: 0o644, Size: 16},
	}
	for _, test := range []struct {
		name        string
		files       map[string]file
		wantEntries []Entry
		wantLeftOut []string
		wantErr     string
	}{
		{name: "the app", files: app, wantEntries: wantEntries},
		{
			// What func start and a local run leave in dist/: settings with
			// secrets, the SQLite database and its journal, logs.
			name: "local files left out",
			files: with(map[string]file{
				"local.settings.json": {data: `{"Values":{"AzureWebJobsStorage":"AccountKey=secret"}}`}, "local.settings.sample.json": {data: "{}"},
				"batchscore.db": {data: "SQLite format 3\x00"}, "batchscore.db-wal": {data: "x"}, "batchscore.db-shm": {data: "x"},
				"ingest/notes.md": {data: "x"}, "out/report.html": {data: "x"}, "score/batchscore.db": {data: "x"},
			}),
			wantEntries: wantEntries,
			wantLeftOut: []string{"batchscore.db", "batchscore.db-shm", "batchscore.db-wal", "ingest/notes.md",
				"local.settings.json", "local.settings.sample.json", "out/report.html", "score/batchscore.db"},
		},
		{
			// The bit is stored whatever the file system says (a build on
			// Windows, a copy that lost it).
			name:        "handler without its executable bit",
			files:       with(map[string]file{"handler": {data: exe, mode: 0o644}}),
			wantEntries: wantEntries,
		},
		{
			name: "executable in a subfolder",
			files: with(map[string]file{
				"host.json": {data: subHost},
				"handler":   {data: "x"}, "bin/handler": {data: exe},
			}),
			wantEntries: []Entry{
				{Name: "bin/", Mode: os.ModeDir | 0o755}, {Name: "bin/handler", Mode: 0o755, Size: int64(len(exe))},
				{Name: "host.json", Mode: 0o644, Size: int64(len(subHost))},
				wantEntries[2], wantEntries[3], wantEntries[4], wantEntries[5],
			},
			wantLeftOut: []string{"handler"},
		},
		{name: "no host.json", files: with(map[string]file{"host.json": {}}), wantErr: "host.json: no such file or directory: run `make package`"},
		{name: "host.json not JSON", files: with(map[string]file{"host.json": {data: "{"}}), wantErr: "host.json: unexpected end of JSON input"},
		{
			name:    "no executable path",
			files:   with(map[string]file{"host.json": {data: `{"version":"2.0"}`}}),
			wantErr: "host.json has no customHandler.description.defaultExecutablePath",
		},
		{
			name:    "executable outside the app",
			files:   with(map[string]file{"host.json": {data: `{"customHandler":{"description":{"defaultExecutablePath":"../handler"}}}`}}),
			wantErr: `defaultExecutablePath "../handler" is not a path inside the app folder`,
		},
		{
			name:    "executable missing",
			files:   with(map[string]file{"host.json": {data: `{"customHandler":{"description":{"defaultExecutablePath":"handler.exe"}}}`}}),
			wantErr: "handler.exe: no such file or directory: run `make package`",
		},
		{
			name:    "a script, not a Linux executable",
			files:   with(map[string]file{"handler": {data: "#!/bin/sh\nexec ./real\n", mode: 0o755}}),
			wantErr: "is not a Linux executable",
		},
		{
			name:    "built for arm64",
			files:   with(map[string]file{"handler": {data: string(elfHeader(t, elf.EM_AARCH64, elf.ET_EXEC))}}),
			wantErr: "is a ELFCLASS64 EM_AARCH64 ET_EXEC file, want an x86-64 executable",
		},
		{
			name:    "no function",
			files:   map[string]file{"host.json": {data: hostJSON}, "handler": {data: exe}, "functions/x.json": {}},
			wantErr: "has no <function>/function.json: run `make package`",
		},
		{
			name:    "function name the host refuses",
			files:   with(map[string]file{"2fast/function.json": {data: "{}"}}),
			wantErr: `function folder "2fast" breaks the host's name rule`,
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			dir := writeApp(t, test.files)
			if test.files["host.json"] == (file{}) {
				os.Remove(filepath.Join(dir, "host.json"))
			}
			var buf bytes.Buffer
			rep, err := Write(&buf, dir)
			if test.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), test.wantErr) {
					t.Fatalf("Write error %v, want one containing %q", err, test.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(test.wantEntries, rep.Entries); diff != "" {
				t.Errorf("reported entries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(test.wantLeftOut, rep.LeftOut); diff != "" {
				t.Errorf("left out (-want +got):\n%s", diff)
			}
			got, contents := readZip(t, buf.Bytes())
			if diff := cmp.Diff(test.wantEntries, got); diff != "" {
				t.Errorf("zip entries (-want +got):\n%s", diff)
			}
			for name, data := range contents {
				if strings.HasSuffix(name, "/") {
					continue
				}
				if want := test.files[name].data; data != want {
					t.Errorf("%s in the zip differs from the file", name)
				}
			}
		})
	}
}

// TestWriteDeterministic: the same files give the same bytes, whatever their
// modification times and the order the file system lists them in.
func TestWriteDeterministic(t *testing.T) {
	exe := string(elfHeader(t, elf.EM_X86_64, elf.ET_DYN))
	files := map[string]file{"host.json": {data: hostJSON}, "handler": {data: exe, mode: 0o755}}
	for _, fn := range []string{"b", "a", "c-c", "z_1"} {
		files[fn+"/function.json"] = file{data: `{"bindings":["` + fn + `"]}`}
	}
	var outs [2][]byte
	for i := range outs {
		dir := writeApp(t, files)
		stamp := time.Date(2020+i, 5, 6, 7, 8, 9, 0, time.UTC)
		for name := range files {
			if err := os.Chtimes(filepath.Join(dir, name), stamp, stamp); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := Write(&buf, dir); err != nil {
			t.Fatal(err)
		}
		outs[i] = buf.Bytes()
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("two packages of the same files differ")
	}
}

// TestWriteRepositoryLayout packages the repository's own host.json and
// function.json files as `make package` lays them out: every function is in
// the zip, and host.json's executable is the one marked executable.
func TestWriteRepositoryLayout(t *testing.T) {
	root := filepath.Join("..", "..")
	host, err := os.ReadFile(filepath.Join(root, "host.json"))
	if err != nil {
		t.Fatal(err)
	}
	fjs, err := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	if err != nil || len(fjs) == 0 {
		t.Fatalf("no function.json files: %v", err)
	}
	files := map[string]file{"host.json": {data: string(host)}, "handler": {data: string(elfHeader(t, elf.EM_X86_64, elf.ET_EXEC)), mode: 0o755},
		"local.settings.sample.json": {data: "{}"}}
	want := map[string]os.FileMode{"host.json": 0o644, "handler": 0o755}
	for _, f := range fjs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fn := filepath.Base(filepath.Dir(f))
		files[fn+"/function.json"] = file{data: string(b)}
		want[fn+"/"], want[fn+"/function.json"] = os.ModeDir|0o755, 0o644
	}
	var buf bytes.Buffer
	rep, err := Write(&buf, writeApp(t, files))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Executable != "handler" {
		t.Errorf("executable %q, want handler (host.json defaultExecutablePath)", rep.Executable)
	}
	entries, _ := readZip(t, buf.Bytes())
	got := map[string]os.FileMode{}
	for _, e := range entries {
		got[e.Name] = e.Mode
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("zip (-want +got):\n%s", diff)
	}
}

// TestWriteFile: the package replaces the file only when it is complete; a
// failed package leaves the old file and no temporary file behind.
func TestWriteFile(t *testing.T) {
	outDir := t.TempDir()
	out := filepath.Join(outDir, "dist.zip")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := writeApp(t, map[string]file{"host.json": {data: hostJSON}})
	if _, err := WriteFile(out, bad); err == nil {
		t.Fatal("WriteFile of an app without its handler succeeded")
	}
	if b, _ := os.ReadFile(out); string(b) != "old" {
		t.Errorf("a failed WriteFile changed %s to %q", out, b)
	}
	good := writeApp(t, map[string]file{"host.json": {data: hostJSON}, "handler": {data: string(elfHeader(t, elf.EM_X86_64, elf.ET_EXEC))},
		"f/function.json": {data: "{}"}})
	if _, err := WriteFile(out, good); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := readZip(t, b); len(entries) != 4 {
		t.Errorf("dist.zip has %d entries, want 4: %v", len(entries), entries)
	}
	left, _ := filepath.Glob(filepath.Join(outDir, "*"))
	if len(left) != 1 {
		t.Errorf("files beside the package: %q, want only dist.zip", left)
	}
}
