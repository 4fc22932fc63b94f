package azfunc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// NewLogger returns a JSON slog logger that writes records below Warn to stdout
// and Warn and above to stderr. The host logs a worker's stdout lines at
// Information and its stderr lines at Error (Warning when the line contains
// "warn"), under the category Host.Function.Console.
func NewLogger(stdout, stderr io.Writer, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	return slog.New(&splitHandler{
		low:   slog.NewJSONHandler(&lockedWriter{w: stdout}, opts),
		high:  slog.NewJSONHandler(&lockedWriter{w: stderr}, opts),
		level: level,
	})
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type splitHandler struct {
	low, high slog.Handler
	level     slog.Leveler
}

func (h *splitHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *splitHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		return h.high.Handle(ctx, r)
	}
	return h.low.Handle(ctx, r)
}

func (h *splitHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &splitHandler{low: h.low.WithAttrs(as), high: h.high.WithAttrs(as), level: h.level}
}

func (h *splitHandler) WithGroup(name string) slog.Handler {
	return &splitHandler{low: h.low.WithGroup(name), high: h.high.WithGroup(name), level: h.level}
}

// collector keeps the invocation's Info lines until the answer is known: a
// 2xx answer carries them in Response.Logs, which the host logs under
// Function.<name>.User inside the invocation scope (so they carry the
// invocation id in Application Insights); on any other answer the host drops
// Logs, so they are written to the process log instead. Either way each line
// reaches the host once.
type collector struct {
	mu      sync.Mutex
	pending []pendingLine
}

type pendingLine struct {
	text string
	h    slog.Handler // where the record goes if Logs is dropped
	r    slog.Record
}

func (c *collector) add(p pendingLine) {
	c.mu.Lock()
	c.pending = append(c.pending, p)
	c.mu.Unlock()
}

func (c *collector) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.pending))
	for i, p := range c.pending {
		out[i] = p.text
	}
	return out
}

// take returns the pending lines and forgets them.
func (c *collector) take() []pendingLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending
	c.pending = nil
	return p
}

// spill writes the pending lines to the process log (the answer is not 2xx).
func (c *collector) spill(ctx context.Context) {
	for _, p := range c.take() {
		_ = p.h.Handle(ctx, p.r)
	}
}

// teeHandler routes each record of an invocation to one place. Info records
// (below Warn) become a text line for the collector; others go to next (the
// process log: Debug to stdout, Warn and above to stderr, where the host keeps
// their severity). The invocation_id and function attributes are left out of
// the collected lines (the host adds the invocation scope). With direct set,
// every record goes to next (a direct telemetry handler) and nothing is
// collected.
type teeHandler struct {
	next   slog.Handler
	c      *collector
	direct bool
	attrs  []slog.Attr // collected-line attributes from WithAttrs
	group  string
}

func (h *teeHandler) collects(l slog.Level) bool {
	return !h.direct && l >= slog.LevelInfo && l < slog.LevelWarn
}

func (h *teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l) || h.collects(l)
}

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.collects(r.Level) {
		if h.next.Enabled(ctx, r.Level) {
			return h.next.Handle(ctx, r)
		}
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Level.String())
	b.WriteByte(' ')
	b.WriteString(r.Message)
	write := func(prefix string, a slog.Attr) {
		a.Value = a.Value.Resolve()
		if a.Equal(slog.Attr{}) {
			return
		}
		text, isJSON := valueText(a.Value)
		if !isJSON {
			text = quoteIfNeeded(text)
		}
		fmt.Fprintf(&b, " %s%s=%s", prefix, a.Key, text)
	}
	for _, a := range h.attrs {
		write("", a)
	}
	prefix := ""
	if h.group != "" {
		prefix = h.group + "."
	}
	r.Attrs(func(a slog.Attr) bool {
		write(prefix, a)
		return true
	})
	h.c.add(pendingLine{text: b.String(), h: h.next, r: r.Clone()})
	return nil
}

func (h *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &teeHandler{next: h.next.WithAttrs(as), c: h.c, direct: h.direct, group: h.group}
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	if h.group != "" {
		for i := len(h.attrs); i < len(n.attrs); i++ {
			n.attrs[i].Key = h.group + "." + n.attrs[i].Key
		}
	}
	return n
}

func (h *teeHandler) WithGroup(name string) slog.Handler {
	g := name
	if h.group != "" {
		g = h.group + "." + name
	}
	return &teeHandler{next: h.next.WithGroup(name), c: h.c, direct: h.direct, attrs: h.attrs, group: g}
}

// valueText renders a value for a collected line: times in RFC 3339, errors
// by their message, other non-scalar values (result structs, maps) as JSON,
// left unquoted.
func valueText(v slog.Value) (text string, isJSON bool) {
	switch v.Kind() {
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano), false
	case slog.KindAny:
	default:
		return v.String(), false
	}
	switch x := v.Any().(type) {
	case error:
		return x.Error(), false
	case fmt.Stringer:
		return x.String(), false
	}
	if b, err := json.Marshal(v.Any()); err == nil {
		return string(b), true
	}
	return v.String(), false
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\r\n\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
