package scoresensor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/svm"
)

// ModelStore reads model blobs, conditionally on their ETag.
type ModelStore interface {
	// GetIfChanged returns the blob's bytes and ETag, or changed=false when
	// its ETag still equals etag. A missing blob gives an error wrapping
	// storage.ErrNotFound, a blob larger than maxBytes one wrapping
	// storage.ErrTooLarge (checked before its body is read).
	GetIfChanged(ctx context.Context, container, name, etag string, maxBytes int64) (data []byte, newETag string, changed bool, err error)
}

// PointSource reads the aggregated points of one sensor.
type PointSource interface {
	// Points returns the window averages of width width whose window end lies
	// in (w.Start, w.End], ordered by end.
	Points(ctx context.Context, key sensor.Key, w sensor.Window, width time.Duration) ([]sensor.Point, error)
}

// PredictionSink writes predictions blobs.
type PredictionSink interface {
	// PutWithMetadata writes the blob, replacing it, with the given metadata.
	PutWithMetadata(ctx context.Context, container, name string, data []byte, contentType string, metadata map[string]string) error
}

// MetadataModelETag names the predictions blob metadata that holds the ETag of
// the model blob version that scored it (as the outcome's ModelETag).
const MetadataModelETag = "model_etag"

// OutcomeStore records the attempts and outcomes of (run, sensor).
type OutcomeStore interface {
	// StartAttempt marks (run, key) running and counts one more attempt.
	// It returns the attempt number (1 for the first).
	StartAttempt(ctx context.Context, run string, key sensor.Key) (int, error)
	// FinishOutcome records the end of the current attempt.
	FinishOutcome(ctx context.Context, o sensor.Outcome) error
	// Outcome returns the recorded outcome of (run, key); ok is false when
	// there is none.
	Outcome(ctx context.Context, run string, key sensor.Key) (o sensor.Outcome, ok bool, err error)
}

// Config is the function's configuration.
type Config struct {
	ModelsContainer      string        // MODELS_CONTAINER, default "models"
	PredictionsContainer string        // PREDICTIONS_CONTAINER, default "preds"
	Width                time.Duration // AGGREGATE_WINDOW, default 5s
	MaxDequeueCount      int           // MAX_DEQUEUE_COUNT, default 5
	CacheBytes           int64         // MODEL_CACHE_BYTES, default 256 MiB
	// MaxModelBytes bounds the model blob download; 0 means svm.MaxModelBytes
	// (512 MiB, the limit of the model parsers). A larger blob is a permanent error.
	MaxModelBytes int64

	// Load turns model bytes into a model; nil means svm.Load.
	Load LoadFunc
	// Logger receives the lines, logged with the invocation's context (see
	// azfunc.ContextLogger); nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.ModelsContainer == "" {
		c.ModelsContainer = "models"
	}
	if c.PredictionsContainer == "" {
		c.PredictionsContainer = "preds"
	}
	if c.Width <= 0 {
		c.Width = 5 * time.Second
	}
	if c.MaxDequeueCount <= 0 {
		c.MaxDequeueCount = 5
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = 256 << 20
	}
	if c.MaxModelBytes <= 0 {
		c.MaxModelBytes = svm.MaxModelBytes
	}
	if c.Load == nil {
		c.Load = svm.Load
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Function scores queue messages. It is safe for concurrent use; its model
// cache is shared by all invocations.
type Function struct {
	cfg      Config
	cache    *Cache
	points   PointSource
	preds    PredictionSink
	outcomes OutcomeStore
}

// New returns the function. Zero Config fields take the defaults listed there.
func New(cfg Config, models ModelStore, points PointSource, preds PredictionSink, outcomes OutcomeStore) *Function {
	cfg = cfg.withDefaults()
	fetch := func(ctx context.Context, name, etag string) ([]byte, string, bool, error) {
		return models.GetIfChanged(ctx, cfg.ModelsContainer, name, etag, cfg.MaxModelBytes)
	}
	return &Function{
		cfg:      cfg,
		cache:    NewCache(cfg.CacheBytes, fetch, cfg.Load),
		points:   points,
		preds:    preds,
		outcomes: outcomes,
	}
}

// Cache returns the function's model cache (for its statistics).
func (f *Function) Cache() *Cache { return f.cache }

// Result summarises one invocation, for the logs.
type Result struct {
	Run       string `json:"run"`
	Sensors   int    `json:"sensors"`
	Done      int    `json:"done"`
	Empty     int    `json:"empty"`
	Failed    int    `json:"failed"`
	Skipped   int    `json:"skipped"` // already done or empty when a redelivery came
	Rows      int    `json:"rows"`
	Anomalies int    `json:"anomalies"`
	Wake      bool   `json:"wake,omitempty"` // the message was a wake-up message: nothing scored
}

// RecordTimeout bounds the writing of outcomes once scoring has stopped, and
// is the time Run keeps before the invocation's deadline for it (see
// scoringContext).
const RecordTimeout = 10 * time.Second

// errScoringDeadline is the cause of the scoring context's end when Run stops
// scoring before the invocation's deadline.
var errScoringDeadline = errors.New("invocation deadline: scoring stopped to leave time to record the outcomes")

// scoringContext returns the context sensors are scored with: ctx, ending
// min(RecordTimeout, a tenth of the time left) before ctx's deadline, so that
// outcomes are recorded before the host gives up on the invocation.
func scoringContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	reserve := min(RecordTimeout, time.Until(d)/10)
	return context.WithDeadlineCause(ctx, d.Add(-reserve), errScoringDeadline)
}

// recorder hands out the contexts outcomes are written with: detached from
// the invocation's cancellation (a timed-out or cancelled invocation must
// still leave a final outcome), each bounded by RecordTimeout while scoring
// goes on, and all sharing one RecordTimeout once scoring has stopped.
type recorder struct {
	inv, scoring context.Context
	mu           sync.Mutex // the sensors of a job record concurrently
	after        context.Context
	cancelAfter  context.CancelFunc
}

func (r *recorder) ctx() (context.Context, context.CancelFunc) {
	if r.scoring.Err() == nil {
		return context.WithTimeout(context.WithoutCancel(r.inv), RecordTimeout)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.after == nil {
		r.after, r.cancelAfter = context.WithTimeout(context.WithoutCancel(r.inv), RecordTimeout)
	}
	return r.after, func() {}
}

func (r *recorder) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancelAfter != nil {
		r.cancelAfter()
	}
}

// Run scores every sensor of the job in msg. See the package documentation
// for the failure policy.
func (f *Function) Run(ctx context.Context, msg azfunc.QueueMessage) (Result, error) {
	job, err := DecodeJob(msg.Body)
	if err != nil {
		return Result{}, azfunc.Permanent(fmt.Errorf("message %s: %w", msg.ID, err))
	}
	if job.Wake {
		// Fan-out's wake-up message only made the queue listener poll: no work.
		return Result{Run: job.Run, Wake: true}, nil
	}
	res := Result{Run: job.Run, Sensors: len(job.Sensors)}
	final := msg.DequeueCount >= int64(f.cfg.MaxDequeueCount)
	sctx, stop := scoringContext(ctx)
	defer stop()
	rec := &recorder{inv: ctx, scoring: sctx}
	defer rec.close()
	// The sensors of a chunked job are scored concurrently, at most
	// SensorParallelism at once; their results are summed in job order.
	outs := make([]sensorRun, len(job.Sensors))
	var wg sync.WaitGroup
	sem := make(chan struct{}, SensorParallelism)
	for i, e := range job.Sensors {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer func() {
				// As azfunc.Handle does for the invocation: a panic fails this
				// sensor (retried) instead of ending the process.
				if p := recover(); p != nil {
					outs[i] = sensorRun{err: fmt.Errorf("panic: %v", p)}
				}
			}()
			outs[i] = f.runSensor(ctx, sctx, rec, job, e, msg.DequeueCount, final)
		}()
	}
	wg.Wait()
	var errs []error
	permanent := true
	for i, r := range outs {
		switch {
		case r.skipped:
			res.Skipped++
		case r.err != nil:
			if !r.permanent {
				permanent = false
			}
			res.Failed++
			errs = append(errs, fmt.Errorf("sensor %s: %w", job.Sensors[i].Key, r.err))
		default:
			switch r.o.Status {
			case sensor.StatusDone:
				res.Done++
			case sensor.StatusEmpty:
				res.Empty++
			}
			res.Rows += r.o.Rows
			res.Anomalies += r.o.Anomalies
		}
	}
	if len(errs) > 0 {
		err := fmt.Errorf("run %s: %d of %d sensors failed: %w", job.Run, len(errs), len(job.Sensors), errors.Join(errs...))
		if permanent {
			err = azfunc.Permanent(err)
		}
		return res, err
	}
	return res, nil
}

// SensorParallelism bounds the sensors of one job scored at once. Each is
// mostly waiting on Blob and SQL round trips (docs/speed.md), so a chunk of
// FANOUT_CHUNK_SIZE sensors takes about ceil(chunk / SensorParallelism) of
// one sensor's time rather than chunk times it.
const SensorParallelism = 8

// sensorRun is what runSensor did with one sensor of a job.
type sensorRun struct {
	skipped   bool           // finished by an earlier delivery
	o         sensor.Outcome // when scored
	err       error          // the failure (its outcome recorded, or the recording error joined)
	permanent bool           // err is permanent and its outcome was recorded
}

// runSensor scores one sensor of a job and logs it: skipped when a redelivery
// finds it finished, else scored with its outcome recorded, failed (status
// failed, or poisoned on the final delivery) on error.
func (f *Function) runSensor(ctx, sctx context.Context, rec *recorder, job sensor.Job, e sensor.JobEntry, dequeueCount int64, final bool) sensorRun {
	log := f.cfg.Logger.With("run", job.Run, "device", e.Device, "sensor", e.Sensor)
	if dequeueCount > 1 {
		if status, finished := f.finished(sctx, job.Run, e.Key, log); finished {
			log.InfoContext(ctx, "skipped sensor: finished by an earlier delivery", "status", status, "dequeue_count", dequeueCount)
			return sensorRun{skipped: true}
		}
	}
	o, st, err := f.scoreOne(sctx, rec, job, e)
	if err != nil {
		status := sensor.StatusFailed
		if final {
			status = sensor.StatusPoisoned
		}
		o.Status, o.Error = status, err.Error()
		permanent := isPermanent(err)
		rctx, cancel := rec.ctx()
		ferr := f.outcomes.FinishOutcome(rctx, o)
		cancel()
		if ferr != nil {
			// Not permanent: retrying may record the outcome.
			err = errors.Join(err, fmt.Errorf("record outcome: %w", ferr))
			permanent = false
		}
		log.ErrorContext(ctx, "score sensor", "status", status, "dequeue_count", dequeueCount, "err", err)
		f.observe(ctx, log, o, st)
		return sensorRun{o: o, err: err, permanent: permanent}
	}
	log.InfoContext(ctx, "scored sensor", "status", o.Status, "rows", o.Rows, "anomalies", o.Anomalies,
		"duration_ms", o.Duration.Milliseconds(), "blob", o.Blob, "stages_us", st)
	f.observe(ctx, log, o, st)
	return sensorRun{o: o}
}

// finished reports whether an earlier delivery of the message already
// finished key in run (outcome done or empty). Its predictions blob is then in
// place and is not written again, nor its attempt counted. When the outcome
// cannot be read the sensor is scored again, which rewrites the same bytes.
func (f *Function) finished(ctx context.Context, run string, key sensor.Key, log *slog.Logger) (string, bool) {
	o, ok, err := f.outcomes.Outcome(ctx, run, key)
	if err != nil {
		log.WarnContext(ctx, "read outcome before a redelivered sensor; scoring it again", "err", err)
		return "", false
	}
	return o.Status, ok && (o.Status == sensor.StatusDone || o.Status == sensor.StatusEmpty)
}

// DecodeJob parses and validates a score-jobs message body: a job, or a
// wake-up message (Job.Wake, a run id and no sensors).
func DecodeJob(body []byte) (sensor.Job, error) {
	var job sensor.Job
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&job); err != nil {
		return sensor.Job{}, fmt.Errorf("decode job: %w", err)
	}
	if dec.More() {
		return sensor.Job{}, errors.New("decode job: trailing data after the JSON object")
	}
	if job.Run == "" {
		return sensor.Job{}, errors.New("job has no run id")
	}
	if job.Wake {
		// A wake-up message (sensor.WakeMessage) names its run and carries no work.
		if len(job.Sensors) > 0 {
			return sensor.Job{}, fmt.Errorf("job is a wake-up message and lists %d sensors", len(job.Sensors))
		}
		return job, nil
	}
	if err := job.Window.Validate(); err != nil {
		return sensor.Job{}, fmt.Errorf("job window: %w", err)
	}
	if len(job.Sensors) == 0 {
		return sensor.Job{}, errors.New("job has no sensors")
	}
	seen := make(map[sensor.Key]bool, len(job.Sensors))
	for i, e := range job.Sensors {
		if err := e.Key.Validate(); err != nil {
			return sensor.Job{}, fmt.Errorf("job sensor %d: %w", i, err)
		}
		if seen[e.Key] {
			return sensor.Job{}, fmt.Errorf("job sensor %d: %s listed twice", i, e.Key)
		}
		seen[e.Key] = true
		if e.Model == "" {
			return sensor.Job{}, fmt.Errorf("job sensor %d: no model blob", i)
		}
	}
	return job, nil
}

// BlobName returns the predictions blob of a sensor in a run:
// {run}/preds_{device}_{sensor}.csv.
func BlobName(run string, key sensor.Key) string {
	return run + "/preds_" + key.Device + "_" + key.Sensor + ".csv"
}

// stages is where one sensor's time went, in microseconds, logged with each
// scored sensor so that App Insights shows whether SQL, Blob or scoring dominates.
type stages struct {
	Attempt int64 `json:"attempt"` // record the attempt (SQL)
	Model   int64 `json:"model"`   // model from the cache: the job's version, else revalidated by ETag (Blob)
	Points  int64 `json:"points"`  // the window's points (SQL)
	Score   int64 `json:"score"`   // scoring and CSV
	Write   int64 `json:"write"`   // predictions blob (Blob)
	Finish  int64 `json:"finish"`  // record the outcome (SQL)

	hit bool          // the model came from the cache, its ETag unchanged
	lag time.Duration // newest point's window end to its prediction written
}

// scoreOne scores one sensor and records its outcome when it succeeds. On
// failure it returns the outcome so far (for the caller to record) and the
// error.
func (f *Function) scoreOne(ctx context.Context, rec *recorder, job sensor.Job, e sensor.JobEntry) (sensor.Outcome, stages, error) {
	start := time.Now()
	var st stages
	mark := start
	lap := func(d *int64) {
		now := time.Now()
		*d = now.Sub(mark).Microseconds()
		mark = now
	}
	o := sensor.Outcome{Run: job.Run, Key: e.Key}
	fail := func(err error) (sensor.Outcome, stages, error) {
		o.Duration = time.Since(start)
		return o, st, err
	}
	// The attempt is counted even when scoring has already stopped: this
	// delivery did reach the sensor.
	rctx, cancel := rec.ctx()
	attempt, err := f.outcomes.StartAttempt(rctx, job.Run, e.Key)
	cancel()
	if err != nil {
		return fail(fmt.Errorf("start attempt: %w", err))
	}
	lap(&st.Attempt)
	o.Attempts = attempt
	if ctx.Err() != nil {
		return fail(fmt.Errorf("not scored: %w", context.Cause(ctx)))
	}
	v, err := f.cache.getVersion(ctx, e.Model, e.ModelETag)
	m, etag := v.model, v.etag
	lap(&st.Model)
	st.hit = v.hit
	o.ModelETag = etag
	switch {
	case err != nil && errors.Is(err, storage.ErrNotFound):
		return fail(azfunc.Permanent(fmt.Errorf("model blob %s/%s not found: %w", f.cfg.ModelsContainer, e.Model, err)))
	case err != nil && errors.Is(err, storage.ErrTooLarge):
		return fail(azfunc.Permanent(fmt.Errorf("model %w", err)))
	case err != nil && isLoadError(err):
		return fail(azfunc.Permanent(err))
	case err != nil:
		return fail(fmt.Errorf("get model %s: %w", e.Model, err))
	}
	if m.NFeatures() != 1 {
		return fail(azfunc.Permanent(fmt.Errorf("model %s takes %d features; a sensor's points give 1", e.Model, m.NFeatures())))
	}
	if err := checkFeatureName(m, e); err != nil {
		return fail(azfunc.Permanent(err))
	}
	pts, err := f.points.Points(ctx, e.Key, job.Window, f.cfg.Width)
	if err != nil {
		return fail(fmt.Errorf("read points: %w", err))
	}
	lap(&st.Points)
	x := make([]float64, len(pts))
	for i, p := range pts {
		x[i] = p.Value
	}
	dec := make([]float64, len(pts))
	m.DecisionBatch(dec, x)
	csv, anomalies := AppendCSV(nil, e.Key, pts, dec)
	lap(&st.Score)

	blob := BlobName(job.Run, e.Key)
	if err := f.preds.PutWithMetadata(ctx, f.cfg.PredictionsContainer, blob, csv, "text/csv", map[string]string{MetadataModelETag: etag}); err != nil {
		return fail(fmt.Errorf("write predictions %s: %w", blob, err))
	}
	lap(&st.Write)
	if len(pts) > 0 {
		st.lag = time.Since(pts[len(pts)-1].End)
	}
	o.Blob, o.Rows, o.Anomalies = blob, len(pts), anomalies
	o.Status = sensor.StatusDone
	if len(pts) == 0 {
		o.Status = sensor.StatusEmpty
	}
	o.Duration = time.Since(start)
	rctx, cancel = rec.ctx()
	err = f.outcomes.FinishOutcome(rctx, o)
	cancel()
	if err != nil {
		return fail(fmt.Errorf("record outcome: %w", err))
	}
	lap(&st.Finish)
	return o, st, nil
}

// CSVHeader is the first line of every predictions blob.
const CSVHeader = "TS,Device,Sensor,Val,Prediction,Decision\n"

// TimeLayout is the format of the TS column (UTC, milliseconds).
const TimeLayout = "2006-01-02 15:04:05.000"

// AppendCSV appends the predictions CSV of one sensor to dst and returns it
// with the number of anomalies. Each row is the window end as TS (TimeLayout,
// UTC), the device and sensor ids, the point's average Val, Prediction 1 for
// an anomaly (svm.IsAnomaly) and 0 otherwise, and the Decision value. Val and
// Decision are the shortest text that parses back to the same float64
// (strconv 'g', -1). Ids need no quoting: sensor.Key.Validate rules out commas
// and quotes.
func AppendCSV(dst []byte, key sensor.Key, pts []sensor.Point, decisions []float64) ([]byte, int) {
	anomalies := 0
	dst = append(dst, CSVHeader...)
	for i, p := range pts {
		dst = p.End.UTC().AppendFormat(dst, TimeLayout)
		dst = append(dst, ',')
		dst = append(dst, key.Device...)
		dst = append(dst, ',')
		dst = append(dst, key.Sensor...)
		dst = append(dst, ',')
		dst = strconv.AppendFloat(dst, p.Value, 'g', -1, 64)
		if svm.IsAnomaly(decisions[i]) {
			dst = append(dst, ",1,"...)
			anomalies++
		} else {
			dst = append(dst, ",0,"...)
		}
		dst = strconv.AppendFloat(dst, decisions[i], 'g', -1, 64)
		dst = append(dst, '\n')
	}
	return dst, anomalies
}

func isPermanent(err error) bool { return azfunc.IsPermanent(err) }
