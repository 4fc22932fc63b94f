package localhost

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/batchscore/batchscore/internal/azfunc"
)

// timer is one timerTrigger function: its parsed NCRONTAB schedule, the last
// occurrence it ran, and a lock so that one timer never runs twice at once (the
// host serializes a timer's invocations).
type timer struct {
	h     *Host
	fn    Function
	b     Binding
	sched cron.Schedule

	run  sync.Mutex // held during an invocation
	mu   sync.Mutex
	last time.Time
}

// ncrontab parses the 6-field {second} {minute} {hour} {day} {month} {day-of-week} format.
var ncrontab = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func newTimer(h *Host, fn Function, b Binding) (*timer, error) {
	if strings.TrimSpace(b.Schedule) == "" {
		return nil, fmt.Errorf("%s: timerTrigger without schedule", fn.Name)
	}
	s, err := ncrontab.Parse(b.Schedule)
	if err != nil {
		return nil, fmt.Errorf("%s: schedule %q: %w", fn.Name, b.Schedule, err)
	}
	return &timer{h: h, fn: fn, b: b, sched: s}, nil
}

// schedule runs the timer on its schedule until the host stops (and once at start
// when runOnStartup is set).
func (t *timer) schedule() {
	t.h.wg.Add(1)
	go func() {
		defer t.h.wg.Done()
		if t.b.RunOnStartup {
			t.fire(t.h.ctx, time.Now().UTC(), false)
		}
		for {
			next := t.sched.Next(time.Now().UTC())
			select {
			case <-t.h.ctx.Done():
				return
			case <-time.After(time.Until(next)):
			}
			t.fire(t.h.ctx, next, false)
		}
	}()
}

func (t *timer) fire(ctx context.Context, now time.Time, pastDue bool) (Response, error) {
	t.run.Lock()
	defer t.run.Unlock()
	t.mu.Lock()
	last := t.last
	t.mu.Unlock()
	useMonitor := t.b.UseMonitor == nil || *t.b.UseMonitor
	st := timerState{Schedule: t.sched, Now: now, Last: last, PastDue: pastDue, UseMonitor: useMonitor}
	resp, err := t.h.invokeWithRetry(ctx, t.fn, func(rc *azfunc.RetryContext) ([]byte, http.Header, error) {
		return timerPayload(t.fn.Name, t.b, st, rc)
	})
	t.mu.Lock()
	t.last = now
	t.mu.Unlock()
	t.h.pokeQueues()
	if err != nil {
		t.h.log.Error("timer invocation failed", "function", t.fn.Name, "now", now, "err", err)
		return resp, err
	}
	return resp, nil
}

// FireTimer invokes the timer function name now, as if its schedule had fired at
// now, and waits for the reply. Invocations of one timer never overlap: a second
// FireTimer waits for the first.
func (h *Host) FireTimer(ctx context.Context, name string, now time.Time) (Response, error) {
	t, ok := h.timers[name]
	if !ok {
		return Response{}, fmt.Errorf("fire timer %s: no timerTrigger function of that name", name)
	}
	return t.fire(ctx, now.UTC(), false)
}
