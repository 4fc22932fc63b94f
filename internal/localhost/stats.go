package localhost

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// FunctionStats counts what happened to one function.
type FunctionStats struct {
	Name        string
	Invocations int
	Succeeded   int
	Failed      int
	InFlight    int
	Retries     int // invocations repeated under the retry policy
	Timeouts    int // invocations failed by functionTimeout
	Busy        time.Duration

	// queue triggers
	Received int // messages dequeued
	Deleted  int // completed and deleted
	Released int // failed and made visible again after visibilityTimeout
	Poisoned int // moved to <queue>-poison

	// event hub triggers
	Published       int // events published to the feed
	Delivered       int // events whose batch was checkpointed
	Batches         int // batches checkpointed
	SkippedBatches  int // batches skipped after the retry policy gave up
	BatchesInFlight int
}

type stats struct {
	mu    sync.Mutex
	fns   map[string]*FunctionStats
	empty map[string]time.Time // last time a queue poll found nothing
	// changed, when not nil, is closed at the next change of a counter (Changed).
	changed chan struct{}
}

func newStats() *stats {
	return &stats{fns: map[string]*FunctionStats{}, empty: map[string]time.Time{}}
}

func (s *stats) get(fn string) *FunctionStats {
	f, ok := s.fns[fn]
	if !ok {
		f = &FunctionStats{Name: fn}
		s.fns[fn] = f
	}
	return f
}

func (s *stats) with(fn string, do func(*FunctionStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	do(s.get(fn))
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

func (s *stats) begin(fn string) {
	s.with(fn, func(f *FunctionStats) { f.Invocations++; f.InFlight++ })
}

func (s *stats) end(fn string, ok bool, d time.Duration) {
	s.with(fn, func(f *FunctionStats) {
		f.InFlight--
		f.Busy += d
		if ok {
			f.Succeeded++
		} else {
			f.Failed++
		}
	})
}

func (s *stats) retry(fn string)            { s.with(fn, func(f *FunctionStats) { f.Retries++ }) }
func (s *stats) timedOut(fn string)         { s.with(fn, func(f *FunctionStats) { f.Timeouts++ }) }
func (s *stats) received(fn string, n int)  { s.with(fn, func(f *FunctionStats) { f.Received += n }) }
func (s *stats) deleted(fn string)          { s.with(fn, func(f *FunctionStats) { f.Deleted++ }) }
func (s *stats) released(fn string)         { s.with(fn, func(f *FunctionStats) { f.Released++ }) }
func (s *stats) poisoned(fn string)         { s.with(fn, func(f *FunctionStats) { f.Poisoned++ }) }
func (s *stats) published(fn string, n int) { s.with(fn, func(f *FunctionStats) { f.Published += n }) }
func (s *stats) batchBegin(fn string)       { s.with(fn, func(f *FunctionStats) { f.BatchesInFlight++ }) }
func (s *stats) queueEmpty(fn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.empty[fn] = time.Now()
}

func (s *stats) batchEnd(fn string, n int, skipped bool) {
	s.with(fn, func(f *FunctionStats) {
		f.BatchesInFlight--
		if skipped {
			f.SkippedBatches++
			return
		}
		f.Batches++
		f.Delivered += n
	})
}

// Stats returns a snapshot of every function's counters, sorted by name.
func (h *Host) Stats() []FunctionStats {
	h.stats.mu.Lock()
	defer h.stats.mu.Unlock()
	out := make([]FunctionStats, 0, len(h.fns))
	for name := range h.fns {
		out = append(out, *h.stats.get(name))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Changed returns a channel that is closed at the next change of any
// function's counters, so that a caller waiting for a count need not poll.
func (h *Host) Changed() <-chan struct{} {
	h.stats.mu.Lock()
	defer h.stats.mu.Unlock()
	if h.stats.changed == nil {
		h.stats.changed = make(chan struct{})
	}
	return h.stats.changed
}

// FunctionStats returns the counters of one function.
func (h *Host) FunctionStats(fn string) FunctionStats {
	h.stats.mu.Lock()
	defer h.stats.mu.Unlock()
	return *h.stats.get(fn)
}

// Idle reports whether nothing is left to do: no invocation in flight, every event
// feed checkpointed to its end, and every trigger queue empty (no visible or
// invisible message). Events and messages of disabled functions are not work
// the host will do.
func (h *Host) Idle(ctx context.Context) (bool, error) {
	for name, e := range h.hubs {
		if !h.disabled[name] && e.pending() > 0 {
			return false, nil
		}
	}
	for name, q := range h.queues {
		if h.disabled[name] {
			continue
		}
		if q.busy() > 0 {
			return false, nil
		}
		n, err := q.length(ctx)
		if err != nil {
			return false, fmt.Errorf("idle %s: %w", name, err)
		}
		if n > 0 {
			return false, nil
		}
	}
	h.stats.mu.Lock()
	defer h.stats.mu.Unlock()
	for _, f := range h.stats.fns {
		if f.InFlight > 0 || f.BatchesInFlight > 0 {
			return false, nil
		}
	}
	return true, nil
}

// WaitIdle polls Idle every poll interval until it is true (twice in a row, so a
// message enqueued by the last invocation is seen), the handler exits, or ctx ends.
func (h *Host) WaitIdle(ctx context.Context, poll time.Duration) error {
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	seen := 0
	for {
		if err := h.Err(); err != nil {
			return err
		}
		idle, err := h.Idle(ctx)
		if err != nil {
			return err
		}
		if idle {
			seen++
			if seen >= 2 {
				return nil
			}
		} else {
			seen = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for idle: %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}
