package localrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	scoresensor "github.com/batchscore/batchscore/functions/score-sensor"
	"github.com/batchscore/batchscore/internal/localhost"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/storage"
)

// Names StorageCeiling uses, apart from the pipeline's own.
const (
	ceilingModels = "ceiling-models"
	ceilingPreds  = "ceiling-preds"
	ceilingQueue  = "ceiling-jobs"
	ceilingHeld   = "ceiling-held"
)

// hold uploads blobs of the given sizes to ceilingHeld, 8 at a time. Their
// bytes are JSON Lines of one repeated reading: the emulator keeps what it is
// given, and what it costs it is the size.
func hold(ctx context.Context, blobs *storage.Blobs, sizes []int64) error {
	line := []byte(`{"TS":"2018-08-28T23:00:05Z","Device":"1","Sensor":"1","Value":42.5}` + "\n")
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, n := range sizes {
		g.Go(func() error {
			b := bytes.Repeat(line, int(n)/len(line)+1)[:n]
			return blobs.Put(gctx, ceilingHeld, fmt.Sprintf("held/%04d.jsonl", i), b, "application/x-ndjson")
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("blobs to hold: %w", err)
	}
	return nil
}

// CeilingWork is what StorageCeiling does.
type CeilingWork struct {
	Models map[string][]byte             // model blobs by name: one sensor each
	Preds  [][]byte                      // predictions blobs to write, in turn
	Queues localhost.QueueOptions        // host.json queues: batchSize, newBatchThreshold
	Chunk  int                           // sensors per queue message
	Hold   []int64                       // sizes of blobs the emulator is given to hold first, as the pipeline's holds the raw data ingest wrote
	CPU    func() (time.Duration, error) // the emulator process's CPU time so far; nil: not measured
}

// StorageCeiling measures how fast the storage emulator alone performs the
// operations scoring the sensors of w.Models needs, w.Chunk sensors per queue
// message as fan-out cuts them: receive the message (in batches of
// BatchSize, fetching again when at most NewBatchThreshold are in flight, as
// the host's queue listener does), for each of its sensors (at most
// scoresensor.SensorParallelism at once) read the model blob and write a
// predictions blob (Preds[i % len(Preds)]), then delete the message.
// Uploading the held blobs and the models and enqueueing the messages come
// first and are not timed. It returns the time from the first receive to the
// last delete and, with w.CPU, the CPU the emulator used in that time.
func StorageCeiling(ctx context.Context, acct *storage.Account, w CeilingWork) (Ceiling, error) {
	if len(w.Models) == 0 || len(w.Preds) == 0 {
		return Ceiling{}, errors.New("storage ceiling: no models or no predictions to write")
	}
	var (
		cpu0   time.Duration
		cpuErr = errors.New("not read")
	)
	elapsed, err := storageCeiling(ctx, acct, w, func() { cpu0, cpuErr = readCPU(w.CPU) })
	if err != nil {
		return Ceiling{}, err
	}
	c := Ceiling{Elapsed: elapsed}
	if cpu1, err := readCPU(w.CPU); cpuErr == nil && err == nil {
		c.EmulatorCPU = cpu1 - cpu0
	}
	return c, nil
}

// Ceiling is what StorageCeiling measured.
type Ceiling struct {
	Elapsed     time.Duration // first receive to last delete
	EmulatorCPU time.Duration // the emulator's CPU time (user + system) meanwhile; 0 when not measured
}

// readCPU calls cpu, if there is one.
func readCPU(cpu func() (time.Duration, error)) (time.Duration, error) {
	if cpu == nil {
		return 0, errors.New("no CPU time to read")
	}
	return cpu()
}

// storageCeiling is StorageCeiling; timed is called when the timed part starts.
func storageCeiling(ctx context.Context, acct *storage.Account, w CeilingWork, timed func()) (time.Duration, error) {
	models, preds, q, chunk := w.Models, w.Preds, w.Queues, w.Chunk
	blobs := acct.Blobs()
	if err := blobs.EnsureContainers(ctx, ceilingModels, ceilingPreds, ceilingHeld); err != nil {
		return 0, fmt.Errorf("storage ceiling: %w", err)
	}
	if err := hold(ctx, blobs, w.Hold); err != nil {
		return 0, fmt.Errorf("storage ceiling: %w", err)
	}
	queue := acct.Queue(ceilingQueue)
	if err := queue.Ensure(ctx); err != nil {
		return 0, fmt.Errorf("storage ceiling: %w", err)
	}
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	sort.Strings(names)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, n := range names {
		g.Go(func() error { return blobs.Put(gctx, ceilingModels, n, models[n], "application/octet-stream") })
	}
	if err := g.Wait(); err != nil {
		return 0, fmt.Errorf("storage ceiling: upload models: %w", err)
	}
	chunk = max(chunk, 1)
	var bodies [][]byte
	for i := 0; i < len(names); i += chunk {
		bodies = append(bodies, []byte(strconv.Itoa(i)+" "+strings.Join(names[i:min(i+chunk, len(names))], " ")))
	}
	if _, err := queue.EnqueueMany(ctx, bodies, 16); err != nil {
		return 0, fmt.Errorf("storage ceiling: %w", err)
	}

	batch, threshold := max(q.BatchSize, 1), max(q.NewBatchThreshold, 0)
	var (
		mu       sync.Mutex
		cond     = sync.NewCond(&mu)
		inFlight int
		done     int
		firstErr error
	)
	finish := func(err error) {
		mu.Lock()
		inFlight--
		done++
		if err != nil && firstErr == nil {
			firstErr = err
		}
		cond.Broadcast()
		mu.Unlock()
	}
	process := func(m storage.Message) error {
		f := strings.Fields(string(m.Body))
		first, err := strconv.Atoi(f[0])
		if len(f) < 2 || err != nil {
			return fmt.Errorf("storage ceiling: unexpected message %q", m.Body)
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(scoresensor.SensorParallelism)
		for j, name := range f[1:] {
			g.Go(func() error {
				if _, _, err := blobs.Get(gctx, ceilingModels, name); err != nil {
					return err
				}
				return blobs.Put(gctx, ceilingPreds, "preds_"+name+".csv", preds[(first+j)%len(preds)], "text/csv")
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		return queue.Delete(ctx, m.ID, m.PopReceipt)
	}
	timed()
	start := time.Now()
	for {
		mu.Lock()
		for inFlight > threshold && firstErr == nil {
			cond.Wait()
		}
		if firstErr != nil || done+inFlight >= len(bodies) {
			for inFlight > 0 {
				cond.Wait()
			}
			err := firstErr
			mu.Unlock()
			return time.Since(start), err
		}
		mu.Unlock()
		msgs, err := queue.Receive(ctx, batch, time.Minute)
		if err != nil {
			return 0, fmt.Errorf("storage ceiling: %w", err)
		}
		if len(msgs) == 0 {
			time.Sleep(5 * time.Millisecond) // the rest are in flight
			continue
		}
		mu.Lock()
		inFlight += len(msgs)
		mu.Unlock()
		for _, m := range msgs {
			go func() { finish(process(m)) }()
		}
	}
}

// IngestBatches cuts readings into the stored batches the pipeline's ingest
// writes: one event per device and timestamp (as EventBodies groups them),
// round-robin over partitions, eventsPerBatch events per invocation, each
// reading with its event's identity.
func IngestBatches(rs []sensor.Reading, partitions, eventsPerBatch int) [][]sensor.StoredReading {
	partitions, eventsPerBatch = max(partitions, 1), max(eventsPerBatch, 1)
	events := deviceEvents(rs)
	per := make([][][]sensor.Reading, partitions)
	for i, e := range events {
		per[i%partitions] = append(per[i%partitions], e)
	}
	var out [][]sensor.StoredReading
	for p, evs := range per {
		source := "bare/readings/" + strconv.Itoa(p)
		for start := 0; start < len(evs); start += eventsPerBatch {
			var b []sensor.StoredReading
			for j, e := range evs[start:min(start+eventsPerBatch, len(evs))] {
				for k, r := range e {
					b = append(b, sensor.StoredReading{Reading: r, Source: source, Sequence: int64(start + j), Index: k})
				}
			}
			out = append(out, b)
		}
	}
	return out
}

// BareInsert times storing batches, one InsertReadings call each, into store:
// the SQL work of ingest without the host, the handler, JSON or blobs.
func BareInsert(ctx context.Context, store *sqlstore.Store, batches [][]sensor.StoredReading) (rows int, d time.Duration, err error) {
	start := time.Now()
	for _, b := range batches {
		n, err := store.InsertReadings(ctx, b)
		if err != nil {
			return rows, time.Since(start), fmt.Errorf("bare insert: %w", err)
		}
		rows += n
	}
	return rows, time.Since(start), nil
}
