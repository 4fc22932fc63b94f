package scoresensor

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/svm"
)

// memModels is an in-memory ModelStore: the ETag changes on every Set.
type memModels struct {
	mu      sync.Mutex
	blobs   map[string][]byte
	etags   map[string]string
	version int
	calls   []string // "name etag" of each GetIfChanged
	err     error
}

func (m *memModels) Set(name string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.blobs == nil {
		m.blobs, m.etags = map[string][]byte{}, map[string]string{}
	}
	m.version++
	m.blobs[name] = data
	m.etags[name] = fmt.Sprintf(`"0x%d"`, m.version)
}

func (m *memModels) GetIfChanged(_ context.Context, container, name, etag string, _ int64) ([]byte, string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, name+" "+etag)
	if m.err != nil {
		return nil, "", false, m.err
	}
	data, ok := m.blobs[name]
	if !ok {
		return nil, "", false, fmt.Errorf("get blob %s/%s: %w", container, name, storage.ErrNotFound)
	}
	if etag != "" && etag == m.etags[name] {
		return nil, etag, false, nil
	}
	return bytes.Clone(data), m.etags[name], true, nil
}

type memPoints struct {
	pts map[sensor.Key][]sensor.Point
	err error
}

func (m *memPoints) Points(_ context.Context, key sensor.Key, w sensor.Window, width time.Duration) ([]sensor.Point, error) {
	if m.err != nil {
		return nil, m.err
	}
	if width != 5*time.Second {
		return nil, fmt.Errorf("width %s, want 5s", width)
	}
	var out []sensor.Point
	for _, p := range m.pts[key] {
		if p.End.After(w.Start) && !p.End.After(w.End) {
			out = append(out, p)
		}
	}
	return out, nil
}

type memBlobs struct {
	mu       sync.Mutex
	blobs    map[string]string
	metadata map[string]map[string]string
	puts     int
	err      error
}

func (m *memBlobs) PutWithMetadata(_ context.Context, container, name string, data []byte, contentType string, metadata map[string]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if contentType != "text/csv" {
		return fmt.Errorf("content type %q", contentType)
	}
	if m.blobs == nil {
		m.blobs = map[string]string{}
	}
	m.blobs[container+"/"+name] = string(data)
	m.puts++
	if m.metadata == nil {
		m.metadata = map[string]map[string]string{}
	}
	m.metadata[container+"/"+name] = metadata
	return nil
}

// memOutcomes keeps the last outcome of each (run, sensor) and every status
// change in order.
type memOutcomes struct {
	mu       sync.Mutex
	attempts map[string]int
	last     map[string]sensor.Outcome
	log      []string
	startErr error
}

func (m *memOutcomes) StartAttempt(_ context.Context, run string, key sensor.Key) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.startErr != nil {
		return 0, m.startErr
	}
	if m.attempts == nil {
		m.attempts = map[string]int{}
	}
	id := run + " " + key.String()
	m.attempts[id]++
	m.log = append(m.log, id+" running")
	return m.attempts[id], nil
}

func (m *memOutcomes) Outcome(_ context.Context, run string, key sensor.Key) (sensor.Outcome, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.last[run+" "+key.String()]
	return o, ok, nil
}

func (m *memOutcomes) FinishOutcome(_ context.Context, o sensor.Outcome) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		m.last = map[string]sensor.Outcome{}
	}
	id := o.Run + " " + o.Key.String()
	m.last[id] = o
	m.log = append(m.log, id+" "+o.Status)
	return nil
}

// linearModel returns the bytes of a model whose decision is exactly x - 10:
// one support vector 1 with weight 1 and intercept -10, linear kernel.
func linearModel(t *testing.T, intercept float64) []byte {
	t.Helper()
	m, err := svm.New(svm.Params{Kernel: svm.Linear, SupportVectors: [][]float64{{1}}, DualCoef: []float64{1}, Intercept: intercept})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := svm.WriteJSON(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
