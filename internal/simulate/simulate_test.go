package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/go-amqp"
	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/reference"
	"github.com/batchscore/batchscore/internal/sensor"
)

// fakeHub is a Sender that keeps what it was sent. Its batches count bytes as
// the SDK's do in spirit (an envelope plus each event with some framing) and
// refuse the event that would pass maxBytes with azeventhubs.ErrEventDataTooLarge.
type fakeHub struct {
	maxBytes uint64
	throttle int // the first throttle sends answer busy
	failAt   int // the failAt-th send (from 1) fails; 0: none
	delay    time.Duration

	mu    sync.Mutex
	sends int
	sent  []*fakeBatch
}

const envelope, framing = 64, 24

type fakeBatch struct {
	key    string
	max    uint64
	size   uint64
	bodies [][]byte
}

func (h *fakeHub) NewBatch(ctx context.Context, key string) (Batch, error) {
	return &fakeBatch{key: key, max: h.maxBytes, size: envelope}, ctx.Err()
}

func (h *fakeHub) Send(ctx context.Context, b Batch) error {
	if h.delay > 0 {
		time.Sleep(h.delay)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sends++
	switch {
	case h.sends <= h.throttle:
		return fmt.Errorf("%w: %w", ErrThrottled, &amqp.Error{Condition: serverBusy})
	case h.sends == h.failAt:
		return errors.New("link detached")
	}
	h.sent = append(h.sent, b.(*fakeBatch))
	return nil
}

func (b *fakeBatch) Add(body []byte) error {
	n := uint64(len(body) + framing)
	if b.size+n > b.max {
		return azeventhubs.ErrEventDataTooLarge
	}
	b.size += n
	b.bodies = append(b.bodies, append([]byte(nil), body...))
	return nil
}
func (b *fakeBatch) Len() int      { return len(b.bodies) }
func (b *fakeBatch) Bytes() uint64 { return b.size }
func (b *fakeBatch) Key() string   { return b.key }

var testRanges = []SensorRange{{"1", Range{10, 15}}, {"2", Range{30, 40}}, {"3", Range{60, 65}}}

func testFleet(devices, sensors int, spikes float64) Fleet {
	return Fleet{Devices: devices, Sensors: sensors, Ranges: testRanges, Interval: 5 * time.Second, SpikeRate: spikes,
		Start: time.Date(2026, 11, 30, 9, 0, 5, 0, time.UTC), Seed: 7}
}

// decode reads an event body back into readings (an object or an array).
func decode(t *testing.T, b []byte) []body {
	t.Helper()
	var bs []body
	if len(b) > 0 && b[0] == '{' {
		var one body
		if err := json.Unmarshal(b, &one); err != nil {
			t.Fatal(err)
		}
		return []body{one}
	}
	if err := json.Unmarshal(b, &bs); err != nil {
		t.Fatal(err)
	}
	return bs
}

// TestRunSends checks what reaches the hub: every reading once, each event
// holding one device's tick under that device's partition key, every batch
// within the hub's limit, each device's events in time order, and a summary
// that agrees with the hub's own count.
func TestRunSends(t *testing.T) {
	for _, test := range []struct {
		name             string
		fleet            Fleet
		ticks, parallel  int
		hub              *fakeHub
		wantThrottled    int
		minBatchesPerDev int // at least this many batches per device (small limits split)
	}{
		{name: "large limit, one sender", fleet: testFleet(4, 3, 0.05), ticks: 40, parallel: 1, hub: &fakeHub{maxBytes: 1 << 20}},
		{name: "small limit splits batches", fleet: testFleet(4, 3, 0.05), ticks: 40, parallel: 3, hub: &fakeHub{maxBytes: 1000}, minBatchesPerDev: 10},
		{name: "one sensor per device, object bodies", fleet: testFleet(5, 1, 0), ticks: 30, parallel: 2, hub: &fakeHub{maxBytes: 400}},
		{name: "throttled sends are resent", fleet: testFleet(3, 3, 0), ticks: 20, parallel: 2, hub: &fakeHub{maxBytes: 2000, throttle: 3}, wantThrottled: 3},
	} {
		t.Run(test.name, func(t *testing.T) {
			hub := test.hub
			var csvOut bytes.Buffer
			sum, err := Run(t.Context(), Config{Fleet: test.fleet, Ticks: test.ticks, Sender: hub, CSV: &csvOut,
				Parallel: test.parallel, Backoff: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			f := test.fleet
			wantReadings := f.Devices * f.Sensors * test.ticks
			var events, readings, spikes int
			var payload int64
			var wire uint64
			lastTS := map[string]time.Time{}
			batchesOf := map[string]int{}
			seen := map[string]bool{}
			for _, b := range hub.sent {
				if b.size > hub.maxBytes {
					t.Errorf("batch of %s has %d bytes, over the limit %d", b.key, b.size, hub.maxBytes)
				}
				batchesOf[b.key]++
				wire += b.size
				for _, raw := range b.bodies {
					events++
					payload += int64(len(raw))
					bs := decode(t, raw)
					if len(bs) != f.Sensors {
						t.Fatalf("event with %d readings, want one per sensor (%d)", len(bs), f.Sensors)
					}
					ts := bs[0].TS
					for i, r := range bs {
						if r.Device != b.key {
							t.Errorf("reading of device %s in a batch with partition key %s", r.Device, b.key)
						}
						if r.TS != ts || r.Sensor != fmt.Sprint(i+1) {
							t.Errorf("event of device %s mixes ticks or misorders sensors: %+v", b.key, bs)
						}
						id := r.Device + "/" + r.Sensor + "/" + r.TS
						if seen[id] {
							t.Errorf("reading %s sent twice", id)
						}
						seen[id] = true
						readings++
						var s int
						fmt.Sscan(r.Sensor, &s)
						if f.Outside(s, r.Value) {
							spikes++
						}
					}
					got, err := reference.ParseTS(ts)
					if err != nil {
						t.Fatal(err)
					}
					if !got.After(lastTS[b.key]) {
						t.Errorf("device %s: event at %v sent after one at %v", b.key, got, lastTS[b.key])
					}
					lastTS[b.key] = got
				}
			}
			if readings != wantReadings {
				t.Errorf("hub got %d readings, want %d", readings, wantReadings)
			}
			for d := 1; d <= f.Devices; d++ {
				if n := batchesOf[fmt.Sprint(d)]; n < max(1, test.minBatchesPerDev) {
					t.Errorf("device %d: %d batches, want at least %d", d, n, max(1, test.minBatchesPerDev))
				}
			}
			want := Summary{Ticks: test.ticks, Readings: wantReadings, Spikes: spikes, Events: events, Sent: events, Bytes: payload,
				WireBytes: wire, Batches: len(hub.sent), Throttled: test.wantThrottled}
			sum.Elapsed = 0
			if diff := cmp.Diff(want, sum); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			if f.SpikeRate > 0 && spikes == 0 {
				t.Errorf("no spike in %d readings at share %v", readings, f.SpikeRate)
			}
			// The CSV holds the same readings.
			rs, err := reference.ReadReadings(&csvOut)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != wantReadings {
				t.Fatalf("CSV has %d readings, want %d", len(rs), wantReadings)
			}
			for _, r := range rs {
				if id := r.Key.Device + "/" + r.Key.Sensor + "/" + r.TS.Format("2006-01-02T15:04:05.000Z"); !seen[id] {
					t.Errorf("CSV reading %s was not sent", id)
				}
			}
		})
	}
}

func TestRunFailures(t *testing.T) {
	for _, test := range []struct {
		name    string
		fleet   Fleet
		hub     *fakeHub
		wantErr string
	}{
		{name: "send error stops the run", fleet: testFleet(3, 2, 0), hub: &fakeHub{maxBytes: 300, failAt: 5}, wantErr: "link detached"},
		{name: "an event over the limit", fleet: testFleet(2, 3, 0), hub: &fakeHub{maxBytes: 100}, wantErr: "is larger than the hub's largest message"},
		{name: "bad fleet", fleet: Fleet{Devices: 1, Sensors: 1, Ranges: testRanges, Interval: time.Second}, hub: &fakeHub{maxBytes: 1000}, wantErr: "no start time"},
	} {
		t.Run(test.name, func(t *testing.T) {
			sum, err := Run(t.Context(), Config{Fleet: test.fleet, Ticks: 100, Sender: test.hub, Parallel: 2})
			if err == nil || !strings.Contains(err.Error(), test.wantErr) {
				t.Fatalf("Run error %v, want one containing %q", err, test.wantErr)
			}
			if test.hub.failAt > 0 && (sum.Unsent() == 0 || sum.Sent != len(flatten(test.hub.sent))) {
				t.Errorf("after a failed send: %d sent, %d unsent, hub has %d", sum.Sent, sum.Unsent(), len(flatten(test.hub.sent)))
			}
		})
	}
}

func flatten(bs []*fakeBatch) [][]byte {
	var out [][]byte
	for _, b := range bs {
		out = append(out, b.bodies...)
	}
	return out
}

// TestRunInterrupted: when ctx ends the run stops generating, sends what it
// generated, and reports it; nothing is left unsent.
func TestRunInterrupted(t *testing.T) {
	hub := &fakeHub{maxBytes: 4000, delay: time.Millisecond}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var csvOut bytes.Buffer
	sum, err := Run(ctx, Config{Fleet: testFleet(10, 3, 0), Rate: 200, Sender: hub, CSV: &csvOut, FlushEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rows := bytes.Count(csvOut.Bytes(), []byte("\n")) - 1; rows != 3*len(flatten(hub.sent)) {
		t.Errorf("CSV has %d readings, the hub got %d events of 3", rows, len(flatten(hub.sent)))
	}
	if sum.Ticks < 2 || sum.Ticks > 200 {
		t.Errorf("%d ticks in 300 ms at 200 ticks/s", sum.Ticks)
	}
	if sum.Unsent() != 0 || sum.Sent != len(flatten(hub.sent)) || sum.Events != 10*sum.Ticks {
		t.Errorf("summary %+v; hub has %d events", sum, len(flatten(hub.sent)))
	}
}

// TestRunGraceRunsOut: a hub that stays busy after the stop leaves events
// unsent, and Run says how many.
func TestRunGraceRunsOut(t *testing.T) {
	hub := &fakeHub{maxBytes: 4000, throttle: math.MaxInt}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	sum, err := Run(ctx, Config{Fleet: testFleet(2, 2, 0), Rate: 100, Sender: hub, Grace: 50 * time.Millisecond, Backoff: 5 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "not sent within 50ms of the stop") {
		t.Fatalf("Run error %v, want the unsent count", err)
	}
	if sum.Sent != 0 || sum.Unsent() != sum.Events || sum.Throttled == 0 {
		t.Errorf("summary %+v", sum)
	}
}

// TestGenerator: the same seed gives the same readings; spikes are exactly
// the readings outside their sensor's range and come at about the asked share.
func TestGenerator(t *testing.T) {
	f := testFleet(20, 3, 0.1)
	a, b := NewGenerator(f), NewGenerator(f)
	var total, spikes, outside int
	for range 200 {
		ra, sa := a.Next()
		rb, _ := b.Next()
		if !cmp.Equal(ra, rb) {
			t.Fatal("two generators with the same seed differ")
		}
		spikes += sa
		for i, r := range ra {
			total++
			if f.Outside(i%f.Sensors+1, r.Value) {
				outside++
			}
			if r.Value != math.Round(r.Value*100)/100 {
				t.Errorf("value %v has more than 2 decimals", r.Value)
			}
		}
	}
	if spikes != outside {
		t.Errorf("%d spikes counted, %d readings outside their range", spikes, outside)
	}
	if share := float64(spikes) / float64(total); share < 0.08 || share > 0.12 {
		t.Errorf("spike share %.3f, want about 0.1", share)
	}
	f.Seed++
	if rc, _ := NewGenerator(f).Next(); cmp.Equal(rc, mustNext(NewGenerator(testFleet(20, 3, 0.1)))) {
		t.Error("another seed gives the same readings")
	}
}

func mustNext(g *Generator) []sensor.Reading { rs, _ := g.Next(); return rs }

// TestReferenceRanges derives the ranges from the reference's sensor_data.csv.
func TestReferenceRanges(t *testing.T) {
	_, rs := reference.ForTest(t)
	got, err := Ranges(rs)
	if err != nil {
		t.Fatal(err)
	}
	want := []SensorRange{{"1", Range{10, 15}}, {"2", Range{30.01, 40}}, {"3", Range{60, 65}}, {"4", Range{80.01, 85}}, {"5", Range{100.01, 110}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reference ranges (-want +got):\n%s", diff)
	}
	if _, err := Ranges(nil); err == nil {
		t.Error("Ranges of no readings succeeded")
	}
	ids := []sensor.Reading{{Key: sensor.Key{Sensor: "b"}}, {Key: sensor.Key{Sensor: "10"}}, {Key: sensor.Key{Sensor: "a"}}, {Key: sensor.Key{Sensor: "9"}}}
	got, _ = Ranges(ids)
	var order []string
	for _, r := range got {
		order = append(order, r.Sensor)
	}
	if strings.Join(order, " ") != "9 10 a b" {
		t.Errorf("sensor order %q, want numbers by value, then names", order)
	}
}

func TestThrottled(t *testing.T) {
	for _, test := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("send: %w", &amqp.Error{Condition: serverBusy}), true},
		{&amqp.Error{Condition: amqp.ErrCondResourceLimitExceeded}, false},
		{errors.New("com.microsoft:server-busy"), false},
		{nil, false},
	} {
		if got := throttled(test.err); got != test.want {
			t.Errorf("throttled(%v) = %v, want %v", test.err, got, test.want)
		}
	}
}

// BenchmarkRun is the simulator's own cost per event: generating a tick of
// 100 devices x 10 sensors, encoding the events, packing them into batches
// of the hub's default 1 MiB limit, and handing them to a hub that takes them
// at once (fakeHub), plus the CSV.
func BenchmarkRun(b *testing.B) {
	f := testFleet(100, 10, 0.01)
	const ticks = 50
	var events int
	for b.Loop() {
		sum, err := Run(b.Context(), Config{Fleet: f, Ticks: ticks, Sender: &fakeHub{maxBytes: 1 << 20}, CSV: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		events += sum.Sent
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// TestRunPacedFlush: when ticks come further apart than FlushEvery (real time:
// a tick every 5 s, a flush every second), each tick's events leave before
// the next tick is generated, instead of waiting in their batch for it. The
// batches' contents show it (no timing): one event per device in each.
func TestRunPacedFlush(t *testing.T) {
	hub := &fakeHub{maxBytes: 1 << 20}
	sum, err := Run(t.Context(), Config{Fleet: testFleet(3, 2, 0), Ticks: 3, Rate: 20, Sender: hub, FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sent != 9 || len(hub.sent) != 9 {
		t.Fatalf("%d events sent in %d batches; want 9 in 9 (one per device and tick)", sum.Sent, len(hub.sent))
	}
	for _, b := range hub.sent {
		if b.Len() != 1 {
			t.Errorf("batch of device %s holds %d events (ticks waited for the next one); want 1", b.key, b.Len())
		}
	}
}
