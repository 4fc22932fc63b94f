package scoresensor

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/svm"
)

func newMemCache(models *memModels, maxBytes int64) *Cache {
	fetch := func(ctx context.Context, name, etag string) ([]byte, string, bool, error) {
		return models.GetIfChanged(ctx, "models", name, etag, 0)
	}
	return NewCache(maxBytes, fetch, svm.Load)
}

func decisionOf(t *testing.T, m *svm.Model, x float64) float64 {
	t.Helper()
	d := []float64{0}
	m.DecisionBatch(d, []float64{x})
	return d[0]
}

func TestCacheRevalidatesByETag(t *testing.T) {
	models := &memModels{}
	models.Set("m", linearModel(t, -10))
	c := newMemCache(models, 1<<20)

	for range 3 {
		m, etag, err := c.Get(t.Context(), "m")
		if err != nil {
			t.Fatal(err)
		}
		if got := decisionOf(t, m, 12); got != 2 || etag != `"0x1"` {
			t.Fatalf("decision = %v, ETag %s; want 2, \"0x1\"", got, etag)
		}
	}
	models.Set("m", linearModel(t, -20)) // replaced: new ETag
	m, etag, err := c.Get(t.Context(), "m")
	if err != nil {
		t.Fatal(err)
	}
	if got := decisionOf(t, m, 12); got != -8 || etag != `"0x2"` {
		t.Fatalf("decision after the blob changed = %v, ETag %s; want -8, \"0x2\"", got, etag)
	}
	want := []string{`m `, `m "0x1"`, `m "0x1"`, `m "0x1"`}
	if diff := cmp.Diff(want, models.calls); diff != "" {
		t.Errorf("GetIfChanged calls (-want +got):\n%s", diff)
	}
	st := c.Stats()
	if st.Hits != 2 || st.Loads != 2 || st.Entries != 1 {
		t.Errorf("stats %+v, want 2 hits, 2 loads, 1 entry", st)
	}
}

func TestCacheLRUByBytes(t *testing.T) {
	models := &memModels{}
	for _, n := range []string{"a", "b", "c"} {
		models.Set(n, linearModel(t, -10))
	}
	one := modelSize(len(linearModel(t, -10)), mustLoad(t, linearModel(t, -10)))
	c := newMemCache(models, 2*one) // room for two models

	get := func(name string) {
		t.Helper()
		if _, _, err := c.Get(t.Context(), name); err != nil {
			t.Fatal(err)
		}
	}
	get("a")
	get("b")
	get("a") // a is now the most recent
	get("c") // evicts b
	if st := c.Stats(); st.Entries != 2 || st.Evictions != 1 || st.Bytes != 2*one || st.Loads != 3 {
		t.Fatalf("stats %+v, want 2 entries of %d bytes, 1 eviction, 3 loads", st, one)
	}
	get("a") // still cached: a hit
	get("b") // was evicted: loaded again
	if st := c.Stats(); st.Hits != 2 || st.Loads != 4 {
		t.Errorf("stats %+v, want 2 hits and 4 loads", st)
	}

	tiny := newMemCache(models, one-1) // nothing fits
	for range 2 {
		if _, _, err := tiny.Get(t.Context(), "a"); err != nil {
			t.Fatal(err)
		}
	}
	if st := tiny.Stats(); st.Entries != 0 || st.Loads != 2 || st.Bytes != 0 {
		t.Errorf("tiny cache stats %+v, want nothing kept and 2 loads", st)
	}
}

func TestCacheLoadsOnceUnderConcurrency(t *testing.T) {
	models := &memModels{}
	models.Set("m", linearModel(t, -10))
	release := make(chan struct{})
	var fetches atomic.Int32
	fetch := func(ctx context.Context, name, etag string) ([]byte, string, bool, error) {
		fetches.Add(1)
		<-release
		return models.GetIfChanged(ctx, "models", name, etag, 0)
	}
	c := NewCache(1<<20, fetch, svm.Load)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, _, err := c.Get(t.Context(), "m")
			errs <- err
		})
	}
	time.Sleep(50 * time.Millisecond) // let the goroutines pile up on the first fetch
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if st := c.Stats(); st.Loads != 1 {
		t.Errorf("%d loads for %d concurrent Gets (%d fetches), want 1", st.Loads, n, fetches.Load())
	}
}

func TestCacheErrors(t *testing.T) {
	models := &memModels{}
	models.Set("bad", []byte("not a model"))
	c := newMemCache(models, 1<<20)
	if _, _, err := c.Get(t.Context(), "bad"); err == nil || !isLoadError(err) {
		t.Errorf("Get(bad) err = %v, want a load error", err)
	}
	if _, _, err := c.Get(t.Context(), "missing"); err == nil || isLoadError(err) {
		t.Errorf("Get(missing) err = %v, want a store error", err)
	}
	if st := c.Stats(); st.Entries != 0 {
		t.Errorf("stats %+v, want nothing cached", st)
	}
}

func mustLoad(t *testing.T, b []byte) *svm.Model {
	t.Helper()
	m, err := svm.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCacheCallerCancelled: the invocation whose Get started a shared fetch
// ends (its context is cancelled); it returns at once, and the other Gets
// waiting on the same fetch still get the model.
func TestCacheCallerCancelled(t *testing.T) {
	models := &memModels{}
	models.Set("m", linearModel(t, -10))
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	fetch := func(ctx context.Context, name, etag string) ([]byte, string, bool, error) {
		once.Do(func() { close(started) })
		select {
		case <-release:
		case <-ctx.Done():
			return nil, "", false, ctx.Err()
		}
		return models.GetIfChanged(ctx, "models", name, etag, 0)
	}
	c := NewCache(1<<20, fetch, svm.Load)

	firstCtx, cancelFirst := context.WithCancel(t.Context())
	firstErr := make(chan error, 1)
	go func() {
		_, _, err := c.Get(firstCtx, "m")
		firstErr <- err
	}()
	<-started
	secondErr := make(chan error, 1)
	go func() {
		m, _, err := c.Get(t.Context(), "m")
		if err == nil && decisionOf(t, m, 12) != 2 {
			t.Errorf("second Get: wrong model")
		}
		secondErr <- err
	}()
	time.Sleep(20 * time.Millisecond) // the second Get joins the fetch
	cancelFirst()
	select {
	case err := <-firstErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Get: err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled Get did not return")
	}
	close(release)
	if err := <-secondErr; err != nil {
		t.Errorf("second Get failed with the first caller's cancellation: %v", err)
	}
	if st := c.Stats(); st.Loads != 1 {
		t.Errorf("stats %+v, want 1 load", st)
	}
}

func TestCacheLoadPanic(t *testing.T) {
	models := &memModels{}
	models.Set("m", linearModel(t, -10))
	c := NewCache(1<<20, func(ctx context.Context, name, etag string) ([]byte, string, bool, error) {
		return models.GetIfChanged(ctx, "models", name, etag, 0)
	}, func([]byte) (*svm.Model, error) { panic("bad parser") })
	if _, _, err := c.Get(t.Context(), "m"); err == nil || !strings.Contains(err.Error(), "panic: bad parser") {
		t.Errorf("Get with a panicking loader: %v, want the panic as an error", err)
	}
}

// TestCacheTrustsTheJobsVersion: GetVersion with the cached version's ETag
// asks the store nothing; with another ETag (the blob replaced since, or the
// cache holding an older version) or none it revalidates as Get does.
func TestCacheTrustsTheJobsVersion(t *testing.T) {
	models := &memModels{}
	models.Set("m", linearModel(t, -10)) // "0x1"
	c := newMemCache(models, 1<<20)
	tests := []struct {
		name      string
		etag      string
		replace   bool   // replace the blob first
		wantETag  string // of the version returned
		wantDec   float64
		wantCalls []string // GetIfChanged calls made by this step
	}{
		{name: "first use, version named", etag: `"0x1"`, wantETag: `"0x1"`, wantDec: 2, wantCalls: []string{`m `}},
		{name: "cached version named", etag: `"0x1"`, wantETag: `"0x1"`, wantDec: 2},
		{name: "no version named", etag: "", wantETag: `"0x1"`, wantDec: 2, wantCalls: []string{`m "0x1"`}},
		{name: "replaced, old version named: still cached", etag: `"0x1"`, replace: true, wantETag: `"0x1"`, wantDec: 2},
		{name: "new version named", etag: `"0x2"`, wantETag: `"0x2"`, wantDec: -8, wantCalls: []string{`m "0x1"`}},
		{name: "an unknown version named", etag: `"0x9"`, wantETag: `"0x2"`, wantDec: -8, wantCalls: []string{`m "0x2"`}},
	}
	for _, tt := range tests {
		if tt.replace {
			models.Set("m", linearModel(t, -20))
		}
		before := len(models.calls)
		m, etag, err := c.GetVersion(t.Context(), "m", tt.etag)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := decisionOf(t, m, 12); got != tt.wantDec || etag != tt.wantETag {
			t.Errorf("%s: decision %v, ETag %s; want %v, %s", tt.name, got, etag, tt.wantDec, tt.wantETag)
		}
		if diff := cmp.Diff(tt.wantCalls, models.calls[before:], cmpEmpty); diff != "" {
			t.Errorf("%s: GetIfChanged calls (-want +got):\n%s", tt.name, diff)
		}
	}
	if st := c.Stats(); st.Trusted != 2 || st.Loads != 2 {
		t.Errorf("stats %+v, want 2 trusted, 2 loads", st)
	}
}

// cmpEmpty makes a nil and an empty slice equal.
var cmpEmpty = cmp.FilterValues(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

// TestRunUsesTheJobsCachedVersion: a job naming the cached model version is
// scored without a model request, and records that version.
func TestRunUsesTheJobsCachedVersion(t *testing.T) {
	fx := newFixture(t, Config{})
	etag := fx.models.etags[k11.ModelName()]
	job := sensor.Job{Run: runID, Window: window, Sensors: []sensor.JobEntry{{Key: k11, Model: k11.ModelName(), ModelETag: etag}}}
	for i := range 3 {
		if _, err := fx.f.Run(t.Context(), azfunc.QueueMessage{ID: "m", DequeueCount: 1, Body: mustJSON(t, job)}); err != nil {
			t.Fatal(err)
		}
		if o, _, _ := fx.outcomes.Outcome(t.Context(), runID, k11); o.ModelETag != etag {
			t.Errorf("run %d: outcome model ETag %q, want %q", i, o.ModelETag, etag)
		}
	}
	if len(fx.models.calls) != 1 {
		t.Errorf("model requests %q, want the first load only", fx.models.calls)
	}
}
