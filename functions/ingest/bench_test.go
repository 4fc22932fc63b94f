package ingest

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sqlstore"
)

// fleetBatches returns the events of a synthetic fleet as the local run sends
// them (one event per device and timestamp holding that device's sensors,
// round-robin over partitions), cut into batches of batchSize events.
func fleetBatches(devices, sensors, rows, partitions, batchSize int) []azfunc.EventBatch {
	start := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	per := make([][]azfunc.Event, partitions)
	n := 0
	for r := range rows {
		ts := start.Add(time.Duration(r) * 5 * time.Second)
		for d := range devices {
			body := []byte{'['}
			for s := range sensors {
				if s > 0 {
					body = append(body, ',')
				}
				body = append(body, `{"TS":"`...)
				body = ts.AppendFormat(body, "2006-01-02 15:04:05.000")
				body = fmt.Appendf(body, `","Device":%d,"Sensor":%d,"Value":%g}`, d+1, s+1, 10+float64(d)+float64(r%7)/3)
			}
			body = append(body, ']')
			p := n % partitions
			seq := int64(len(per[p]))
			per[p] = append(per[p], azfunc.Event{Body: body, SequenceNumber: seq, Offset: strconv.FormatInt(seq*512, 10), EnqueuedTime: ts})
			n++
		}
	}
	var out []azfunc.EventBatch
	for p, evs := range per {
		pc := azfunc.PartitionContext{FullyQualifiedNamespace: "bench.servicebus.windows.net", EventHubName: "readings", PartitionId: strconv.Itoa(p)}
		for i := 0; i < len(evs); i += batchSize {
			out = append(out, azfunc.EventBatch{Partition: pc, Events: evs[i:min(i+batchSize, len(evs))]})
		}
	}
	return out
}

// BenchmarkRunFleet ingests a 100x10 fleet, 72 readings per sensor (72,000
// readings), through Run into a SQLite file (raw blobs kept in memory), at the
// host.json batch sizes compared in docs/speed.md. It reports readings/s.
//
//	go test -run '^$' -bench RunFleet -benchtime 3x ./functions/ingest/
func BenchmarkRunFleet(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			batches := fleetBatches(100, 10, 72, 4, size)
			readings := 100 * 10 * 72
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				f, st := benchFunction(b)
				for _, batch := range batches {
					res, err := f.Run(ctx, batch)
					if err != nil {
						b.Fatal(err)
					}
					if res.Inserted != res.Readings || res.Rejected != 0 {
						b.Fatalf("inserted %d of %d, %d rejected", res.Inserted, res.Readings, res.Rejected)
					}
				}
				b.StopTimer()
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(readings*b.N)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}

// BenchmarkWireFleet is BenchmarkRunFleet at 1,000 events per batch with the
// wire work around Run: the host's request built (azfunc.NewEventHubRequest)
// and parsed as the handler does (azfunc.ParseRequest, Request.EventHub).
//
//	go test -run '^$' -bench WireFleet -benchtime 3x ./functions/ingest/
func BenchmarkWireFleet(b *testing.B) {
	batches := fleetBatches(100, 10, 72, 4, 1000)
	readings := 100 * 10 * 72
	ctx := context.Background()
	for range b.N {
		f, st := benchFunction(b)
		for _, batch := range batches {
			body, _, err := azfunc.NewEventHubRequest("events", batch.Partition, batch.Events, azfunc.NewCall("ingest", time.Now()))
			if err != nil {
				b.Fatal(err)
			}
			req, err := azfunc.ParseRequest(body)
			if err != nil {
				b.Fatal(err)
			}
			got, err := req.EventHub("events")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Run(ctx, got); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(readings*b.N)/b.Elapsed().Seconds(), "readings/s")
}

// benchFunction returns the function on a new SQLite file (untimed), raw
// blobs kept in memory, any skew accepted.
func benchFunction(b *testing.B) (*Function, *sqlstore.Store) {
	b.StopTimer()
	defer b.StartTimer()
	st, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	return New(Config{MaxSkew: 100 * 365 * 24 * time.Hour}, &memBlobs{}, st), st
}

// BenchmarkRawLines writes the raw lines of a batch of 1,000 fleet events
// (10 readings each) with appendRawLine and, for comparison, with the
// json.Encoder per line it replaced.
//
//	go test -run '^$' -bench RawLines ./functions/ingest/
func BenchmarkRawLines(b *testing.B) {
	events := fleetBatches(100, 10, 10, 1, 1000)[0].Events
	var size int64
	for _, ev := range events {
		size += int64(len(ev.Body))
	}
	for _, w := range []struct {
		name   string
		append func(*bytes.Buffer, azfunc.Event)
	}{
		{"appender", appendRawLine},
		{"encoder", func(buf *bytes.Buffer, ev azfunc.Event) {
			appendLine(buf, rawLine{Seq: ev.SequenceNumber, Offset: ev.Offset, Enqueued: ev.EnqueuedTime.UTC(), Body: string(ev.Body)})
		}},
	} {
		b.Run(w.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				var buf bytes.Buffer
				for _, ev := range events {
					w.append(&buf, ev)
				}
			}
		})
	}
}
