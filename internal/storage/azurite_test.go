package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/batchscore/batchscore/internal/azurite"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testRetry fails fast: tests must not wait for production back-off.
var testRetry = Retry{MaxRetries: 1, TryTimeout: 5 * time.Second, RetryDelay: 20 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond}

func newAccount(t testing.TB, srv *azurite.Server) *Account {
	t.Helper()
	a, err := New(Config{ConnectionString: srv.ConnectionString(), Retry: testRetry})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAzurite runs the blob and queue cases against the shared in-memory Azurite.
func TestAzurite(t *testing.T) {
	srv := azurite.Shared(t)
	a := newAccount(t, srv)
	t.Run("blobs", func(t *testing.T) { testBlobs(t, a.Blobs()) })
	t.Run("queue", func(t *testing.T) { testQueue(t, a, srv) })
	t.Run("enqueue many", func(t *testing.T) { testEnqueueMany(t, a) })
	t.Run("enqueue many error", func(t *testing.T) { testEnqueueManyStopsOnError(t, a) })
}

func testBlobs(t *testing.T, b *Blobs) {
	ctx := t.Context()
	if err := b.EnsureContainers(ctx, "models", "preds"); err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureContainers(ctx, "models"); err != nil {
		t.Fatalf("EnsureContainers again: %v", err)
	}

	if _, _, err := b.Get(ctx, "models", "model_1_1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(missing blob) = %v, want ErrNotFound", err)
	}
	if _, _, err := b.Get(ctx, "nocontainer", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(missing container) = %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, "models", "model_9_9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete(missing) = %v, want ErrNotFound", err)
	}
	if _, err := b.List(ctx, "nocontainer", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("List(missing container) = %v, want ErrNotFound", err)
	}

	v1 := []byte("model v1 \x00\xff binary")
	if err := b.Put(ctx, "models", "model_1_1", v1, "application/octet-stream"); err != nil {
		t.Fatal(err)
	}
	got, etag1, err := b.Get(ctx, "models", "model_1_1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, v1) || etag1 == "" {
		t.Fatalf("Get = %q, etag %q; want %q and an etag", got, etag1, v1)
	}

	data, etag, changed, err := b.GetIfChanged(ctx, "models", "model_1_1", etag1, 0)
	if err != nil || changed || data != nil || etag != etag1 {
		t.Errorf("GetIfChanged(same etag) = %q, %q, %v, %v; want nil, %q, false, nil", data, etag, changed, err, etag1)
	}
	v2 := []byte("model v2")
	if err := b.Put(ctx, "models", "model_1_1", v2, ""); err != nil {
		t.Fatalf("Put overwrite: %v", err)
	}
	data, etag2, changed, err := b.GetIfChanged(ctx, "models", "model_1_1", etag1, 0)
	if err != nil || !changed || !bytes.Equal(data, v2) || etag2 == etag1 {
		t.Errorf("GetIfChanged(old etag) = %q, %q, %v, %v; want %q, a new etag, true, nil", data, etag2, changed, err, v2)
	}
	if _, _, _, err := b.GetIfChanged(ctx, "models", "model_7_7", etag1, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetIfChanged(missing) = %v, want ErrNotFound", err)
	}

	// A size limit: the blob's Content-Length is checked before its body is read.
	for _, tc := range []struct {
		max     int64
		tooBig  bool
		etag    string
		changed bool
	}{
		{max: int64(len(v2)), changed: true},
		{max: int64(len(v2)) + 1, changed: true},
		{max: int64(len(v2)) - 1, tooBig: true},
		{max: 1, tooBig: true},
		{max: 1, etag: etag2}, // unchanged: nothing read, so no size to refuse
	} {
		data, _, changed, err := b.GetIfChanged(ctx, "models", "model_1_1", tc.etag, tc.max)
		switch {
		case tc.tooBig && !errors.Is(err, ErrTooLarge):
			t.Errorf("GetIfChanged(limit %d) = %d bytes, %v; want ErrTooLarge", tc.max, len(data), err)
		case tc.tooBig && !strings.Contains(err.Error(), fmt.Sprintf("%d bytes, over the limit of %d", len(v2), tc.max)):
			t.Errorf("GetIfChanged(limit %d) error %q, want the size and the limit", tc.max, err)
		case tc.tooBig && data != nil:
			t.Errorf("GetIfChanged(limit %d) returned data with the error", tc.max)
		case !tc.tooBig && (err != nil || changed != tc.changed || (changed && !bytes.Equal(data, v2))):
			t.Errorf("GetIfChanged(limit %d, etag %q) = %q, %v, %v; want changed=%v", tc.max, tc.etag, data, changed, err, tc.changed)
		}
	}

	for _, n := range []string{"model_1_2", "model_2_1.pkl", "other"} {
		if err := b.Put(ctx, "models", n, []byte(n), "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Put(ctx, "preds", "run1/preds_1_1.csv", []byte("TS,Device\n"), "text/csv"); err != nil {
		t.Fatal(err)
	}
	list, err := b.List(ctx, "models", "model_")
	if err != nil {
		t.Fatal(err)
	}
	want := []BlobInfo{{Name: "model_1_1", ETag: etag2, Size: int64(len(v2))}, {Name: "model_1_2", Size: 9}, {Name: "model_2_1.pkl", Size: 13}}
	for i := range list {
		if i > 0 && want[i].ETag == "" {
			want[i].ETag = list[i].ETag // unknown here; checked non-empty below
		}
	}
	if d := cmp.Diff(want, list, cmpopts.IgnoreFields(BlobInfo{}, "LastModified")); d != "" {
		t.Errorf("List (-want +got):\n%s", d)
	}
	for _, bi := range list {
		if bi.ETag == "" || bi.LastModified.IsZero() || time.Since(bi.LastModified) > time.Hour {
			t.Errorf("List item %+v: want an etag and a recent LastModified", bi)
		}
	}
	all, err := b.List(ctx, "models", "")
	if err != nil || len(all) != 4 {
		t.Errorf("List(all) = %d items, %v; want 4", len(all), err)
	}
	if err := b.Delete(ctx, "models", "other"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Get(ctx, "models", "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
}

func testQueue(t *testing.T, a *Account, srv *azurite.Server) {
	ctx := t.Context()
	q := a.Queue("score-jobs")
	if err := q.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := q.Ensure(ctx); err != nil {
		t.Fatalf("Ensure again: %v", err)
	}
	if _, err := a.Queue("missing").Receive(ctx, 1, time.Second); !errors.Is(err, ErrNotFound) {
		t.Errorf("Receive(missing queue) = %v, want ErrNotFound", err)
	}

	bodies := [][]byte{
		[]byte(`{"run":"r1","window":{"start":"2018-08-28T23:00:00Z","end":"2018-08-29T03:00:00Z"},"sensors":[{"device":"1","sensor":"1","model":"model_1_1"}]}`),
		{0x00, 0xff, 0xfe, '\n', '"', '<', '&'}, // bytes that are not valid XML text or UTF-8
		[]byte("plain text"),
	}
	for _, b := range bodies {
		if err := q.Enqueue(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := q.Count(ctx); err != nil || n != len(bodies) {
		t.Errorf("Count = %d, %v; want %d", n, err, len(bodies))
	}

	// The stored text is base64 of the body, as the host expects with messageEncoding base64.
	raw, err := azqueue.NewQueueClientFromConnectionString(srv.ConnectionString(), "score-jobs", nil)
	if err != nil {
		t.Fatal(err)
	}
	peek, err := raw.PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: ptr(int32(32))})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range peek.Messages {
		texts = append(texts, *m.MessageText)
	}
	var wantTexts []string
	for _, b := range bodies {
		wantTexts = append(wantTexts, base64.StdEncoding.EncodeToString(b))
	}
	if d := cmp.Diff(wantTexts, texts); d != "" {
		t.Errorf("stored message texts (-want +got):\n%s", d)
	}

	pk, err := q.Peek(ctx, 32)
	if err != nil || len(pk) != 3 || pk[0].PopReceipt != "" || !bytes.Equal(pk[0].Body, bodies[0]) {
		t.Errorf("Peek = %+v, %v; want the 3 messages, decoded, without pop receipts", pk, err)
	}

	msgs, err := q.Receive(ctx, 32, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for _, m := range msgs {
		got = append(got, m.Body)
		if m.ID == "" || m.PopReceipt == "" || m.DequeueCount != 1 || m.BadEncoding ||
			m.InsertionTime.IsZero() || !m.ExpirationTime.After(m.InsertionTime) || !m.NextVisibleTime.After(time.Now().Add(20*time.Second)) {
			t.Errorf("received message %+v: want id, pop receipt, dequeue count 1, times, hidden for ~30s", m)
		}
	}
	if d := cmp.Diff(bodies, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if again, err := q.Receive(ctx, 32, time.Second); err != nil || len(again) != 0 {
		t.Errorf("Receive while hidden = %d messages, %v; want none", len(again), err)
	}

	// Delete the first; make the second visible now (as the host does on failure with visibilityTimeout 0).
	if err := q.Delete(ctx, msgs[0].ID, msgs[0].PopReceipt); err != nil {
		t.Fatal(err)
	}
	if err := q.Delete(ctx, msgs[0].ID, msgs[0].PopReceipt); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete twice = %v, want ErrNotFound", err)
	}
	newPop, err := q.UpdateVisibility(ctx, msgs[1], 0)
	if err != nil {
		t.Fatal(err)
	}
	if newPop == "" || newPop == msgs[1].PopReceipt {
		t.Errorf("UpdateVisibility pop receipt %q, want a new one", newPop)
	}
	if err := q.Delete(ctx, msgs[1].ID, msgs[1].PopReceipt); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete with the stale pop receipt = %v, want ErrNotFound", err)
	}
	re, err := q.Receive(ctx, 32, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(re) != 1 || re[0].ID != msgs[1].ID || re[0].DequeueCount != 2 || !bytes.Equal(re[0].Body, bodies[1]) {
		t.Errorf("Receive after UpdateVisibility = %+v; want message 2 again, dequeue count 2, same body", re)
	}

	// A message that is not base64 (written by something else) is flagged, not decoded.
	bad := a.Queue("raw-text")
	if err := bad.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	rawBad, err := azqueue.NewQueueClientFromConnectionString(srv.ConnectionString(), "raw-text", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rawBad.EnqueueMessage(ctx, "{not base64}", nil); err != nil {
		t.Fatal(err)
	}
	bm, err := bad.Receive(ctx, 1, time.Second)
	if err != nil || len(bm) != 1 || !bm[0].BadEncoding || bm[0].Body != nil || bm[0].Text != "{not base64}" {
		t.Errorf("Receive(non-base64) = %+v, %v; want BadEncoding with the raw Text", bm, err)
	}
	// EnqueueText copies a received message's stored text unchanged (the poison move).
	copied := a.Queue("raw-text-poison")
	if err := copied.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if len(bm) == 1 {
		if err := copied.EnqueueText(ctx, bm[0].Text); err != nil {
			t.Fatal(err)
		}
		cm, err := copied.Receive(ctx, 1, time.Second)
		if err != nil || len(cm) != 1 || cm[0].Text != "{not base64}" {
			t.Errorf("Receive after EnqueueText = %+v, %v; want the same stored text", cm, err)
		}
	}

	if err := q.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Count(ctx); err != nil || n != 0 {
		t.Errorf("Count after Clear = %d, %v; want 0", n, err)
	}
}

// testEnqueueMany checks that every message of a parallel enqueue arrives exactly once.
func testEnqueueMany(t *testing.T, a *Account) {
	ctx := t.Context()
	q := a.Queue("many")
	if err := q.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	bodies := jobBodies(300)
	got, err := q.EnqueueMany(ctx, bodies, 8)
	if err != nil || got != len(bodies) {
		t.Fatalf("EnqueueMany = %d, %v; want %d, nil", got, err, len(bodies))
	}
	seen := make(map[string]int, len(bodies))
	for {
		ms, err := q.Receive(ctx, MaxReceive, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			seen[string(m.Body)]++
		}
	}
	for _, b := range bodies {
		if seen[string(b)] != 1 {
			t.Errorf("message %s received %d times, want once", b, seen[string(b)])
		}
	}
	if len(seen) != len(bodies) {
		t.Errorf("received %d distinct messages, want %d", len(seen), len(bodies))
	}
}

func jobBodies(n int) [][]byte {
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"run":"20180828T230000Z-20180829T030000Z","sensors":[{"device":"%d","sensor":"1","model":"model_%d_1"}]}`, i, i)
	}
	return bodies
}

// TestEnqueueThroughput enqueues 10,000 messages, as a large fan-out does, and
// logs the rate (the figure the issue asks for). Draining 10,000 messages from
// Azurite takes minutes (its in-memory queue scans hidden messages), so the
// count is checked instead; exactly-once delivery is checked in testEnqueueMany.
func TestEnqueueThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 10,000 message enqueue")
	}
	srv := azurite.Shared(t)
	q := newAccount(t, srv).Queue("throughput")
	ctx := t.Context()
	if err := q.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 10000
	bodies := jobBodies(n)
	for _, p := range []int{16} {
		start := time.Now()
		got, err := q.EnqueueMany(ctx, bodies, p)
		elapsed := time.Since(start)
		if err != nil || got != n {
			t.Fatalf("EnqueueMany = %d, %v; want %d, nil", got, err, n)
		}
		t.Logf("EnqueueMany: %d messages, parallelism %d, in %s: %.0f msgs/s (Azurite in memory)", n, p, elapsed.Round(time.Millisecond), n/elapsed.Seconds())
	}
	if c, err := q.Count(ctx); err != nil || c != n {
		t.Errorf("Count = %d, %v; want %d", c, err, n)
	}
}

// BenchmarkEnqueueMany reports msgs/s for batches of 1,000 at several parallelisms.
func BenchmarkEnqueueMany(b *testing.B) {
	srv := azurite.Shared(b)
	a := newAccount(b, srv)
	bodies := jobBodies(1000)
	for _, p := range []int{1, 8, 16, 32} {
		b.Run(fmt.Sprintf("parallelism=%d", p), func(b *testing.B) {
			q := a.Queue(fmt.Sprintf("bench-%d", p))
			if err := q.Ensure(b.Context()); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if n, err := q.EnqueueMany(b.Context(), bodies, p); err != nil || n != len(bodies) {
					b.Fatalf("EnqueueMany = %d, %v", n, err)
				}
			}
			b.ReportMetric(float64(len(bodies)*b.N)/b.Elapsed().Seconds(), "msgs/s")
			if err := q.Clear(b.Context()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func testEnqueueManyStopsOnError(t *testing.T, a *Account) {
	q := a.Queue("never-created") // enqueue fails: QueueNotFound
	bodies := slices.Repeat([][]byte{[]byte("x")}, 50)
	n, err := q.EnqueueMany(t.Context(), bodies, 4)
	if n != 0 || !errors.Is(err, ErrNotFound) {
		t.Errorf("EnqueueMany to a missing queue = %d, %v; want 0 and ErrNotFound", n, err)
	}
	if n, err := q.EnqueueMany(t.Context(), nil, 4); n != 0 || err != nil {
		t.Errorf("EnqueueMany(nil) = %d, %v; want 0, nil", n, err)
	}
}

// TestStorageDown stops its own Azurite and checks that calls fail quickly with a transient error.
func TestStorageDown(t *testing.T) {
	srv := azurite.ForTest(t)
	a := newAccount(t, srv)
	ctx := t.Context()
	q := a.Queue("jobs")
	if err := q.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func(context.Context) error
	}{
		{"get", func(ctx context.Context) error { _, _, err := a.Blobs().Get(ctx, "models", "m"); return err }},
		{"put", func(ctx context.Context) error { return a.Blobs().Put(ctx, "models", "m", []byte("x"), "") }},
		{"list", func(ctx context.Context) error { _, err := a.Blobs().List(ctx, "models", ""); return err }},
		{"enqueue", func(ctx context.Context) error { return q.Enqueue(ctx, []byte("x")) }},
		{"receive", func(ctx context.Context) error { _, err := q.Receive(ctx, 1, time.Second); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			start := time.Now()
			err := tc.call(ctx)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s with storage down, want a quick failure", d)
			}
			if err == nil || !IsTransient(err) || errors.Is(err, ErrNotFound) {
				t.Errorf("error = %v (transient %v), want a transient error", err, IsTransient(err))
			}
		})
	}
}

func TestIsTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"canceled", context.Canceled, false},
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), true},
		{"not found", fmt.Errorf("get: %w", ErrNotFound), false},
		{"plain", errors.New("bad request"), false},
	} {
		if got := IsTransient(tc.err); got != tc.want {
			t.Errorf("%s: IsTransient = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
