package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/telemetry"
)

// readyWait is how long an invocation that arrives during set-up waits for it
// before it is answered 503 (which the host counts as a failed attempt).
// Tests shorten it before calling run.
var readyWait = 20 * time.Second

// deps are the clients the functions use, built by setup.
type deps struct {
	blobs *storage.Blobs
	queue *storage.Queue
	store *sqlstore.Store
}

// app is the handler's state: the function handlers once set-up is done.
type app struct {
	cfg    Config
	logger *slog.Logger
	tel    *telemetry.Client // direct telemetry; nil when lines go through the host

	ready     chan struct{}                           // closed when fns is set
	fns       atomic.Pointer[map[string]http.Handler] // nil until ready
	lastError atomic.Pointer[string]                  // last set-up failure, for GET /

	inFlight sync.WaitGroup // invocations being served (see function and drain)

	mu    sync.Mutex
	store *sqlstore.Store // closed by close
}

func newApp(cfg Config, logger *slog.Logger) *app {
	return &app{cfg: cfg, logger: logger, ready: make(chan struct{})}
}

// setup builds the storage and SQL clients, retrying with back-off until it
// succeeds or ctx ends. Storage containers and the queue are created when
// missing; that is best effort (a deployment may grant data access but create
// them itself), so after a few failed attempts set-up goes on with a warning.
func (a *app) setup(ctx context.Context) {
	start := time.Now()
	acct, err := storage.New(a.cfg.Storage)
	if err != nil {
		// Validated at start, so this is not expected; keep the handler up and say why.
		a.fail(ctx, "storage clients", err)
		return
	}
	d := deps{blobs: acct.Blobs(), queue: acct.Queue(a.cfg.ScoreQueue)}

	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		octx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		store, err := sqlstore.Open(octx, a.cfg.SQLURL)
		cancel()
		if err == nil {
			a.mu.Lock()
			a.store = store
			a.mu.Unlock()
			d.store = store
			break
		}
		a.fail(ctx, "open SQL store", err)
		if !sleep(ctx, delay) {
			return
		}
		delay = min(delay*2, 30*time.Second)
	}

	delay = 500 * time.Millisecond
	for attempt := 1; attempt <= 5; attempt++ {
		err := a.ensureStorage(ctx, d)
		if err == nil {
			break
		}
		if attempt == 5 {
			a.logger.Warn("storage containers/queue not verified; going on", "err", err.Error())
			break
		}
		a.fail(ctx, "create storage containers and queue", err)
		if !sleep(ctx, delay) {
			return
		}
		delay *= 2
	}

	fns := newFunctions(a.cfg, d, a.logger, a.tel)
	a.fns.Store(&fns)
	a.lastError.Store(nil)
	close(a.ready)
	a.logger.Info("ready", "setup", time.Since(start).String(), "sql", d.store.Dialect())
}

func (a *app) ensureStorage(ctx context.Context, d deps) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := d.blobs.EnsureContainers(ctx, a.cfg.ModelsContainer, a.cfg.RawContainer, a.cfg.RejectsContainer, a.cfg.PredictionsContainer); err != nil {
		return err
	}
	return d.queue.Ensure(ctx)
}

func (a *app) fail(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	msg := fmt.Sprintf("%s: %v", what, err)
	a.lastError.Store(&msg)
	a.logger.Error("set-up failed; retrying", "step", what, "err", err.Error())
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// drain waits up to timeout for the invocations still being served: after a
// cancel they record their outcomes (score-sensor does so on a detached
// context), which needs the SQL store open. It reports whether all ended.
func (a *app) drain(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() {
		a.inFlight.Wait()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// close releases the SQL store.
func (a *app) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.store == nil {
		return nil
	}
	err := a.store.Close()
	a.store = nil
	if err != nil {
		return fmt.Errorf("close SQL store: %w", err)
	}
	return nil
}

// readiness answers the host's start-up probe at once: any response means
// "started". The body says whether set-up is done.
func (a *app) readiness(w http.ResponseWriter, r *http.Request) {
	status := map[string]string{"status": "starting"}
	if a.fns.Load() != nil {
		status["status"] = "ready"
	} else if e := a.lastError.Load(); e != nil {
		status["lastError"] = *e
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(status)
}

// function returns the handler of one function, waiting up to readyWait for
// set-up; before that it answers 503 with the host's envelope.
func (a *app) function(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.inFlight.Add(1)
		defer a.inFlight.Done()
		fns := a.fns.Load()
		if fns == nil {
			t := time.NewTimer(readyWait)
			select {
			case <-a.ready:
				fns = a.fns.Load()
			case <-t.C:
			case <-r.Context().Done():
			}
			t.Stop()
		}
		if fns == nil {
			a.notReady(w, r, name)
			return
		}
		h, ok := (*fns)[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

var errNotReady = errors.New("handler set-up not finished")

func (a *app) notReady(w http.ResponseWriter, r *http.Request, name string) {
	msg := errNotReady.Error()
	if e := a.lastError.Load(); e != nil {
		msg += ": " + *e
	}
	a.logger.Error("invocation refused", "function", name,
		"invocation_id", r.Header.Get("X-Azure-Functions-InvocationId"), "err", msg)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Retry-After", "5")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(map[string]any{"Outputs": map[string]any{}, "Logs": []string{msg}, "ReturnValue": nil})
}
