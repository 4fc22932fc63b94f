package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/golden"
	"github.com/batchscore/batchscore/internal/sensor"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// memBlobs is an in-memory RawSink.
type memBlobs struct {
	mu    sync.Mutex
	blobs map[string]string // container/name -> data
	puts  int
	err   error
}

func (m *memBlobs) Put(_ context.Context, container, name string, data []byte, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if m.blobs == nil {
		m.blobs = make(map[string]string)
	}
	m.blobs[container+"/"+name] = string(data)
	m.puts++
	return nil
}

// memStore is an in-memory ReadingStore keyed by reading identity.
type memStore struct {
	mu       sync.Mutex
	rows     map[[3]string]sensor.StoredReading
	progress map[string]time.Time
	err      error // of InsertReadings
	recErr   error // of RecordIngest
}

func (m *memStore) RecordIngest(_ context.Context, source string, enqueued time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recErr != nil {
		return m.recErr
	}
	if m.progress == nil {
		m.progress = make(map[string]time.Time)
	}
	if enqueued.After(m.progress[source]) {
		m.progress[source] = enqueued
	}
	return nil
}

func (m *memStore) InsertReadings(_ context.Context, rs []sensor.StoredReading) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, m.err
	}
	if m.rows == nil {
		m.rows = make(map[[3]string]sensor.StoredReading)
	}
	n := 0
	for _, r := range rs {
		id := [3]string{r.Source, fmt.Sprint(r.Sequence), fmt.Sprint(r.Index)}
		if _, ok := m.rows[id]; ok {
			continue
		}
		m.rows[id] = r
		n++
	}
	return n, nil
}

var enq = time.Date(2018, 8, 28, 23, 0, 6, 123e6, time.UTC)

func event(seq int64, body string) azfunc.Event {
	return azfunc.Event{Body: []byte(body), SequenceNumber: seq, Offset: fmt.Sprint(4096 * seq), EnqueuedTime: enq.Add(time.Duration(seq-100) * time.Second)}
}

func TestParseReading(t *testing.T) {
	ts := time.Date(2018, 8, 28, 23, 0, 5, 0, time.UTC)
	key := sensor.Key{Device: "1", Sensor: "1"}
	for _, tc := range []struct {
		name, in string
		want     sensor.Reading
		err      string // substring of the error; "" for success
	}{
		{"reference", `{"TS":"2018-08-28T23:00:05Z","Device":1,"Sensor":1,"Value":10.16}`, sensor.Reading{TS: ts, Key: key, Value: 10.16}, ""},
		{"tag", `{"TS":"2018-08-28T23:00:05Z","Device":1,"Tag":1,"Value":10.16}`, sensor.Reading{TS: ts, Key: key, Value: 10.16}, ""},
		{"sensor wins over tag", `{"TS":"2018-08-28T23:00:05Z","Device":1,"Sensor":1,"Tag":9,"Value":1}`, sensor.Reading{TS: ts, Key: key, Value: 1}, ""},
		{"lower-case names", `{"ts":"2018-08-28T23:00:05Z","device":"1","sensor":"1","value":-2.5e-3}`, sensor.Reading{TS: ts, Key: key, Value: -2.5e-3}, ""},
		{"string ids", `{"TS":"2018-08-28T23:00:05Z","Device":"pump-7","Sensor":"rpm","Value":1480}`, sensor.Reading{TS: ts, Key: sensor.Key{Device: "pump-7", Sensor: "rpm"}, Value: 1480}, ""},
		{"offset zone", `{"TS":"2018-08-29T01:00:05+02:00","Device":1,"Sensor":1,"Value":1}`, sensor.Reading{TS: ts, Key: key, Value: 1}, ""},
		{"fraction", `{"TS":"2018-08-28T23:00:05.250Z","Device":1,"Sensor":1,"Value":1}`, sensor.Reading{TS: ts.Add(250 * time.Millisecond), Key: key, Value: 1}, ""},
		{"no zone is UTC", `{"TS":"2018-08-28T23:00:05","Device":1,"Sensor":1,"Value":1}`, sensor.Reading{TS: ts, Key: key, Value: 1}, ""},
		{"csv form", `{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":1}`, sensor.Reading{TS: ts, Key: key, Value: 1}, ""},
		{"csv form without fraction", `{"TS":"2018-08-28 23:00:05","Device":1,"Sensor":1,"Value":1}`, sensor.Reading{TS: ts, Key: key, Value: 1}, ""},
		{"unknown fields ignored", `{"TS":"2018-08-28T23:00:05Z","Device":1,"Sensor":1,"Value":1,"EventProcessedUtcTime":"x"}`, sensor.Reading{TS: ts, Key: key, Value: 1}, ""},

		{"array not object", `[1]`, sensor.Reading{}, "not a JSON object"},
		{"missing TS", `{"Device":1,"Sensor":1,"Value":1}`, sensor.Reading{}, "missing TS"},
		{"epoch TS", `{"TS":1535497205,"Device":1,"Sensor":1,"Value":1}`, sensor.Reading{}, "TS must be a string"},
		{"bad TS", `{"TS":"yesterday","Device":1,"Sensor":1,"Value":1}`, sensor.Reading{}, "neither RFC 3339"},
		{"missing device", `{"TS":"2018-08-28T23:00:05Z","Sensor":1,"Value":1}`, sensor.Reading{}, "missing Device"},
		{"missing sensor", `{"TS":"2018-08-28T23:00:05Z","Device":1,"Value":1}`, sensor.Reading{}, "missing Sensor (or Tag)"},
		{"fractional id", `{"TS":"2018-08-28T23:00:05Z","Device":1.5,"Sensor":1,"Value":1}`, sensor.Reading{}, "not an integer"},
		{"bool id", `{"TS":"2018-08-28T23:00:05Z","Device":true,"Sensor":1,"Value":1}`, sensor.Reading{}, "string or an integer"},
		{"underscore id", `{"TS":"2018-08-28T23:00:05Z","Device":"a_b","Sensor":1,"Value":1}`, sensor.Reading{}, "invalid sensor key"},
		{"empty id", `{"TS":"2018-08-28T23:00:05Z","Device":"","Sensor":1,"Value":1}`, sensor.Reading{}, "invalid sensor key"},
		{"missing value", `{"TS":"2018-08-28T23:00:05Z","Device":1,"Sensor":1}`, sensor.Reading{}, "missing Value"},
		{"null value", `{"TS":"2018-08-28T23:00:05Z","Device":1,"Sensor":1,"Value":null}`, sensor.Reading{}, "missing Value"},
		{"string value", `{"TS":"2018-08-28T23:00:05Z","Device":1,"Sensor":1,"Value":"1.5"}`, sensor.Reading{}, "must be a number"},
		{"huge value", `{"TS":"2018-08-28T23:00:05Z","Device":1,"Sensor":1,"Value":1e400}`, sensor.Reading{}, "not a finite"},
		{"subnormal value", `{"TS":"2018-08-28T23:00:05Z","Device":1,"Sensor":1,"Value":-1e-310}`, sensor.Reading{}, "too close to zero"},
		{"smallest normal value", `{"TS":"2018-08-28T23:00:05Z","Device":1,"Sensor":1,"Value":2.2250738585072014e-308}`,
			sensor.Reading{TS: time.Date(2018, 8, 28, 23, 0, 5, 0, time.UTC), Key: sensor.Key{Device: "1", Sensor: "1"}, Value: 0x1p-1022}, ""},
		{"underflow to zero", `{"TS":"2018-08-28T23:00:05Z","Device":1,"Sensor":1,"Value":1e-400}`,
			sensor.Reading{TS: time.Date(2018, 8, 28, 23, 0, 5, 0, time.UTC), Key: sensor.Key{Device: "1", Sensor: "1"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseReading([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("reading (-want +got):\n%s", diff)
			}
		})
	}
}

// mixedBatch holds good and bad events of every kind.
func mixedBatch() azfunc.EventBatch {
	return azfunc.EventBatch{
		Partition: azfunc.PartitionContext{FullyQualifiedNamespace: "ns.servicebus.windows.net", EventHubName: "readings", PartitionId: "3"},
		Events: []azfunc.Event{
			event(100, `{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":10.16}`),
			event(101, `[{"TS":"2018-08-28T23:00:05Z","Device":1,"Tag":4,"Value":84.53},{"TS":"2018-08-28T23:00:05Z","Device":"2","Sensor":"x_y","Value":1},{"TS":"2018-08-28T23:00:05Z","Device":2,"Sensor":4,"Value":80.25}]`),
			event(102, `not json at all`),
			event(103, `{"TS":"2018-08-20T23:00:05Z","Device":1,"Sensor":1,"Value":3}`),
			event(104, `[]`),
			event(105, `"just a string"`),
			event(106, "{\"TS\":\"2018-08-28T23:00:10Z\",\"Device\":\"caf\xe9\",\"Sensor\":1,\"Value\":1}"),
			event(107, `  {"TS":"2018-08-28T23:00:10Z","Device":3,"Sensor":5,"Value":-0.5}  `),
			event(108, `[{"TS":"2018-08-28T23:00:10Z","Device":3,"Sensor":5,"Value":1},{"TS":"2018-08-28T23:00:10Z","Device":3,"Sensor":5,"Value":2},{"TS":"2018-08-28T23:00:10Z","Device":3,"Sensor":5,"Value":3},{"TS":"2018-08-28T23:00:10Z","Device":3,"Sensor":5,"Value":4}]`),
			event(109, `{"TS":"2018-08-28T23:00:10Z","Device":3,"Sensor":5,"Value":1}`+strings.Repeat(" ", 200)),
		},
	}
}

func TestRunMixedBatchGolden(t *testing.T) {
	blobs, store := &memBlobs{}, &memStore{}
	f := New(Config{MaxEventBytes: 250, MaxReadingsPerEvent: 3}, blobs, store)
	res, err := f.Run(t.Context(), mixedBatch())
	if err != nil {
		t.Fatal(err)
	}
	name := "2018/08/28/23/ns.servicebus.windows.net/readings/3/00000000000000000100-00000000000000000109.jsonl"
	want := Result{Events: 10, Readings: 4, Rejected: 8, Inserted: 4, Duplicates: 0, RawBlob: name, RejectsBlob: name}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if len(blobs.blobs) != 2 {
		t.Errorf("blobs %v, want raw and rejects", keys(blobs.blobs))
	}
	checkGolden(t, "mixed_raw.jsonl", blobs.blobs["raw/"+name])
	checkGolden(t, "mixed_rejects.jsonl", blobs.blobs["rejects/"+name])

	var got []string
	for _, r := range store.rows {
		got = append(got, fmt.Sprintf("%s %d %d %s %s %s %v", r.Source, r.Sequence, r.Index, r.Key.Device, r.Key.Sensor, r.TS.Format(time.RFC3339Nano), r.Value))
	}
	wantRows := []string{
		"ns.servicebus.windows.net/readings/3 100 0 1 1 2018-08-28T23:00:05Z 10.16",
		"ns.servicebus.windows.net/readings/3 101 0 1 4 2018-08-28T23:00:05Z 84.53",
		"ns.servicebus.windows.net/readings/3 101 2 2 4 2018-08-28T23:00:05Z 80.25",
		"ns.servicebus.windows.net/readings/3 107 0 3 5 2018-08-28T23:00:10Z -0.5",
	}
	if diff := cmp.Diff(wantRows, sorted(got)); diff != "" {
		t.Errorf("stored rows (-want +got):\n%s", diff)
	}
}

func TestRunRedeliveryChangesNothing(t *testing.T) {
	blobs, store := &memBlobs{}, &memStore{}
	f := New(Config{MaxEventBytes: 250, MaxReadingsPerEvent: 3}, blobs, store)
	first, err := f.Run(t.Context(), mixedBatch())
	if err != nil {
		t.Fatal(err)
	}
	before := clone(blobs.blobs)
	rows := len(store.rows)
	second, err := f.Run(t.Context(), mixedBatch())
	if err != nil {
		t.Fatal(err)
	}
	if second.Inserted != 0 || second.Duplicates != first.Inserted {
		t.Errorf("redelivery inserted %d, duplicates %d; want 0 and %d", second.Inserted, second.Duplicates, first.Inserted)
	}
	if len(store.rows) != rows {
		t.Errorf("rows %d after redelivery, want %d", len(store.rows), rows)
	}
	if diff := cmp.Diff(before, blobs.blobs); diff != "" {
		t.Errorf("blobs changed on redelivery (-first +second):\n%s", diff)
	}
}

func TestRunFailures(t *testing.T) {
	batch := mixedBatch()
	t.Run("blob write fails", func(t *testing.T) {
		store := &memStore{}
		f := New(Config{}, &memBlobs{err: errors.New("storage down")}, store)
		if _, err := f.Run(t.Context(), batch); err == nil {
			t.Fatal("err = nil")
		}
		if len(store.rows) != 0 {
			t.Errorf("%d rows inserted though the raw blob was not written", len(store.rows))
		}
	})
	t.Run("sql fails", func(t *testing.T) {
		f := New(Config{}, &memBlobs{}, &memStore{err: errors.New("db down")})
		_, err := f.Run(t.Context(), batch)
		if err == nil || azfunc.IsPermanent(err) {
			t.Fatalf("err = %v, want a transient error", err)
		}
	})
	t.Run("all events bad still succeeds", func(t *testing.T) {
		blobs := &memBlobs{}
		store := &memStore{err: errors.New("must not be called")}
		f := New(Config{}, blobs, store)
		b := azfunc.EventBatch{Partition: batch.Partition, Events: []azfunc.Event{event(7, "{"), event(8, "[1,2]")}}
		res, err := f.Run(t.Context(), b)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rejected != 3 || res.Readings != 0 || blobs.puts != 2 {
			t.Errorf("result %+v, %d puts; want 3 rejected, 0 readings, 2 blobs", res, blobs.puts)
		}
		// The partition still moved on: the ingest mark sees it.
		if got, want := store.progress["ns.servicebus.windows.net/readings/3"], event(8, "").EnqueuedTime; !got.Equal(want) {
			t.Errorf("progress %v, want %v", got, want)
		}
	})
	t.Run("progress fails", func(t *testing.T) {
		f := New(Config{}, &memBlobs{}, &memStore{recErr: errors.New("db down")})
		if _, err := f.Run(t.Context(), batch); err == nil || azfunc.IsPermanent(err) {
			t.Fatalf("err = %v, want a transient error", err)
		}
	})
	t.Run("empty batch", func(t *testing.T) {
		blobs := &memBlobs{}
		res, err := New(Config{}, blobs, &memStore{}).Run(t.Context(), azfunc.EventBatch{})
		if err != nil || res != (Result{}) || blobs.puts != 0 {
			t.Errorf("Run(empty) = %+v, %v, %d puts", res, err, blobs.puts)
		}
	})
}

// TestRunRefusesBatchWithoutPartition: a batch whose partition context lacks
// the namespace, hub or partition has no identity to store its readings
// under. It is refused as permanent (the handler sets it aside) before
// anything is written, never stored as unknown/unknown.
func TestRunRefusesBatchWithoutPartition(t *testing.T) {
	full := azfunc.PartitionContext{FullyQualifiedNamespace: "ns.servicebus.windows.net", EventHubName: "readings", PartitionId: "3"}
	for _, tc := range []struct {
		name string
		edit func(*azfunc.PartitionContext)
	}{
		{"no context", func(p *azfunc.PartitionContext) { *p = azfunc.PartitionContext{} }},
		{"no namespace", func(p *azfunc.PartitionContext) { p.FullyQualifiedNamespace = "" }},
		{"no hub", func(p *azfunc.PartitionContext) { p.EventHubName = "" }},
		{"no partition", func(p *azfunc.PartitionContext) { p.PartitionId = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blobs, store := &memBlobs{}, &memStore{}
			b := mixedBatch()
			b.Partition = full
			tc.edit(&b.Partition)
			_, err := New(Config{}, blobs, store).Run(t.Context(), b)
			if err == nil || !azfunc.IsPermanent(err) || !strings.Contains(err.Error(), "partition context") {
				t.Fatalf("err = %v, want a permanent error naming the partition context", err)
			}
			if blobs.puts != 0 || len(store.rows) != 0 {
				t.Errorf("%d blobs written, %d rows stored; want nothing", blobs.puts, len(store.rows))
			}
		})
	}
}

// TestRunNamespaceIsPartOfTheIdentity: the same hub, partition and sequence
// numbers in another namespace (a hub recreated elsewhere, a failover
// namespace) are other events: stored, not counted as duplicates, and their
// raw blobs do not overwrite each other.
func TestRunNamespaceIsPartOfTheIdentity(t *testing.T) {
	blobs, store := &memBlobs{}, &memStore{}
	f := New(Config{MaxEventBytes: 250, MaxReadingsPerEvent: 3}, blobs, store)
	var results []Result
	for _, ns := range []string{"old.servicebus.windows.net", "new.servicebus.windows.net"} {
		b := mixedBatch()
		b.Partition.FullyQualifiedNamespace = ns
		res, err := f.Run(t.Context(), b)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	if results[1].Inserted != 4 || results[1].Duplicates != 0 {
		t.Errorf("second namespace: %d inserted, %d duplicates; want 4 and 0", results[1].Inserted, results[1].Duplicates)
	}
	if len(store.rows) != 8 {
		t.Errorf("%d rows stored, want 8", len(store.rows))
	}
	if results[0].RawBlob == results[1].RawBlob || len(blobs.blobs) != 4 {
		t.Errorf("raw blobs %s and %s, %d blobs in all: want distinct names, 4 blobs", results[0].RawBlob, results[1].RawBlob, len(blobs.blobs))
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), []byte(got), *update)
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return sorted(out)
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestRunLogsRejectsOncePerBatch(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	f := New(Config{MaxEventBytes: 250, MaxReadingsPerEvent: 3, Logger: log}, &memBlobs{}, &memStore{})
	if _, err := f.Run(t.Context(), mixedBatch()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{
		`level=WARN msg="rejected events or readings" source=ns.servicebus.windows.net/readings/3 rejected=8`,
		`level=INFO msg=ingested source=ns.servicebus.windows.net/readings/3 events=10 readings=4 rejected=8 inserted=4 duplicates=0`,
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %s\nwant it to contain %s", i, lines[i], want)
		}
	}
}

// TestResultJSON: the logged result uses the snake_case keys of the
// project's other status and log documents.
func TestResultJSON(t *testing.T) {
	b, err := json.Marshal(Result{Events: 1, Readings: 2, Rejected: 3, Inserted: 4, Duplicates: 5, RawBlob: "r", RejectsBlob: "x"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"events":1,"readings":2,"rejected":3,"inserted":4,"duplicates":5,"raw_blob":"r","rejects_blob":"x"}`
	if string(b) != want {
		t.Errorf("Result encodes as\n%s\nwant\n%s", b, want)
	}
}
