// Package simulate is a device simulator for the ingest function: a fleet of
// devices x sensors whose readings look like the reference's (each sensor's
// values spread over its range in the reference data, one reading per sensor
// every 5 s, a chosen share of out-of-range spikes), sent to an Event Hub and
// optionally written to a CSV that `batchscore run -data` replays.
//
// # Events
//
// Every tick, each device sends one event holding that tick's readings of
// all its sensors, a JSON array in the shape the ingest function accepts
// (an object when the device has one sensor):
//
//	[{"TS":"2026-11-30T09:00:05.000Z","Device":"7","Sensor":"1","Value":12.31}, ...]
//
// The event's partition key is the device id, so one device's events land in
// one partition, in order. Events are packed into batches per device, each
// batch as large as the hub allows (EventDataBatch counts the bytes against
// the link's maximum message size and refuses the event that would not fit,
// azeventhubs.ErrEventDataTooLarge; then the batch is sent and a new one
// started). A partly filled batch is sent after at most Config.FlushEvery, or
// as soon as its tick is handed over when the next tick is due later than that.
//
// # Sending, retries, throttling, stopping
//
// Batches are sent by Config.Parallel senders; a device always goes through
// the same one, so its batches leave in order. The SDK retries a failed send
// itself (its RetryOptions, set by the caller). When the hub still answers
// "server busy" (com.microsoft:server-busy, Event Hubs' throttling), the
// sender counts it, waits (4 s first, as Event Hubs' ServerBusyException
// documentation asks, doubling up to a minute) and sends the same batch again:
// throttling slows the simulator down, it loses nothing. Any other send error
// stops the run and is returned.
//
// When ctx ends (Ctrl-C), no further tick is generated; what was generated is
// sent within Config.Grace, and the Summary says how much (if any) was not.
package simulate

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/batchscore/batchscore/internal/reference"
	"github.com/batchscore/batchscore/internal/sensor"
)

// Sender is the hub as the simulator uses it: batches per partition key.
// Hub implements it on an azeventhubs.ProducerClient.
type Sender interface {
	NewBatch(ctx context.Context, partitionKey string) (Batch, error)
	// Send sends a batch; an error wrapping ErrThrottled means the hub is
	// busy and the same batch may be sent again later.
	Send(ctx context.Context, b Batch) error
}

// Batch is a batch of events for one partition key.
type Batch interface {
	// Add appends an event body, or returns azeventhubs.ErrEventDataTooLarge
	// when the batch cannot take it.
	Add(body []byte) error
	Len() int      // events in the batch
	Bytes() uint64 // the batch's size as the hub counts it
	Key() string   // the partition key
}

// ErrThrottled is wrapped by Sender.Send's error when the hub is busy.
var ErrThrottled = errors.New("event hub busy (throttled)")

// Config is one simulation.
type Config struct {
	Fleet Fleet
	Ticks int     // ticks to generate; 0 means until ctx ends
	Rate  float64 // ticks per second of wall-clock time; 0 means as fast as possible

	Sender Sender    // nil: no hub (CSV only)
	CSV    io.Writer // nil: no CSV; else TS,Device,Sensor,Value rows as the reference's sensor_data.csv
	Log    io.Writer // nil: quiet; else one line per throttling wait

	Parallel   int           // concurrent senders; default 8
	FlushEvery time.Duration // longest a partly filled batch waits; default 1 s
	Grace      time.Duration // after ctx ends, time to send what was generated; default 10 s
	Backoff    time.Duration // first wait after throttling; default 4 s, doubling to MaxBackoff
	MaxBackoff time.Duration // default 1 min
}

// Summary is what a simulation generated and sent.
type Summary struct {
	Ticks     int
	Readings  int
	Spikes    int
	Events    int    // events generated (one per device and tick)
	Sent      int    // events the hub accepted
	Bytes     int64  // event body bytes the hub accepted
	WireBytes uint64 // the sent batches' sizes as the SDK counts them (bodies plus AMQP framing)
	Batches   int
	Throttled int // times the hub answered busy (each followed by a wait and a resend)
	Elapsed   time.Duration
}

// Unsent is the number of generated events the hub did not accept.
func (s Summary) Unsent() int { return s.Events - s.Sent }

func (c *Config) defaults() {
	if c.Parallel < 1 {
		c.Parallel = 8
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = time.Second
	}
	if c.Grace <= 0 {
		c.Grace = 10 * time.Second
	}
	if c.Backoff <= 0 {
		c.Backoff = 4 * time.Second
	}
	if c.MaxBackoff < c.Backoff {
		c.MaxBackoff = max(time.Minute, c.Backoff)
	}
}

type body struct {
	TS     string  `json:"TS"`
	Device string  `json:"Device"`
	Sensor string  `json:"Sensor"`
	Value  float64 `json:"Value"`
}

// EventBody is the body of the event that carries one device's readings of
// one tick.
func EventBody(rs []sensor.Reading) ([]byte, error) {
	bs := make([]body, len(rs))
	for i, r := range rs {
		bs[i] = body{TS: r.TS.UTC().Format("2006-01-02T15:04:05.000Z"), Device: r.Key.Device, Sensor: r.Key.Sensor, Value: r.Value}
	}
	if len(bs) == 1 {
		return json.Marshal(bs[0])
	}
	return json.Marshal(bs)
}

// Run generates the fleet's readings and sends them (and writes them to
// c.CSV). It returns when the ticks are done or ctx has ended, after the
// generated events are sent or Grace has run out; the error is the first send
// failure (or a CSV write error), nil after an interrupt.
func Run(ctx context.Context, c Config) (Summary, error) {
	c.defaults()
	var sum Summary
	if err := c.Fleet.Validate(); err != nil {
		return sum, err
	}
	started := time.Now()
	var cw *csv.Writer
	if c.CSV != nil {
		cw = csv.NewWriter(c.CSV)
		if err := cw.Write([]string{"TS", "Device", "Sensor", "Value"}); err != nil {
			return sum, fmt.Errorf("csv: %w", err)
		}
	}

	genCtx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	sendCtx, stopSend := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSend()
	// After an interrupt the senders get Grace to send what was generated.
	defer context.AfterFunc(ctx, func() { time.AfterFunc(c.Grace, stopSend) })()

	s := &senders{c: c, ctx: sendCtx, stopGen: stopGen, sum: &sum}
	if c.Sender != nil {
		s.start()
	}
	genErr := s.generate(genCtx, cw, &sum)
	if c.Sender != nil {
		s.flush() // the partly filled batches
		s.wait()
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil && genErr == nil {
			genErr = fmt.Errorf("csv: %w", err)
		}
	}
	sum.Elapsed = time.Since(started)
	if genErr != nil {
		return sum, genErr
	}
	if s.err != nil {
		return sum, s.err
	}
	if c.Sender != nil && sum.Unsent() > 0 {
		return sum, fmt.Errorf("%d of %d events not sent within %v of the stop", sum.Unsent(), sum.Events, c.Grace)
	}
	return sum, nil
}

// senders owns the open batches (one per device) and the goroutines that send
// the full ones.
type senders struct {
	c       Config
	ctx     context.Context
	stopGen context.CancelFunc
	queues  []chan pending
	wg      sync.WaitGroup
	open    map[string]*pending // device -> batch being filled
	order   []string            // devices in order of their first event, for flush

	mu  sync.Mutex
	sum *Summary
	err error
}

type pending struct {
	b       Batch
	payload int64
}

func (s *senders) start() {
	s.open = map[string]*pending{}
	s.queues = make([]chan pending, s.c.Parallel)
	for i := range s.queues {
		s.queues[i] = make(chan pending, 2)
		s.wg.Go(func() {
			for p := range s.queues[i] {
				s.send(p)
			}
		})
	}
}

// generate makes the ticks, writes them to the CSV and hands each device's
// event to its batch.
func (s *senders) generate(ctx context.Context, cw *csv.Writer, sum *Summary) error {
	g := NewGenerator(s.c.Fleet)
	start := time.Now()
	lastFlush := start
	perDevice := s.c.Fleet.Sensors
	for tick := 0; s.c.Ticks == 0 || tick < s.c.Ticks; tick++ {
		if s.c.Rate > 0 {
			if w := time.Until(s.due(start, tick)); w > 0 {
				t := time.NewTimer(w)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		rs, spikes := g.Next()
		sum.Ticks++
		sum.Readings += len(rs)
		sum.Spikes += spikes
		if cw != nil {
			for _, r := range rs {
				if err := cw.Write([]string{r.TS.Format(reference.TSLayout), r.Key.Device, r.Key.Sensor,
					strconv.FormatFloat(r.Value, 'f', -1, 64)}); err != nil {
					return fmt.Errorf("csv: %w", err)
				}
			}
		}
		for i := 0; i < len(rs); i += perDevice {
			sum.Events++ // only this goroutine writes Events
			if s.c.Sender == nil {
				continue
			}
			b, err := EventBody(rs[i : i+perDevice])
			if err != nil {
				return err
			}
			// A tick once begun is handed over whole (batches on the send
			// context), so the CSV and the hub get the same readings.
			if err := s.add(s.ctx, rs[i].Key.Device, b); err != nil {
				return err
			}
		}
		// Flush when FlushEvery has passed, or will have before the next tick
		// is due: waiting for that tick would hold these events longer.
		if s.c.Sender == nil {
			continue
		}
		now := time.Now()
		next := now
		if s.c.Rate > 0 {
			if due := s.due(start, tick+1); due.After(now) {
				next = due
			}
		}
		if next.Sub(lastFlush) >= s.c.FlushEvery {
			s.flush()
			lastFlush = now
		}
	}
	return nil
}

// due is when tick is generated at c.Rate ticks per second from start.
func (s *senders) due(start time.Time, tick int) time.Time {
	return start.Add(time.Duration(float64(tick) / s.c.Rate * float64(time.Second)))
}

// add puts an event into its device's batch, sending the batch first when
// the event does not fit.
func (s *senders) add(ctx context.Context, device string, body []byte) error {
	p := s.open[device]
	for range 2 {
		if p == nil {
			b, err := s.c.Sender.NewBatch(ctx, device)
			if err != nil {
				return fmt.Errorf("new batch for device %s: %w", device, err)
			}
			p = &pending{b: b}
			s.open[device] = p
			s.order = append(s.order, device)
		}
		err := p.b.Add(body)
		if err == nil {
			p.payload += int64(len(body))
			return nil
		}
		if !errors.Is(err, azeventhubs.ErrEventDataTooLarge) {
			return fmt.Errorf("add event of device %s: %w", device, err)
		}
		if p.b.Len() == 0 {
			break
		}
		s.dispatch(device, p)
		p = nil
	}
	return fmt.Errorf("event of device %s (%d bytes) is larger than the hub's largest message: use fewer sensors per device", device, len(body))
}

// dispatch hands a device's batch to its sender and forgets it.
func (s *senders) dispatch(device string, p *pending) {
	delete(s.open, device)
	h := fnv.New32a()
	h.Write([]byte(device))
	s.queues[h.Sum32()%uint32(len(s.queues))] <- *p
}

// flush dispatches every partly filled batch.
func (s *senders) flush() {
	for _, d := range s.order {
		if p := s.open[d]; p != nil && p.b.Len() > 0 {
			s.dispatch(d, p)
		}
	}
	s.order = s.order[:0] // every batch is dispatched: s.open is empty
}

func (s *senders) wait() {
	for _, q := range s.queues {
		close(q)
	}
	s.wg.Wait()
}

// send sends one batch, waiting and resending while the hub is busy. After
// the first failure the remaining batches are dropped (and counted unsent).
func (s *senders) send(p pending) {
	wait := s.c.Backoff
	for {
		s.mu.Lock()
		failed := s.err != nil
		s.mu.Unlock()
		if failed || s.ctx.Err() != nil {
			return
		}
		err := s.c.Sender.Send(s.ctx, p.b)
		if err == nil {
			s.mu.Lock()
			s.sum.Sent += p.b.Len()
			s.sum.Bytes += p.payload
			s.sum.WireBytes += p.b.Bytes()
			s.sum.Batches++
			s.mu.Unlock()
			return
		}
		if errors.Is(err, ErrThrottled) {
			s.mu.Lock()
			s.sum.Throttled++
			s.mu.Unlock()
			if s.c.Log != nil {
				fmt.Fprintf(s.c.Log, "simulate: event hub busy; waiting %v before resending %d events of device %s\n", wait, p.b.Len(), p.b.Key())
			}
			t := time.NewTimer(wait)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, s.c.MaxBackoff)
			continue
		}
		if s.ctx.Err() != nil {
			return // the grace period ran out; counted unsent
		}
		s.mu.Lock()
		if s.err == nil {
			s.err = fmt.Errorf("send %d events of device %s: %w", p.b.Len(), p.b.Key(), err)
		}
		s.mu.Unlock()
		s.stopGen()
		return
	}
}
