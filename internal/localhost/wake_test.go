package localhost

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/batchscore/batchscore/internal/storage"
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
	h, recFile, svc, prev := startBackedOff(t, maxPoll)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
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

// startBackedOff starts the test app with maxPollingInterval maxPoll and waits
// until the listener of "work" has backed off to maxPoll (100 ms doubling:
// 0.1+0.2+...+1.6 s); it returns just after an empty poll, with that poll's
// time: the next one is maxPoll away.
func startBackedOff(t *testing.T, maxPoll time.Duration) (*Host, string, *azqueue.ServiceClient, time.Time) {
	t.Helper()
	opts := &QueueOptions{BatchSize: 4, NewBatchThreshold: 2, MaxDequeueCount: 3, MessageEncoding: "base64", MaxPollingInterval: maxPoll}
	h, recFile, svc := startTestAppWith(t, "0 0 0 1 1 *", false, opts)
	const fn = "work"
	lastEmpty := func() time.Time {
		h.stats.mu.Lock()
		defer h.stats.mu.Unlock()
		return h.stats.empty[fn]
	}
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
	return h, recFile, svc, prev
}

// TestQueueOutputWakesQueueListener: a write through a queue output binding
// wakes the host's listeners of that queue (QueueAsyncCollector.AddAsync calls
// _messageEnqueuedWatcher.Notify after the put), so a listener at its
// maxPollingInterval back-off takes the message at once, well before its next
// poll.
func TestQueueOutputWakesQueueListener(t *testing.T) {
	const maxPoll = 2 * time.Second
	h, recFile, _, prev := startBackedOff(t, maxPoll)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := h.InvokeHTTP(ctx, "send", "POST", []byte(`{"work":["ok-woken"]}`), nil); err != nil {
		t.Fatal(err)
	}
	for len(only(readRecords(t, recFile), "work")) == 0 {
		if ctx.Err() != nil {
			t.Fatal("the message was never processed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := only(readRecords(t, recFile), "work")[0]
	if got.Body != "ok-woken" {
		t.Errorf("processed %q, want ok-woken", got.Body)
	}
	if d := got.At.Sub(prev); d > maxPoll/2 {
		t.Errorf("the message was processed %s after the last empty poll, want well before the next poll (%s): the output binding's write did not wake the listener",
			d.Round(time.Millisecond), maxPoll)
	}
}

// TestQueueOutputBinding: after a 2xx answer the values of the function's
// queue output bindings in Outputs are written to their queues (an array: one
// message per element; a string: one message, base64-decoded when it is
// base64), encoded per messageEncoding; a failed invocation's outputs, an
// output the stand-in does not imitate, and keys that name no binding write
// nothing.
func TestQueueOutputBinding(t *testing.T) {
	h, recFile, _ := startTestApp(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	acct, err := storage.New(storage.Config{ConnectionString: h.settings["AzureWebJobsStorage"]})
	if err != nil {
		t.Fatal(err)
	}
	other := acct.Queue("other-items") // no listener: the test reads it
	drain := func(t *testing.T) []string {
		t.Helper()
		msgs, err := other.Receive(ctx, storage.MaxReceive, time.Minute)
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return nil
			}
			t.Fatal(err)
		}
		var bodies []string
		for _, m := range msgs {
			if m.Text != base64.StdEncoding.EncodeToString(m.Body) {
				t.Errorf("stored text %q is not the base64 of %q (messageEncoding base64)", m.Text, m.Body)
			}
			bodies = append(bodies, string(m.Body))
			if err := other.Delete(ctx, m.ID, m.PopReceipt); err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(bodies)
		return bodies
	}
	for _, tc := range []struct {
		name, outputs string
		status        string // ?status=
		fails         error  // the invocation fails with it
		other         []string
		work          string // the work-items message processed, when one is written there
	}{
		{name: "array and string", outputs: `{"other":["b","a"],"work":"ok-string"}`, other: []string{"a", "b"}, work: "ok-string"},
		{name: "string that is base64", outputs: `{"other":"d2FrZQ=="}`, other: []string{"wake"}},
		{name: "undeclared output", outputs: `{"nope":["x"],"Other":["y"]}`},
		{name: "failed invocation", outputs: `{"other":["lost"],"work":"ok-lost"}`, status: "500", fails: ErrInvocationFailed},
		{name: "not imitated", outputs: `{"other":[{"x":1}]}`, fails: errNotImitated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q url.Values
			if tc.status != "" {
				q = url.Values{"status": {tc.status}}
			}
			before := len(only(readRecords(t, recFile), "work"))
			_, err := h.InvokeHTTP(ctx, "send", "POST", []byte(tc.outputs), q)
			if tc.fails != nil {
				if !errors.Is(err, tc.fails) || !errors.Is(err, ErrInvocationFailed) {
					t.Fatalf("err = %v, want a failed invocation (%v)", err, tc.fails)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := drain(t); !slices.Equal(got, tc.other) {
				t.Errorf("other-items holds %q, want %q", got, tc.other)
			}
			if err := h.WaitIdle(ctx, 50*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if tc.work != "" {
				for len(only(readRecords(t, recFile), "work")) == before {
					if ctx.Err() != nil {
						t.Fatalf("%s was never processed", tc.work)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			var got []string
			for _, r := range only(readRecords(t, recFile), "work")[before:] {
				got = append(got, r.Body)
			}
			if want := slices.DeleteFunc([]string{tc.work}, func(s string) bool { return s == "" }); !slices.Equal(got, want) {
				t.Errorf("work-items messages processed %q, want %q", got, want)
			}
		})
	}
}
