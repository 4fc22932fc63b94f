package localrun

import (
	"context"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium finds a headless Chromium (Debian package chromium; .ci/run installs
// it), or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed (Debian package chromium; .ci/run installs it): the report's browser check needs it")
	return ""
}

// runChromium runs headless Chromium on the page with one action (--dump-dom,
// --screenshot=...) and returns its standard output and error.
func runChromium(t *testing.T, bin, page string, action ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	abs, err := filepath.Abs(page)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0", "--window-size=1300,2400"}, action...)
	cmd := exec.CommandContext(ctx, bin, append(args, (&url.URL{Scheme: "file", Path: abs}).String())...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", action, err, errb.String())
	}
	return out.String(), errb.String()
}

var (
	consoleLine = regexp.MustCompile(`:CONSOLE[:(]\d+\)?\] (.*)`)
	linkAttr    = regexp.MustCompile(`\b(?:href|src)="([^"]*)"`)
)

// browserProblems opens the page in headless Chromium and returns every console
// message (the report has no scripts, so any message is an error: a script
// error, a failed load) and every link or source that does not resolve: an
// #anchor without its element, a relative file that does not exist next to the
// page, or anything pointing elsewhere (the report must stand alone).
func browserProblems(t *testing.T, bin, page string) []string {
	t.Helper()
	dom, logs := runChromium(t, bin, page, "--dump-dom")
	var problems []string
	for _, m := range consoleLine.FindAllStringSubmatch(logs, -1) {
		problems = append(problems, "console: "+m[1])
	}
	if !strings.Contains(dom, "</html>") {
		problems = append(problems, "no DOM dumped")
	}
	for _, m := range linkAttr.FindAllStringSubmatch(dom, -1) {
		ref := strings.ReplaceAll(m[1], "&amp;", "&")
		switch {
		case strings.HasPrefix(ref, "#"):
			if !strings.Contains(dom, `id="`+ref[1:]+`"`) {
				problems = append(problems, "link to a missing anchor: "+ref)
			}
		case strings.Contains(ref, ":") || strings.HasPrefix(ref, "/"):
			problems = append(problems, "link outside the run folder: "+ref)
		default:
			path, _ := url.PathUnescape(ref)
			if _, err := os.Stat(filepath.Join(filepath.Dir(page), filepath.FromSlash(path))); err != nil {
				problems = append(problems, "link to a missing file: "+ref)
			}
		}
	}
	return problems
}

// screenshot saves a PNG of the page next to it and checks it decodes to the
// window's size.
func screenshot(t *testing.T, bin, page string) string {
	t.Helper()
	shot := filepath.Join(filepath.Dir(page), "report.png")
	runChromium(t, bin, page, "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != 1300 || b.Dy() != 2400 {
		t.Errorf("screenshot is %dx%d, want 1300x2400", b.Dx(), b.Dy())
	}
	return shot
}

// The checker itself finds a script error, a console error, a missing file, a
// missing anchor and a link elsewhere, and passes a page without them.
func TestBrowserProblems(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "there.csv"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.html")
	os.WriteFile(bad, []byte(`<!DOCTYPE html><html><body><script>console.error("boom"); undefinedFn();</script>
<a href="there.csv">ok</a><a href="missing.csv">x</a><a href="#nowhere">y</a><a href="https://example.com/">z</a></body></html>`), 0o644)
	got := strings.Join(browserProblems(t, bin, bad), "\n")
	for _, want := range []string{`console: "boom"`, "undefinedFn is not defined", "missing file: missing.csv", "missing anchor: #nowhere", "outside the run folder: https://example.com/"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "there.csv") {
		t.Errorf("an existing file reported:\n%s", got)
	}
	good := filepath.Join(dir, "good.html")
	os.WriteFile(good, []byte(`<!DOCTYPE html><html><body><a href="#s">s</a><section id="s"><a href="there.csv">ok</a></section></body></html>`), 0o644)
	if p := browserProblems(t, bin, good); len(p) > 0 {
		t.Errorf("problems on a good page: %q", p)
	}
}
