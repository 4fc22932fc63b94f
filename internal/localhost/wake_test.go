package localhost

import (
	"context"
	"encoding/base64"
	"testing"
	"time"
)

// TestInvocationsDoNotWakeQueueListeners: the host's queue listener cuts its
// empty-queue back-off short only when its SharedQueueWatcher is notified, and
// only the queue output binding notifies it (the Storage Queues extension's
// QueueAsyncCollector.AddAsync and the single-message binding's SetValueAsync
// call _messageEnqueuedWatcher.Notify after the put). A custom handler that
// enqueues with the Storage SDK from an HTTP or timer function goes around the
// binding, so the listener keeps polling on its back-off: a message put just
// after an empty poll waits for the next one.
func TestInvocationsDoNotWakeQueueListeners(t *testing.T) {
	const maxPoll = 2 * time.Second
	opts := &QueueOptions{BatchSize: 4, NewBatchThreshold: 2, MaxDequeueCount: 3, MessageEncoding: "base64", MaxPollingInterval: maxPoll}
	h, recFile, svc := startTestAppWith(t, "0 0 0 1 1 *", false, opts)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	lastEmpty := func() time.Time {
		h.stats.mu.Lock()
		defer h.stats.mu.Unlock()
		return h.stats.empty["work"]
	}
	// Let the back-off reach maxPoll (100 ms doubling: 0.1+0.2+...+1.6 s), then
	// act right after an empty poll, so that the next one is maxPoll away.
	deadline := time.Now().Add(30 * time.Second)
	prev, gap := lastEmpty(), time.Duration(0)
	for gap < maxPoll-300*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("the listener never backed off to %s (last gap between empty polls %s)", maxPoll, gap)
		}
		time.Sleep(5 * time.Millisecond)
		if e := lastEmpty(); !e.Equal(prev) {
			if !prev.IsZero() {
				gap = e.Sub(prev)
			}
			prev = e
		}
	}
	put := time.Now()
	if _, err := svc.NewQueueClient("work-items").EnqueueMessage(ctx, base64.StdEncoding.EncodeToString([]byte("ok-late")), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.InvokeHTTP(ctx, "hello", "GET", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.FireTimer(ctx, "tick", time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	if got := only(readRecords(t, recFile), "work"); len(got) != 0 && time.Since(prev) < maxPoll {
		t.Fatalf("the message put %s after an empty poll was processed before the next poll (%d records): an HTTP or timer invocation woke the listener",
			put.Sub(prev).Round(time.Millisecond), len(got))
	}
	// It is not lost: the next poll, within maxPoll of the last, takes it.
	if err := h.WaitIdle(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for len(only(readRecords(t, recFile), "work")) == 0 {
		if ctx.Err() != nil {
			t.Fatal("the message was never processed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
