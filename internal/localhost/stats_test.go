package localhost

import (
	"testing"
	"time"
)

// Changed is closed by the next change of a counter, and only then.
func TestChanged(t *testing.T) {
	tests := []struct {
		name   string
		change func(*stats)
	}{
		{"invocation begins", func(s *stats) { s.begin("score") }},
		{"invocation ends", func(s *stats) { s.end("score", true, time.Millisecond) }},
		{"message deleted", func(s *stats) { s.deleted("score") }},
		{"batch checkpointed", func(s *stats) { s.batchEnd("ingest", 10, false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Host{stats: newStats()}
			ch := h.Changed()
			if h.Changed() != ch {
				t.Fatal("a second Changed before any change gave another channel")
			}
			h.stats.queueEmpty("score") // not a counter
			select {
			case <-ch:
				t.Fatal("closed before any counter changed")
			default:
			}
			tt.change(h.stats)
			select {
			case <-ch:
			default:
				t.Fatal("not closed after the change")
			}
			select {
			case <-h.Changed():
				t.Fatal("the next channel is closed before the next change")
			default:
			}
		})
	}
}
