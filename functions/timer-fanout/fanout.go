package timerfanout

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/storage"
)

// ModelLister lists the blobs of a container.
type ModelLister interface {
	List(ctx context.Context, container, prefix string) ([]storage.BlobInfo, error)
}

// JobQueue enqueues score-jobs messages.
type JobQueue interface {
	// EnqueueMany enqueues bodies with at most parallelism requests in flight
	// and returns how many it enqueued.
	EnqueueMany(ctx context.Context, bodies [][]byte, parallelism int) (int, error)
}

// RunStore registers runs and reads what fan-out needs to know of the past.
type RunStore interface {
	// PutRun registers a run (again: idempotent).
	PutRun(ctx context.Context, r sensor.Run) error
	// FinishFanOut records that every message of run id was enqueued.
	FinishFanOut(ctx context.Context, id string, at time.Time) error
	// LastScheduledRun returns the scheduled run with the latest window end
	// whose fan-out finished; ok is false when there is none.
	LastScheduledRun(ctx context.Context) (r sensor.Run, ok bool, err error)
	// IngestMark returns how far ingest has got.
	IngestMark(ctx context.Context) (sensor.IngestMark, error)
	// OldestUnscoredRun returns, of the runs registered at or after since
	// whose sensors do not all have a final outcome, the one with the
	// earliest window start; ok is false when there is none.
	OldestUnscoredRun(ctx context.Context, since time.Time) (r sensor.Run, ok bool, err error)
}

// ReadingPruner deletes old readings (sqlstore.Store.PruneReadings).
type ReadingPruner interface {
	// PruneReadings deletes readings before cutoff in at most maxBatches
	// transactions of at most batch rows; more reports that older readings
	// may remain.
	PruneReadings(ctx context.Context, cutoff time.Time, batch, maxBatches int) (deleted int, more bool, err error)
}

// Retention batches: 4,000 rows a statement stays under SQL Server's lock
// escalation threshold (5,000 locks); 100 batches bound one invocation.
const (
	pruneBatch      = 4000
	pruneMaxBatches = 100
)

// Config is the function's configuration.
type Config struct {
	Schedule        string        // FANOUT_SCHEDULE, default "0 0 * * * *" (hourly)
	ChunkSize       int           // FANOUT_CHUNK_SIZE, sensors per message, default 1
	Parallelism     int           // FANOUT_PARALLELISM, enqueue requests in flight, default 16
	ModelsContainer string        // MODELS_CONTAINER, default "models"
	Lateness        time.Duration // how early the host may fire, default 5s (see the package doc)
	// Lag is FANOUT_LAG: the window of an occurrence ends Lag before it, so
	// that readings ingest stores up to Lag late are in the window when it is
	// scored. Zero: the window ends at the occurrence.
	Lag time.Duration
	// MaxCatchUp is FANOUT_MAX_CATCHUP: the most windows one invocation fans
	// out, the current one included, when runs were missed; default 24.
	MaxCatchUp int
	// Retention is READINGS_RETENTION: after its fan-out, each timer run
	// deletes through Pruner the readings older than Retention before now
	// (in bounded batches; the rest on the next run). Zero keeps everything.
	Retention time.Duration
	Pruner    ReadingPruner
	// Now is the clock used to stamp runs; nil means time.Now.
	Now func() time.Time
	// Logger receives the lines, logged with the invocation's context (see
	// azfunc.ContextLogger); nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Schedule == "" {
		c.Schedule = "0 0 * * * *"
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = 1
	}
	if c.Parallelism <= 0 {
		c.Parallelism = 16
	}
	if c.ModelsContainer == "" {
		c.ModelsContainer = "models"
	}
	if c.MaxCatchUp <= 0 {
		c.MaxCatchUp = 24
	}
	if c.Lateness <= 0 {
		c.Lateness = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Function fans scoring runs out. It is safe for concurrent use.
type Function struct {
	cfg    Config
	models ModelLister
	queue  JobQueue
	runs   RunStore
}

// New returns the function. Zero Config fields take the defaults listed
// there; an invalid Schedule is reported by Run (and by Config.Validate).
func New(cfg Config, models ModelLister, queue JobQueue, runs RunStore) *Function {
	return &Function{cfg: cfg.withDefaults(), models: models, queue: queue, runs: runs}
}

// Validate reports an invalid schedule, so that a handler can refuse to start.
func (c Config) Validate() error {
	_, err := ParseSchedule(c.withDefaults().Schedule)
	return err
}

// MinRetention is the bound Retention must exceed: a catch-up run fans out
// MaxCatchUp windows, the oldest starting up to MaxCatchUp periods plus Lag
// before the invocation, and the window before it may still be scored.
func (c Config) MinRetention(s Schedule) time.Duration {
	return time.Duration(c.withDefaults().MaxCatchUp+1)*s.Period() + c.Lag
}

// Result describes one fan-out.
type Result struct {
	Run      string        `json:"run"`
	Window   sensor.Window `json:"window"`
	Sensors  int           `json:"sensors"`
	Messages int           `json:"messages"`
	Skipped  int           `json:"skipped"` // blobs that are not models, or duplicate models
	// CaughtUp are the runs of missed windows fanned out before Run's own
	// (oldest first).
	CaughtUp []string `json:"caught_up,omitempty"`
	// NotFannedOut is the span of missed windows beyond Config.MaxCatchUp,
	// left for the backfill function.
	NotFannedOut *sensor.Window `json:"not_fanned_out,omitempty"`
}

// WakeMessage is the wake-up message (sensor.WakeMessage) to return through
// the function's queue output binding after this fan-out, or "" when it
// enqueued no job. Every window of one invocation is fanned out from the same
// models, so the last run enqueued jobs if any did.
//
// The jobs themselves are enqueued with the Storage SDK, which the Functions
// host does not see; only a write through a queue output binding makes it wake
// its queue listeners at once (QueueAsyncCollector.AddAsync notifies the
// host's SharedQueueWatcher, azure-sdk-for-net
// Microsoft.Azure.WebJobs.Extensions.Storage.Queues, Config/QueuesExtensionConfigProvider.cs),
// instead of at their next poll, up to maxPollingInterval later.
func (r Result) WakeMessage() string {
	if r.Messages == 0 || r.Run == "" {
		return ""
	}
	return sensor.WakeMessage(r.Run)
}

// Run fans out the window of the occurrence the timer fired for and, before
// it, every window missed since the last scheduled run whose fan-out
// finished, up to Config.MaxCatchUp windows in all (see the package doc).
func (f *Function) Run(ctx context.Context, t azfunc.TimerInfo, now time.Time) (Result, error) {
	w, err := f.TriggerWindow(t, now)
	if err != nil {
		return Result{}, err
	}
	windows, beyond, err := f.missedWindows(ctx, t, w)
	if err != nil {
		return Result{}, err
	}
	log := f.cfg.Logger
	if t.IsPastDue {
		log.WarnContext(ctx, "timer is past due", "window_end", w.End, "windows", len(windows))
	}
	if beyond != nil {
		log.WarnContext(ctx, "missed windows beyond FANOUT_MAX_CATCHUP are not fanned out: post them to the backfill function",
			"start", beyond.Start, "end", beyond.End, "max_catchup", f.cfg.MaxCatchUp)
	}
	in, err := f.inputs(ctx)
	if err != nil {
		return Result{}, err
	}
	var caughtUp []string
	for _, mw := range windows[:len(windows)-1] {
		res, err := f.runWindow(ctx, mw, true, in)
		if err != nil {
			return res, fmt.Errorf("catch up: %w", err)
		}
		caughtUp = append(caughtUp, res.Run)
	}
	res, err := f.runWindow(ctx, w, true, in)
	res.CaughtUp, res.NotFannedOut = caughtUp, beyond
	if err != nil {
		return res, err
	}
	f.prune(ctx, now, windows[0])
	return res, nil
}

// RetryMargin is how long before the oldest window fanned out the prune
// leaves readings in place at least, for the jobs of earlier windows still
// queued or retried: 5 deliveries (maxDequeueCount) of up to 10 minutes
// (functionTimeout) each, and their visibility back-off.
const RetryMargin = time.Hour

// prune deletes the readings older than Config.Retention, but never those of
// oldest (the oldest window this invocation fanned out, whose jobs are only
// queued), nor of a run registered within the retention whose sensors are not
// all scored (a queue backlog, a backfill), nor of the max(one window,
// RetryMargin) before either. A run that never finishes holds the prune back
// for one retention at most. A failure is logged, not returned: the fan-out
// is done, and the next run prunes again.
func (f *Function) prune(ctx context.Context, now time.Time, oldest sensor.Window) {
	if f.cfg.Retention <= 0 || f.cfg.Pruner == nil {
		return
	}
	log := f.cfg.Logger
	cutoff := now.UTC().Add(-f.cfg.Retention)
	held, by := oldest, "the oldest window fanned out"
	unscored, ok, err := f.runs.OldestUnscoredRun(ctx, cutoff)
	if err != nil {
		log.WarnContext(ctx, "prune skipped: the runs not yet scored are unknown; the next run prunes again", "err", err.Error())
		return
	}
	if ok && unscored.Window.Start.Before(held.Start) {
		held, by = unscored.Window, "run "+unscored.ID+", not yet scored"
	}
	if keep := held.Start.UTC().Add(-max(held.End.Sub(held.Start), RetryMargin)); cutoff.After(keep) {
		log.WarnContext(ctx, "READINGS_RETENTION reaches into a window still to be scored: pruning only before it less a margin",
			"before", keep, "retention_cutoff", cutoff, "held_by", by, "window_start", held.Start)
		cutoff = keep
	}
	n, more, err := f.cfg.Pruner.PruneReadings(ctx, cutoff, pruneBatch, pruneMaxBatches)
	if err != nil {
		log.WarnContext(ctx, "prune readings failed; the next run prunes again", "before", cutoff, "deleted", n, "err", err.Error())
		return
	}
	log.InfoContext(ctx, "pruned readings", "before", cutoff, "deleted", n, "more", more)
}

// TriggerWindow returns the window of an invocation (see the package doc).
func (f *Function) TriggerWindow(t azfunc.TimerInfo, now time.Time) (sensor.Window, error) {
	s, err := ParseSchedule(f.cfg.Schedule)
	if err != nil {
		return sensor.Window{}, azfunc.Permanent(err)
	}
	limit := now.UTC().Add(f.cfg.Lateness)
	var occ time.Time
	if next := statusNext(t); !t.IsPastDue && !next.IsZero() && !next.After(limit) && s.IsOccurrence(next) {
		occ = next.UTC()
	} else if occ, err = s.Latest(limit); err != nil {
		return sensor.Window{}, azfunc.Permanent(err)
	}
	return f.occurrenceWindow(s, occ)
}

// occurrenceWindow is the window scored at occurrence occ: from the previous
// occurrence to occ, both Config.Lag earlier.
func (f *Function) occurrenceWindow(s Schedule, occ time.Time) (sensor.Window, error) {
	prev, err := s.Previous(occ)
	if err != nil {
		return sensor.Window{}, azfunc.Permanent(err)
	}
	return sensor.Window{Start: prev.Add(-f.cfg.Lag), End: occ.Add(-f.cfg.Lag)}, nil
}

// missedWindows returns the windows to fan out for the current window w,
// oldest first and w last: those ending after the last scheduled run whose
// fan-out finished (or, with none in the store, after the window of the
// host's ScheduleStatus.Last), at most Config.MaxCatchUp of them; beyond is
// the span of older missed windows left out, nil when none.
func (f *Function) missedWindows(ctx context.Context, t azfunc.TimerInfo, w sensor.Window) (windows []sensor.Window, beyond *sensor.Window, err error) {
	s, err := ParseSchedule(f.cfg.Schedule)
	if err != nil {
		return nil, nil, azfunc.Permanent(err)
	}
	last, ok, err := f.runs.LastScheduledRun(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("last scheduled run: %w", err)
	}
	var after time.Time
	switch {
	case ok:
		after = last.Window.End
	case t.ScheduleStatus != nil && t.ScheduleStatus.Last.Year() > 2000:
		// No scheduled run in the store (a new store, or runs from before
		// it recorded them): the host's last run is the best left.
		after = t.ScheduleStatus.Last.UTC().Add(-f.cfg.Lag)
	}
	windows = []sensor.Window{w}
	for {
		end := windows[0].Start
		if after.IsZero() || !end.After(after) {
			return windows, nil, nil
		}
		if len(windows) == f.cfg.MaxCatchUp {
			return windows, &sensor.Window{Start: after, End: end}, nil
		}
		mw, err := f.occurrenceWindow(s, end.Add(f.cfg.Lag))
		if err != nil {
			return nil, nil, err
		}
		windows = append([]sensor.Window{mw}, windows...)
	}
}

// RunWindow registers the run of w and enqueues its jobs: a backfill.
func (f *Function) RunWindow(ctx context.Context, w sensor.Window) (Result, error) {
	if err := w.Validate(); err != nil {
		return Result{}, azfunc.Permanent(err)
	}
	in, err := f.inputs(ctx)
	if err != nil {
		return Result{Run: w.RunID(), Window: w}, err
	}
	return f.runWindow(ctx, w, false, in)
}

// fanInputs is what every window of one invocation is fanned out from: the
// models listed once and the ingest mark read once per invocation, not per
// window (a catch-up fans out up to FANOUT_MAX_CATCHUP windows).
type fanInputs struct {
	entries []sensor.JobEntry
	skipped int
	mark    sensor.IngestMark
}

// inputs lists the models and reads the ingest mark.
func (f *Function) inputs(ctx context.Context) (fanInputs, error) {
	blobs, err := f.models.List(ctx, f.cfg.ModelsContainer, sensor.ModelPrefix)
	if err != nil {
		return fanInputs{}, fmt.Errorf("list models: %w", err)
	}
	entries, skipped := pickModels(ctx, f.cfg.Logger, blobs)
	mark, err := f.runs.IngestMark(ctx)
	if err != nil {
		return fanInputs{}, err
	}
	return fanInputs{entries: entries, skipped: skipped, mark: mark}, nil
}

// runWindow registers the run of w (scheduled: made by the timer) with the
// ingest mark, enqueues its jobs and records that its fan-out finished.
func (f *Function) runWindow(ctx context.Context, w sensor.Window, scheduled bool, in fanInputs) (Result, error) {
	if err := w.Validate(); err != nil {
		return Result{}, azfunc.Permanent(err)
	}
	w = sensor.Window{Start: w.Start.UTC(), End: w.End.UTC()}
	res := Result{Run: w.RunID(), Window: w}
	entries, mark := in.entries, in.mark
	res.Sensors, res.Skipped = len(entries), in.skipped

	bodies, err := Messages(res.Run, w, entries, f.cfg.ChunkSize)
	if err != nil {
		return res, err
	}
	run := sensor.Run{ID: res.Run, Window: w, Sensors: len(entries), Created: f.cfg.Now().UTC(), Scheduled: scheduled, Ingest: mark}
	if err := f.runs.PutRun(ctx, run); err != nil {
		return res, fmt.Errorf("register run %s: %w", res.Run, err)
	}
	n, err := f.queue.EnqueueMany(ctx, bodies, f.cfg.Parallelism)
	res.Messages = n
	if err != nil {
		return res, fmt.Errorf("enqueue run %s: %d of %d messages enqueued: %w", res.Run, n, len(bodies), err)
	}
	if n != len(bodies) {
		return res, fmt.Errorf("enqueue run %s: %d of %d messages enqueued", res.Run, n, len(bodies))
	}
	if err := f.runs.FinishFanOut(ctx, res.Run, f.cfg.Now().UTC()); err != nil {
		return res, fmt.Errorf("run %s: %w", res.Run, err)
	}
	log := f.cfg.Logger
	if len(entries) == 0 {
		log.WarnContext(ctx, "no models found", "run", res.Run, "container", f.cfg.ModelsContainer)
	}
	if !mark.Oldest.IsZero() && mark.Oldest.Before(w.End) {
		// Readings of the window may still be on their way (or a partition is idle).
		log.WarnContext(ctx, "ingest watermark before the window end", "run", res.Run, "window_end", w.End,
			"ingest_oldest", mark.Oldest, "ingest_newest", mark.Newest)
	}
	log.InfoContext(ctx, "fanned out", "run", res.Run, "sensors", res.Sensors, "messages", res.Messages, "skipped", res.Skipped,
		"ingest_oldest", mark.Oldest, "ingest_newest", mark.Newest)
	return res, nil
}

// pickModels turns blob names into job entries sorted by (device, sensor),
// one per sensor.
func pickModels(ctx context.Context, log *slog.Logger, blobs []storage.BlobInfo) ([]sensor.JobEntry, int) {
	names := make([]string, 0, len(blobs))
	etags := make(map[string]string, len(blobs))
	for _, b := range blobs {
		names = append(names, b.Name)
		etags[b.Name] = b.ETag
	}
	slices.Sort(names)
	byKey := make(map[sensor.Key]string, len(names))
	entries := make([]sensor.JobEntry, 0, len(names))
	skipped := 0
	for _, name := range names {
		k, ok := sensor.ParseModelName(name)
		if !ok {
			skipped++
			log.InfoContext(ctx, "skip blob: not a model name", "blob", name)
			continue
		}
		if kept, dup := byKey[k]; dup {
			skipped++
			log.WarnContext(ctx, "skip blob: sensor has another model", "blob", name, "kept", kept, "device", k.Device, "sensor", k.Sensor)
			continue
		}
		byKey[k] = name
		entries = append(entries, sensor.JobEntry{Key: k, Model: name, ModelETag: etags[name]})
	}
	slices.SortFunc(entries, func(a, b sensor.JobEntry) int {
		return cmp.Or(cmp.Compare(a.Device, b.Device), cmp.Compare(a.Sensor, b.Sensor))
	})
	return entries, skipped
}

// MaxMessageBytes is the largest message a storage queue accepts: 64 KiB of
// stored text, which for the base64 encoding the host expects is the
// encoded body.
const MaxMessageBytes = 64 << 10

// Messages encodes the jobs of a run: entries in order, at most chunk per
// message, and never more than fit one queue message: a chunk whose stored
// (base64) text would exceed MaxMessageBytes is cut short and the next
// message goes on from there.
func Messages(run string, w sensor.Window, entries []sensor.JobEntry, chunk int) ([][]byte, error) {
	if chunk <= 0 {
		return nil, errors.New("chunk size must be positive")
	}
	// A Job encodes as its empty form with the entries' encodings, separated
	// by commas, inside the sensors array: sizes add up exactly.
	empty, err := json.Marshal(sensor.Job{Run: run, Window: w, Sensors: []sensor.JobEntry{}})
	if err != nil {
		return nil, fmt.Errorf("encode job: %w", err)
	}
	fits := func(size int) bool { return base64.StdEncoding.EncodedLen(size) <= MaxMessageBytes }
	bodies := make([][]byte, 0, (len(entries)+chunk-1)/chunk)
	for i := 0; i < len(entries); {
		size, n := len(empty), 0
		for i+n < len(entries) && n < chunk {
			e, err := json.Marshal(entries[i+n])
			if err != nil {
				return nil, fmt.Errorf("encode job: %w", err)
			}
			next := size + len(e)
			if n > 0 {
				next++ // the comma
			}
			if !fits(next) {
				break
			}
			size, n = next, n+1
		}
		if n == 0 {
			return nil, fmt.Errorf("encode job: sensor %s alone exceeds the %d-byte queue message limit", entries[i].Key, MaxMessageBytes)
		}
		b, err := encodeJob(sensor.Job{Run: run, Window: w, Sensors: entries[i : i+n]})
		if err != nil {
			return nil, fmt.Errorf("encode job: %w", err)
		}
		if len(b) != size {
			// The size arithmetic above is exact; a mismatch is a bug here,
			// which no retry mends (a panic would be recovered as transient).
			return nil, azfunc.Permanent(fmt.Errorf("encode job: job of %d sensors encodes to %d bytes, computed %d (a bug in timerfanout.Messages)", n, len(b), size))
		}
		bodies = append(bodies, b)
		i += n
	}
	return bodies, nil
}

// encodeJob encodes a message body; a variable so that a test can break the
// size arithmetic Messages relies on.
var encodeJob = func(j sensor.Job) ([]byte, error) { return json.Marshal(j) }

// statusNext returns ScheduleStatus.Next, or zero without a status.
func statusNext(t azfunc.TimerInfo) time.Time {
	if t.ScheduleStatus == nil {
		return time.Time{}
	}
	return t.ScheduleStatus.Next
}
