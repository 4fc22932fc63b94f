package ingest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/reference"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/testenv"
)

var _ ReadingStore = (*sqlstore.Store)(nil)

// referenceBatches turns the reference rows into Event Hubs batches of up to
// 100 events over two partitions. Events alternate between single objects
// with the CSV time text and arrays of up to three readings with RFC 3339
// times and "Tag", so every accepted form is exercised.
func referenceBatches(t *testing.T, rows []sensor.Reading) []azfunc.EventBatch {
	t.Helper()
	parts := [2]*azfunc.EventBatch{}
	var out []azfunc.EventBatch
	seq := [2]int64{}
	flush := func(p int) {
		if parts[p] != nil && len(parts[p].Events) > 0 {
			out = append(out, *parts[p])
		}
		parts[p] = &azfunc.EventBatch{Partition: azfunc.PartitionContext{FullyQualifiedNamespace: "ns.servicebus.windows.net", EventHubName: "readings", PartitionId: strconv.Itoa(p)}}
	}
	flush(0)
	flush(1)
	for i := 0; i < len(rows); {
		p := i % 2
		var body []byte
		var err error
		n := 1
		if i%3 == 0 {
			r := rows[i]
			dev, _ := strconv.Atoi(r.Key.Device) // numeric ids as JSON numbers
			body, err = json.Marshal(map[string]any{"TS": r.TS.Format(reference.TSLayout), "Device": dev, "Sensor": r.Key.Sensor, "Value": r.Value})
		} else {
			n = min(3, len(rows)-i)
			var arr []map[string]any
			for _, r := range rows[i : i+n] {
				arr = append(arr, map[string]any{"TS": r.TS.Format(time.RFC3339Nano), "Device": r.Key.Device, "Tag": r.Key.Sensor, "Value": r.Value})
			}
			body, err = json.Marshal(arr)
		}
		if err != nil {
			t.Fatal(err)
		}
		parts[p].Events = append(parts[p].Events, azfunc.Event{
			Body: body, SequenceNumber: seq[p], Offset: strconv.FormatInt(seq[p]*512, 10), EnqueuedTime: rows[i].TS.Add(2 * time.Second),
		})
		seq[p]++
		if len(parts[p].Events) == 100 {
			flush(p)
		}
		i += n
	}
	flush(0)
	flush(1)
	return out
}

// TestReferenceWindowContract ingests the reference rows through the real
// SQLite store and reads them back as 5-second window averages: every TS and
// Value comes back unchanged, as the reference's Stream Analytics job produced
// them.
func TestReferenceWindowContract(t *testing.T) {
	_, rows := reference.ForTest(t)
	st := testenv.SQLite(t)
	blobs := &memBlobs{}
	f := New(Config{}, blobs, st)
	batches := referenceBatches(t, rows)
	total := Result{}
	for _, b := range batches {
		res, err := f.Run(t.Context(), b)
		if err != nil {
			t.Fatal(err)
		}
		total.Readings += res.Readings
		total.Rejected += res.Rejected
		total.Inserted += res.Inserted
	}
	if total.Readings != len(rows) || total.Inserted != len(rows) || total.Rejected != 0 {
		t.Fatalf("ingested %+v, want %d readings inserted and no rejects", total, len(rows))
	}

	want := make(map[sensor.Key][]sensor.Point)
	for _, r := range rows {
		want[r.Key] = append(want[r.Key], sensor.Point{End: r.TS, Value: r.Value, Count: 1})
	}
	if len(want) != 15 {
		t.Fatalf("%d sensors in the reference, want 15", len(want))
	}
	w := sensor.Window{Start: time.Date(2018, 8, 28, 23, 0, 0, 0, time.UTC), End: time.Date(2018, 8, 29, 3, 15, 0, 0, time.UTC)}
	for key, wantPts := range want {
		got, err := st.Points(t.Context(), key, w, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantPts, got); diff != "" {
			t.Errorf("points of %s (-want +got):\n%s", key, diff)
		}
	}

	// Redelivering every batch inserts nothing and rewrites the same blobs.
	before := clone(blobs.blobs)
	for _, b := range batches {
		res, err := f.Run(t.Context(), b)
		if err != nil {
			t.Fatal(err)
		}
		if res.Inserted != 0 || res.Duplicates != res.Readings {
			t.Fatalf("redelivery of %s: %+v", res.RawBlob, res)
		}
	}
	if diff := cmp.Diff(before, blobs.blobs); diff != "" {
		t.Errorf("blobs changed on redelivery (-first +second):\n%s", diff)
	}
}

// TestWindowRuleSQLite checks the (T-w, T] rule on raw readings that arrive
// every 2 s, as the reference simulator sent them.
func TestWindowRuleSQLite(t *testing.T) {
	st := testenv.SQLite(t)
	f := New(Config{}, &memBlobs{}, st)
	base := time.Date(2018, 8, 28, 23, 0, 0, 0, time.UTC)
	var events []azfunc.Event
	for i, r := range []struct {
		off time.Duration
		v   float64
	}{
		{1 * time.Second, 1}, {3 * time.Second, 2}, {5 * time.Second, 6}, // window 23:00:05: avg 3
		{5*time.Second + time.Millisecond, 10}, {7 * time.Second, 20}, // window 23:00:10: avg 15
		{11 * time.Second, 7}, // window 23:00:15
	} {
		body := fmt.Sprintf(`{"TS":%q,"Device":"d1","Sensor":"s1","Value":%v}`, base.Add(r.off).Format(time.RFC3339Nano), r.v)
		events = append(events, azfunc.Event{Body: []byte(body), SequenceNumber: int64(i), EnqueuedTime: base.Add(r.off)})
	}
	if _, err := f.Run(t.Context(), azfunc.EventBatch{Partition: azfunc.PartitionContext{FullyQualifiedNamespace: "ns", EventHubName: "h", PartitionId: "0"}, Events: events}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Points(t.Context(), sensor.Key{Device: "d1", Sensor: "s1"}, sensor.Window{Start: base, End: base.Add(time.Minute)}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := []sensor.Point{
		{End: base.Add(5 * time.Second), Value: 3, Count: 3},
		{End: base.Add(10 * time.Second), Value: 15, Count: 2},
		{End: base.Add(15 * time.Second), Value: 7, Count: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("points (-want +got):\n%s", diff)
	}
}
