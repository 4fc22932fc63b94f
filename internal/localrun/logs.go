package localrun

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// consoleCategory is the category the local host gives the handler's own stdout
// and stderr lines (the Functions host's Host.Function.Console).
const consoleCategory = "Host.Function.Console"

// splitLog is the slog handler of a run's logs: the host's own events go to
// host (text, one line each); the handler's lines go to handler as JSON Lines,
// each written as the handler printed it when it is a JSON object, else (a
// panic, a Go runtime message) wrapped as {"time","level","msg","stream"}.
type splitLog struct {
	host    slog.Handler
	mu      *sync.Mutex
	handler io.Writer
}

func newSplitLog(host, handler io.Writer) *splitLog {
	return &splitLog{
		host:    slog.NewTextHandler(host, &slog.HandlerOptions{Level: slog.LevelInfo}),
		mu:      &sync.Mutex{},
		handler: handler,
	}
}

func (s *splitLog) Enabled(ctx context.Context, l slog.Level) bool { return s.host.Enabled(ctx, l) }

func (s *splitLog) Handle(ctx context.Context, r slog.Record) error {
	console := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "category" && a.Value.String() == consoleCategory {
			console = true
			return false
		}
		return true
	})
	if !console {
		return s.host.Handle(ctx, r)
	}
	line := []byte(strings.TrimSpace(r.Message))
	if len(line) == 0 || line[0] != '{' || !json.Valid(line) {
		stream := "stdout"
		if r.Level >= slog.LevelWarn {
			stream = "stderr"
		}
		var err error
		line, err = json.Marshal(struct {
			Time   string `json:"time"`
			Level  string `json:"level"`
			Msg    string `json:"msg"`
			Stream string `json:"stream"`
		}{r.Time.UTC().Format(time.RFC3339Nano), r.Level.String(), r.Message, stream})
		if err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.handler.Write(append(line, '\n'))
	return err
}

func (s *splitLog) WithAttrs(as []slog.Attr) slog.Handler {
	c := *s
	c.host = s.host.WithAttrs(as)
	return &c
}

func (s *splitLog) WithGroup(name string) slog.Handler {
	c := *s
	c.host = s.host.WithGroup(name)
	return &c
}
