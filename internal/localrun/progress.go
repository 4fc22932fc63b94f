package localrun

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows how far a stage is: a bar on a terminal, plain lines otherwise
// (at most one every two seconds, and the last one).
type progress struct {
	w        io.Writer
	terminal bool

	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	label string
	unit  string
	total int
	last  time.Time
	n     int
}

func newProgress(w io.Writer, terminal bool) *progress { return &progress{w: w, terminal: terminal} }

// start begins a stage of total steps, counted in unit (e.g. "events").
func (p *progress) start(label, unit string, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label, p.unit, p.total, p.n, p.last = label, unit, total, -1, time.Time{}
	if p.terminal {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(fmt.Sprintf("%-9s", label)),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
}

// set reports n steps done, with an optional detail for plain lines.
func (p *progress) set(n int, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n == p.n {
		return
	}
	p.n = n
	if p.bar != nil {
		_ = p.bar.Set(n)
		return
	}
	if n < p.total && time.Since(p.last) < 2*time.Second {
		return
	}
	p.last = time.Now()
	if detail != "" {
		detail = " (" + detail + ")"
	}
	fmt.Fprintf(p.w, "%s: %s of %s %s%s\n", p.label, Thousands(n), Thousands(p.total), p.unit, detail)
}

// finish ends the stage with a summary line.
func (p *progress) finish(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
	fmt.Fprintln(p.w, line)
}
