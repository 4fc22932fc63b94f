package scoresensor

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/batchscore/batchscore/internal/svm"
)

// FetchFunc reads a model blob unless its ETag still equals etag: it returns
// changed=false (and no data) when the blob is unchanged, and the data and the
// current ETag otherwise. An empty etag always reads the blob.
type FetchFunc func(ctx context.Context, name, etag string) (data []byte, newETag string, changed bool, err error)

// LoadFunc turns model bytes into a model (svm.Load in production).
type LoadFunc func(data []byte) (*svm.Model, error)

// Cache holds loaded models, bounded by an approximate byte size (see
// modelSize), evicting the least recently used first. Every Get revalidates
// the cached model's ETag with one conditional read, so a model replaced in
// Blob storage is used from the next Get on. Concurrent Gets of the same model
// share one revalidation and at most one load. A Cache is safe for concurrent
// use.
type Cache struct {
	fetch    FetchFunc
	load     LoadFunc
	maxBytes int64

	group singleflight.Group

	mu    sync.Mutex
	bytes int64
	lru   *list.List // of *cacheEntry, most recently used at the front
	items map[string]*list.Element
	stats CacheStats
}

// CacheStats counts what a Cache did.
type CacheStats struct {
	Hits      int // Gets answered by a cached model whose ETag was unchanged
	Trusted   int // of the Hits, GetVersions answered without asking the store
	Loads     int // models read and parsed
	Evictions int // entries dropped to stay within the byte bound
	Entries   int // models held now
	Bytes     int64
}

type cacheEntry struct {
	name  string
	etag  string
	model *svm.Model
	size  int64
}

// NewCache returns a cache of at most maxBytes (<= 0 caches nothing).
func NewCache(maxBytes int64, fetch FetchFunc, load LoadFunc) *Cache {
	return &Cache{
		fetch:    fetch,
		load:     load,
		maxBytes: maxBytes,
		lru:      list.New(),
		items:    make(map[string]*list.Element),
	}
}

// fetchTimeout bounds one shared revalidation and load (see Get).
const fetchTimeout = 2 * time.Minute

// Get returns the current model stored under name and the ETag of the blob
// version it was loaded from.
//
// Concurrent Gets of one name share a single revalidation. It runs detached
// from the context of the Get that started it (keeping its values, bounded by
// fetchTimeout), so that one invocation ending early does not fail the others
// waiting for the same model; each Get still returns as soon as its own ctx
// ends.
func (c *Cache) Get(ctx context.Context, name string) (*svm.Model, string, error) {
	v, err := c.get(ctx, name)
	return v.model, v.etag, err
}

// get is Get with whether the model came from the cache unchanged.
func (c *Cache) get(ctx context.Context, name string) (version, error) {
	ch := c.group.DoChan(name, func() (v any, err error) {
		// DoChan runs this on its own goroutine, where a panic would end the
		// process: turn one (from a model parser, say) into this Get's error.
		defer func() {
			if p := recover(); p != nil {
				v, err = nil, fmt.Errorf("model %s: panic: %v", name, p)
			}
		}()
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		return c.revalidate(fctx, name)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return version{}, r.Err
		}
		return r.Val.(version), nil
	case <-ctx.Done():
		return version{}, fmt.Errorf("model %s: %w", name, context.Cause(ctx))
	}
}

// GetVersion is Get for a job that names the model version it was fanned out
// with: when the cache holds exactly that version (etag equal to the entry's),
// it is returned without a request to the store. Any other case, an empty
// etag included, is Get. A model replaced after fan-out is thus scored with
// the version fan-out listed when that one is cached, and the ETag returned
// is always that of the version returned.
func (c *Cache) GetVersion(ctx context.Context, name, etag string) (*svm.Model, string, error) {
	v, err := c.getVersion(ctx, name, etag)
	return v.model, v.etag, err
}

// getVersion is GetVersion with whether the model came from the cache.
func (c *Cache) getVersion(ctx context.Context, name, etag string) (version, error) {
	if etag != "" {
		c.mu.Lock()
		if el, ok := c.items[name]; ok && el.Value.(*cacheEntry).etag == etag {
			c.lru.MoveToFront(el)
			c.stats.Hits++
			c.stats.Trusted++
			m := el.Value.(*cacheEntry).model
			c.mu.Unlock()
			return version{model: m, etag: etag, hit: true}, nil
		}
		c.mu.Unlock()
	}
	return c.get(ctx, name)
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries = c.lru.Len()
	s.Bytes = c.bytes
	return s
}

// version is a model with the ETag of the blob it was loaded from.
type version struct {
	model *svm.Model
	etag  string
	hit   bool // the cached model, its ETag unchanged
}

func (c *Cache) revalidate(ctx context.Context, name string) (version, error) {
	etag := ""
	c.mu.Lock()
	if el, ok := c.items[name]; ok {
		etag = el.Value.(*cacheEntry).etag
	}
	c.mu.Unlock()

	data, newETag, changed, err := c.fetch(ctx, name, etag)
	if err != nil {
		return version{}, err
	}
	if !changed {
		c.mu.Lock()
		el, ok := c.items[name]
		if ok && el.Value.(*cacheEntry).etag == etag {
			c.lru.MoveToFront(el)
			c.stats.Hits++
			m := el.Value.(*cacheEntry).model
			c.mu.Unlock()
			return version{m, etag, true}, nil
		}
		c.mu.Unlock()
		if etag == "" {
			return version{}, fmt.Errorf("model %s: store reported an unconditional read as unchanged", name)
		}
		// Evicted while we asked: read it unconditionally.
		data, newETag, changed, err = c.fetch(ctx, name, "")
		if err != nil {
			return version{}, err
		}
		if !changed {
			return version{}, fmt.Errorf("model %s: store reported an unconditional read as unchanged", name)
		}
	}
	m, err := c.load(data)
	if err != nil {
		return version{}, &loadError{name: name, err: err}
	}
	c.put(&cacheEntry{name: name, etag: newETag, model: m, size: modelSize(len(data), m)})
	return version{model: m, etag: newETag}, nil
}

// put stores e, replacing an older entry of the same name, and evicts the
// least recently used entries beyond the bound. An entry larger than the
// whole bound, or without an ETag to revalidate it by, is not kept.
func (c *Cache) put(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Loads++
	if el, ok := c.items[e.name]; ok {
		c.bytes -= el.Value.(*cacheEntry).size
		c.lru.Remove(el)
		delete(c.items, e.name)
	}
	if e.etag == "" || e.size > c.maxBytes {
		return
	}
	c.items[e.name] = c.lru.PushFront(e)
	c.bytes += e.size
	for c.bytes > c.maxBytes {
		el := c.lru.Back()
		old := el.Value.(*cacheEntry)
		c.lru.Remove(el)
		delete(c.items, old.name)
		c.bytes -= old.size
		c.stats.Evictions++
	}
}

// modelSize approximates the memory a loaded model holds: its blob plus the
// support vectors twice (row-major and blocked copies), the dual
// coefficients and the scaler.
func modelSize(blobBytes int, m *svm.Model) int64 {
	nsv, nf := int64(m.NSupport()), int64(m.NFeatures())
	return int64(blobBytes) + 8*(2*nsv*nf+2*nsv+2*nf) + 256
}

// loadError marks a model whose bytes could not be turned into a model:
// retrying cannot help until someone replaces the blob.
type loadError struct {
	name string
	err  error
}

func (e *loadError) Error() string { return fmt.Sprintf("load model %s: %v", e.name, e.err) }
func (e *loadError) Unwrap() error { return e.err }

func isLoadError(err error) bool {
	var le *loadError
	return errors.As(err, &le)
}
