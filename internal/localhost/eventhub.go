package localhost

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
)

// Event is one event of the Event Hubs feed.
type Event struct {
	Partition string
	Sequence  int64
	Offset    int64
	Enqueued  time.Time
	Body      []byte
}

// EventHub is an Event Hubs-shaped feed for one eventHubTrigger function: Publish
// appends events to partitions (assigning per-partition sequence numbers from 0 and
// byte offsets), and one feeder per partition delivers them in order, in batches of
// up to maxEventBatchSize, as the host's event processor does. With the function's
// retry policy a failed batch is invoked again (Metadata.RetryContext) until it
// succeeds or the policy gives up; the checkpoint then advances (the host's
// behaviour: after the last retry the batch is skipped), and the skipped batch is
// counted in Stats.
type EventHub struct {
	h  *Host
	fn Function
	b  Binding
	// disabled: no listener (AzureWebJobs.<function>.Disabled): events are kept,
	// not delivered.
	disabled bool

	mu    sync.Mutex
	parts map[string]*partition
}

type partition struct {
	id      string
	events  []Event
	next    int // index of the next event to deliver (the checkpoint)
	offset  int64
	running bool
}

func newEventHub(h *Host, fn Function, b Binding) *EventHub {
	return &EventHub{h: h, fn: fn, b: b, parts: map[string]*partition{}}
}

// EventHub returns the feed of the eventHubTrigger function fn.
func (h *Host) EventHub(fn string) (*EventHub, error) {
	e, ok := h.hubs[fn]
	if !ok {
		return nil, fmt.Errorf("event hub %s: no eventHubTrigger function of that name", fn)
	}
	return e, nil
}

// Name returns the event hub name of the trigger binding.
func (e *EventHub) Name() string { return e.b.EventHubName }

// Publish appends events with the given bodies and enqueued times (UTC; a missing
// or zero time means now) to a partition and returns them with their sequence
// numbers and offsets. Delivery is asynchronous; see Host.WaitIdle.
func (e *EventHub) Publish(partitionID string, bodies [][]byte, enqueued []time.Time) ([]Event, error) {
	if partitionID == "" {
		return nil, fmt.Errorf("publish to %s: empty partition id", e.fn.Name)
	}
	if len(enqueued) != 0 && len(enqueued) != len(bodies) {
		return nil, fmt.Errorf("publish to %s: %d bodies but %d enqueued times", e.fn.Name, len(bodies), len(enqueued))
	}
	if e.h.ctx.Err() != nil {
		return nil, fmt.Errorf("publish to %s: host stopped", e.fn.Name)
	}
	e.mu.Lock()
	p, ok := e.parts[partitionID]
	if !ok {
		p = &partition{id: partitionID}
		e.parts[partitionID] = p
	}
	out := make([]Event, len(bodies))
	now := time.Now().UTC()
	for i, body := range bodies {
		t := now
		if len(enqueued) > 0 && !enqueued[i].IsZero() {
			t = enqueued[i].UTC()
		}
		ev := Event{Partition: partitionID, Sequence: int64(len(p.events)), Offset: p.offset, Enqueued: t, Body: append([]byte(nil), body...)}
		p.offset += int64(len(body))
		p.events = append(p.events, ev)
		out[i] = ev
	}
	e.h.stats.published(e.fn.Name, len(bodies))
	start := !p.running && !e.disabled
	p.running = true
	e.mu.Unlock()
	if start {
		e.h.wg.Add(1)
		go func() {
			defer e.h.wg.Done()
			e.feed(p)
		}()
	}
	return out, nil
}

// Partitions returns the partition ids that have events, sorted.
func (e *EventHub) Partitions() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]string, 0, len(e.parts))
	for id := range e.parts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Events returns the events of a partition from sequence number from (inclusive)
// up to to (exclusive); to < 0 means to the end.
func (e *EventHub) Events(partitionID string, from, to int64) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.parts[partitionID]
	if !ok {
		return nil
	}
	if to < 0 || to > int64(len(p.events)) {
		to = int64(len(p.events))
	}
	if from < 0 {
		from = 0
	}
	if from >= to {
		return nil
	}
	return append([]Event(nil), p.events[from:to]...)
}

// Redeliver invokes the function again with events already delivered, as one
// batch, as the host does after a lease is lost before a checkpoint. It waits for
// the invocation (with the retry policy) and returns its error.
func (e *EventHub) Redeliver(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	_, err := e.invoke(ctx, events)
	return err
}

// feed delivers a partition's events until none is left.
func (e *EventHub) feed(p *partition) {
	max := e.h.cfg.EventHubs.MaxEventBatchSize
	for {
		e.mu.Lock()
		if p.next >= len(p.events) || e.h.ctx.Err() != nil {
			p.running = false
			e.mu.Unlock()
			return
		}
		end := min(p.next+max, len(p.events))
		batch := append([]Event(nil), p.events[p.next:end]...)
		e.mu.Unlock()

		e.h.stats.batchBegin(e.fn.Name)
		_, err := e.invoke(e.h.ctx, batch)
		if e.h.ctx.Err() != nil {
			e.h.stats.batchEnd(e.fn.Name, len(batch), true)
			e.mu.Lock()
			p.running = false
			e.mu.Unlock()
			return
		}
		if err != nil {
			e.h.log.Error("event batch skipped after its retries", "function", e.fn.Name, "partition", p.id,
				"firstSeq", batch[0].Sequence, "lastSeq", batch[len(batch)-1].Sequence, "err", err)
		}
		e.h.stats.batchEnd(e.fn.Name, len(batch), err != nil)
		e.mu.Lock()
		p.next = end // checkpoint
		e.mu.Unlock()
	}
}

func (e *EventHub) invoke(ctx context.Context, batch []Event) (Response, error) {
	return e.h.invokeWithRetry(ctx, e.fn, func(rc *azfunc.RetryContext) ([]byte, http.Header, error) {
		return eventHubPayload(e.fn.Name, e.b, batch, rc)
	})
}

// pending is the number of published events not yet checkpointed.
func (e *EventHub) pending() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, p := range e.parts {
		n += len(p.events) - p.next
	}
	return n
}

func formatOffset(o int64) string { return strconv.FormatInt(o, 10) }
