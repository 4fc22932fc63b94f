package localrun

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/batchscore/batchscore/internal/sensor"
)

// Collector downloads a run's prediction blobs while the run is being scored:
// each sensor's blob as soon as its outcome is done or empty (score-sensor
// writes the blob before it records that outcome), so the downloads fill the
// emulator's idle moments instead of all waiting for the last outcome. Wait
// then lists the run's blobs and downloads those still missing or changed since
// (a sensor scored again), so what it returns is exactly what a download after
// the run would return.
type Collector struct {
	s      *Stack
	run    string
	handle func(name string, data []byte) error

	stop   chan struct{}
	polled chan error // the poll loop's end

	ctx   context.Context
	mu    sync.Mutex
	g     *errgroup.Group
	gctx  context.Context
	etags map[string]string // blob name -> ETag downloaded ("" while downloading)
	data  map[string][]byte
	early map[string]bool // downloaded before Wait
}

// collectPoll is how often the Collector reads the run's outcomes.
const collectPoll = 100 * time.Millisecond

// collectParallelism is how many blobs the Collector downloads at once while
// the run is being scored: the emulator is also serving the scoring then.
const collectParallelism = 4

// Collect starts collecting the prediction blobs of run. handle, if not nil, is
// called in the downloading goroutine (several at once) with each blob
// downloaded, again if a blob is downloaded again after a change; an error from
// it ends the collection. Call Wait once the run has its last outcome.
func (s *Stack) Collect(ctx context.Context, run string, handle func(name string, data []byte) error) *Collector {
	c := &Collector{s: s, run: run, handle: handle, stop: make(chan struct{}), polled: make(chan error, 1),
		ctx: ctx, etags: map[string]string{}, data: map[string][]byte{}, early: map[string]bool{}}
	c.g, c.gctx = errgroup.WithContext(ctx)
	c.g.SetLimit(collectParallelism)
	go func() { c.polled <- c.poll() }()
	return c
}

func (c *Collector) poll() error {
	for {
		outs, err := c.s.Store.Outcomes(c.gctx, c.run)
		if err != nil {
			if c.gctx.Err() != nil {
				return nil // the download's error is Wait's
			}
			return fmt.Errorf("collect predictions: %w", err)
		}
		for _, o := range outs {
			if (o.Status == sensor.StatusDone || o.Status == sensor.StatusEmpty) && o.Blob != "" {
				c.start(o.Blob, true)
			}
		}
		select {
		case <-c.stop:
			return nil
		case <-c.gctx.Done():
			return nil // the download's error is Wait's
		case <-time.After(collectPoll):
		}
	}
}

// start downloads name unless it is already downloaded or being downloaded;
// early says whether Wait has not been called yet.
func (c *Collector) start(name string, early bool) {
	c.mu.Lock()
	if _, ok := c.etags[name]; ok {
		c.mu.Unlock()
		return
	}
	c.etags[name] = ""
	c.mu.Unlock()
	c.g.Go(func() error {
		data, etag, err := c.s.Storage.Blobs().Get(c.gctx, PredsContainer, name)
		if err != nil {
			return fmt.Errorf("download predictions: %w", err)
		}
		if c.handle != nil {
			if err := c.handle(name, data); err != nil {
				return err
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.etags[name], c.data[name], c.early[name] = etag, data, early
		return nil
	})
}

// Wait stops following the outcomes, finishes the downloads under way, lists
// the run's prediction blobs and downloads each one not downloaded yet or whose
// ETag changed. It returns the blobs (name -> bytes: exactly those listed) and
// how many of them were downloaded before Wait.
func (c *Collector) Wait() (map[string][]byte, int, error) {
	close(c.stop)
	perr := <-c.polled
	if err := errors.Join(c.g.Wait(), perr); err != nil {
		return nil, 0, err
	}
	// Wait cancelled c.gctx: the downloads after the list get their own group.
	list, err := c.s.Storage.Blobs().List(c.ctx, PredsContainer, c.run+"/")
	if err != nil {
		return nil, 0, fmt.Errorf("list predictions: %w", err)
	}
	c.g, c.gctx = errgroup.WithContext(c.ctx)
	c.g.SetLimit(downloadParallelism)
	for _, b := range list {
		if c.etags[b.Name] != b.ETag {
			delete(c.etags, b.Name)
			c.start(b.Name, false)
		}
	}
	if err := c.g.Wait(); err != nil {
		return nil, 0, err
	}
	out := make(map[string][]byte, len(list))
	early := 0
	for _, b := range list {
		out[b.Name] = c.data[b.Name]
		if c.early[b.Name] {
			early++
		}
	}
	return out, early, nil
}
