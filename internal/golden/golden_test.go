package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// recorder is a testing.TB that records failures instead of stopping the test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Fatal(...any)          { r.failed = true }

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.golden")
	tests := []struct {
		name     string
		got      string
		update   bool
		wantFail bool
		wantFile string
	}{
		{"missing file fails", "a\n", false, true, ""},
		{"update writes it", "a\n", true, false, "a\n"},
		{"same bytes pass", "a\n", false, false, "a\n"},
		{"different bytes fail, file kept", "b\n", false, true, "a\n"},
		{"update rewrites", "b\n", true, false, "b\n"},
	}
	for _, tt := range tests {
		r := &recorder{TB: t}
		Check(r, path, []byte(tt.got), tt.update)
		if r.failed != tt.wantFail {
			t.Errorf("%s: failed = %v, want %v", tt.name, r.failed, tt.wantFail)
		}
		if tt.wantFile != "" {
			if b, _ := os.ReadFile(path); string(b) != tt.wantFile {
				t.Errorf("%s: file holds %q, want %q", tt.name, b, tt.wantFile)
			}
		}
	}
}
