package localhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/storage"
)

// timer is one timerTrigger function: its parsed NCRONTAB schedule, its schedule
// monitor (useMonitor) and a lock so that one timer never runs twice at once (the
// host's TimerListener serializes a timer's invocations with _invocationLock).
type timer struct {
	h     *Host
	fn    Function
	b     Binding
	sched cron.Schedule
	mon   *monitor // nil when useMonitor is false

	run sync.Mutex // held during an invocation
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
	t := &timer{h: h, fn: fn, b: b, sched: s}
	if b.UseMonitor == nil || *b.UseMonitor {
		if t.mon, err = newMonitor(h, fn.Name); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// schedule starts the timer's listener, as TimerListener.StartAsync does: with
// the monitor it reads the stored status and, if the occurrence it names as Next
// has passed (the app was down), invokes once at once with IsPastDue, however
// many occurrences were missed; otherwise runOnStartup invokes once. Then it
// runs on its schedule until the host stops.
func (t *timer) schedule(ctx context.Context) error {
	pastDue := false
	if t.mon != nil {
		st, err := t.mon.load(ctx)
		if err != nil {
			return fmt.Errorf("%s: read schedule status: %w", t.fn.Name, err)
		}
		pastDue = st != nil && t.h.now().After(st.Next)
	}
	t.h.wg.Add(1)
	go func() {
		defer t.h.wg.Done()
		if pastDue {
			t.h.log.Warn("timer is past due", "function", t.fn.Name)
			t.fire(t.h.ctx, t.h.now().UTC(), true)
		} else if t.b.RunOnStartup {
			t.fire(t.h.ctx, t.h.now().UTC(), false)
		}
		for {
			next := t.sched.Next(t.h.now().UTC())
			select {
			case <-t.h.ctx.Done():
				return
			case <-time.After(next.Sub(t.h.now())):
			}
			t.fire(t.h.ctx, next, false)
		}
	}()
	return nil
}

// fire invokes the timer for the occurrence at now (pastDue: the catch-up run at
// now of the missed occurrence the status names), then records the status as
// TimerListener.InvokeJobFunction does, whether the invocation failed or not:
// Last = the occurrence, Next = the schedule's next one after it.
func (t *timer) fire(ctx context.Context, now time.Time, pastDue bool) (Response, error) {
	t.run.Lock()
	defer t.run.Unlock()
	st := timerState{Schedule: t.sched, Now: now, PastDue: pastDue, UseMonitor: t.mon != nil}
	if t.mon != nil {
		stored, err := t.mon.load(ctx)
		if err != nil {
			t.h.log.Error("read timer status", "function", t.fn.Name, "err", err)
		}
		st.Status = azfunc.ScheduleStatus{Next: now} // first run: Last and LastUpdated the default date
		if stored != nil {
			st.Status = *stored
			if !pastDue {
				st.Status.Next = now // this occurrence
			}
		}
	}
	resp, err := t.h.invokeWithRetry(ctx, t.fn, func(rc *azfunc.RetryContext) ([]byte, http.Header, error) {
		return timerPayload(t.fn.Name, t.b, st, rc)
	})
	if t.mon != nil && ctx.Err() == nil {
		last := now
		if err := t.mon.save(ctx, azfunc.ScheduleStatus{Last: last, Next: t.sched.Next(last), LastUpdated: last}); err != nil {
			t.h.log.Error("write timer status", "function", t.fn.Name, "err", err)
		}
	}
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

// TimerStatus returns the stored schedule status of the timer function name (nil
// before its first run, or without useMonitor).
func (h *Host) TimerStatus(ctx context.Context, name string) (*azfunc.ScheduleStatus, error) {
	t, ok := h.timers[name]
	if !ok {
		return nil, fmt.Errorf("timer status %s: no timerTrigger function of that name", name)
	}
	if t.mon == nil {
		return nil, nil
	}
	return t.mon.load(ctx)
}

// monitor stores a timer's schedule status where the host's StorageScheduleMonitor
// does, so that it outlives the host: blob timers/{hostId}/{timerName}/status in
// container azure-webjobs-hosts of AzureWebJobsStorage, with timerName
// Host.Functions.<function> and hostId the AzureFunctionsWebHost__hostid setting
// (default "localhost"). Without AzureWebJobsStorage the status lives in memory.
type monitor struct {
	blobs *storage.Blobs
	name  string

	mu  sync.Mutex
	mem *azfunc.ScheduleStatus
}

// MonitorContainer is the container of the host's own blobs (timer status, locks).
const MonitorContainer = "azure-webjobs-hosts"

func newMonitor(h *Host, fn string) (*monitor, error) {
	hostID := h.settings["AzureFunctionsWebHost__hostid"]
	if hostID == "" {
		hostID = "localhost"
	}
	m := &monitor{name: "timers/" + hostID + "/Host.Functions." + fn + "/status"}
	cs := h.settings["AzureWebJobsStorage"]
	if cs == "" {
		h.log.Warn("AzureWebJobsStorage not set: timer status kept in memory", "function", fn)
		return m, nil
	}
	acct, err := storage.New(storage.Config{ConnectionString: cs})
	if err != nil {
		return nil, fmt.Errorf("%s: timer monitor: %w", fn, err)
	}
	m.blobs = acct.Blobs()
	return m, nil
}

type statusJSON struct {
	Last        time.Time
	Next        time.Time
	LastUpdated time.Time
}

func (m *monitor) load(ctx context.Context) (*azfunc.ScheduleStatus, error) {
	if m.blobs == nil {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.mem == nil {
			return nil, nil
		}
		st := *m.mem
		return &st, nil
	}
	b, _, err := m.blobs.Get(ctx, MonitorContainer, m.name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s statusJSON
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("timer status %s: %w", m.name, err)
	}
	return &azfunc.ScheduleStatus{Last: s.Last.UTC(), Next: s.Next.UTC(), LastUpdated: s.LastUpdated.UTC()}, nil
}

func (m *monitor) save(ctx context.Context, st azfunc.ScheduleStatus) error {
	if m.blobs == nil {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.mem = &st
		return nil
	}
	b, err := json.Marshal(statusJSON(st))
	if err != nil {
		return err
	}
	if err := m.blobs.EnsureContainers(ctx, MonitorContainer); err != nil {
		return err
	}
	return m.blobs.Put(ctx, MonitorContainer, m.name, b, "application/json")
}
