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

// collector keeps the invocation's log lines for Response.Logs, which the host
// logs under Function.<name>.User inside the invocation scope, so they carry
// the invocation id in Application Insights.
type collector struct {
	mu    sync.Mutex
	lines []string
}

func (c *collector) add(s string) {
	c.mu.Lock()
	c.lines = append(c.lines, s)
	c.mu.Unlock()
}

func (c *collector) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// teeHandler sends every record to next and, at Info and above, a text
// rendering of it to the collector. The invocation_id and function attributes
// are left out of the collected lines (the host adds the invocation scope).
type teeHandler struct {
	next  slog.Handler
	c     *collector
	attrs []slog.Attr // collected-line attributes from WithAttrs
	group string
}

func (h *teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l) || l >= slog.LevelInfo
}

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r)
	}
	if r.Level < slog.LevelInfo {
		return err
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
	h.c.add(b.String())
	return err
}

func (h *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &teeHandler{next: h.next.WithAttrs(as), c: h.c, group: h.group}
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
	return &teeHandler{next: h.next.WithGroup(name), c: h.c, attrs: h.attrs, group: g}
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
