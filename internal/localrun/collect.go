package localrun

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/storage"
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
		names, err := c.finished(c.gctx)
		if err != nil {
			if c.gctx.Err() != nil {
				return nil // the download's error is Wait's
			}
			return err
		}
		for _, name := range names {
			select {
			case <-c.stop:
				return nil // Wait downloads the rest, more at once
			default:
			}
			c.start(name, true)
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

// finished returns the predictions blobs of the run's sensors whose outcome
// is done or empty.
func (c *Collector) finished(ctx context.Context) ([]string, error) {
	outs, err := c.s.Store.Outcomes(ctx, c.run)
	if err != nil {
		return nil, fmt.Errorf("collect predictions: %w", err)
	}
	var names []string
	for _, o := range outs {
		if (o.Status == sensor.StatusDone || o.Status == sensor.StatusEmpty) && o.Blob != "" {
			names = append(names, o.Blob)
		}
	}
	return names, nil
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

// Wait stops following the outcomes and finishes the downloads under way;
// then, downloadParallelism at a time, it downloads the blobs of the outcomes
// finished since while it lists the run's prediction blobs, and last the
// listed ones not downloaded yet or whose ETag changed. It returns the blobs
// (name -> bytes: exactly those listed) and how many of them were downloaded
// before Wait.
func (c *Collector) Wait() (map[string][]byte, int, error) {
	close(c.stop)
	perr := <-c.polled
	if err := errors.Join(c.g.Wait(), perr); err != nil {
		return nil, 0, err
	}
	// Wait cancelled c.gctx: the downloads from here on get a new group.
	c.g, c.gctx = errgroup.WithContext(c.ctx)
	c.g.SetLimit(downloadParallelism)
	var list []storage.BlobInfo
	c.g.Go(func() error {
		var err error
		if list, err = c.s.Storage.Blobs().List(c.gctx, PredsContainer, c.run+"/"); err != nil {
			return fmt.Errorf("list predictions: %w", err)
		}
		return nil
	})
	names, err := c.finished(c.gctx)
	if err != nil {
		return nil, 0, errors.Join(err, c.g.Wait())
	}
	for _, name := range names {
		c.start(name, false)
	}
	if err := c.g.Wait(); err != nil {
		return nil, 0, err
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
