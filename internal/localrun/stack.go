package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	runstatus "github.com/batchscore/batchscore/functions/run-status"
	"github.com/batchscore/batchscore/internal/appfolder"
	"github.com/batchscore/batchscore/internal/azurite"
	"github.com/batchscore/batchscore/internal/localhost"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/storage"
)

// Names of the functions the stack drives (the folder names of the app).
const (
	FnIngest    = "ingest"
	FnFanout    = "timer-fanout"
	FnScore     = "score-sensor"
	FnBackfill  = "backfill"
	FnRunStatus = "run-status"
)

// Containers and queue, as docs/design.md names them (the defaults of the settings).
const (
	ModelsContainer  = "models"
	RawContainer     = "raw"
	RejectsContainer = "rejects"
	PredsContainer   = "preds"
	ScoreQueue       = "score-jobs"
)

// StackOptions configure StartStack.
type StackOptions struct {
	AppDir     string // the packaged app folder (dist/)
	AzuriteBin string // "" finds it (AZURITE_BIN, node_modules/.bin/azurite)
	// Dir holds the Azurite data, the SQLite file and the logs; "" makes a
	// temporary folder that Close removes.
	Dir string
	// AzuriteInMemory keeps Azurite's data in memory (--inMemoryPersistence)
	// instead of in Dir: faster (no metadata database written on every queue
	// and blob operation), but lost when Azurite restarts.
	AzuriteInMemory bool
	// Settings are added to (and override) the app settings: the Values of the app's
	// local.settings.sample.json, then AzureWebJobsStorage and SQL_URL of the stack.
	Settings map[string]string
	// Queues overrides host.json extensions.queues (tests: a short visibilityTimeout).
	Queues *localhost.QueueOptions
	// FunctionTimeout, when not zero, overrides host.json functionTimeout in the
	// stand-in host (tests: a timeout reached in seconds).
	FunctionTimeout time.Duration
	// SQLPath is the SQLite file; "" puts it in Dir. An existing file is replaced.
	SQLPath string
	// Log receives the host's and the handler's log lines; nil writes them to
	// Dir/run.log.
	Log io.Writer
	// HandlerLog, when set, receives the handler's own lines as JSON Lines
	// instead of Log, which then holds only the host's (see splitLog).
	HandlerLog io.Writer
}

// Stack is a running local pipeline: Azurite, an embedded SQLite database and the
// handler behind the local Functions host.
type Stack struct {
	Host     *localhost.Host
	Azurite  *azurite.Server
	Storage  *storage.Account
	Store    *sqlstore.Store
	Settings map[string]string
	Dir      string
	SQLPath  string
	LogPath  string

	tmp      bool
	logFile  *os.File
	hostOpts localhost.Options
}

// RestartHost stops the host (and its handler) and starts a new one on the same
// Azurite and database, as after downtime: with schedules the timers run on their
// schedule (a timer whose stored status is past due runs once at start), on the
// clock now (nil: time.Now).
func (s *Stack) RestartHost(ctx context.Context, schedules bool, now func() time.Time) error {
	s.Host.Stop()
	o := s.hostOpts
	o.Schedules, o.Now = schedules, now
	h, err := localhost.Start(ctx, o)
	if err != nil {
		return fmt.Errorf("restart local host: %w", err)
	}
	s.Host = h
	return nil
}

// StartStack starts Azurite on free ports, creates the containers and the queue,
// and starts the handler through the local host with a fresh SQLite database.
// On error everything started is stopped again.
func StartStack(ctx context.Context, o StackOptions) (_ *Stack, err error) {
	s := &Stack{Dir: o.Dir}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "batchscore-run-"); err != nil {
			return nil, fmt.Errorf("temp folder: %w", err)
		}
		s.tmp = true
	}
	logw := o.Log
	if logw == nil {
		s.LogPath = filepath.Join(s.Dir, "run.log")
		if s.logFile, err = os.Create(s.LogPath); err != nil {
			return nil, fmt.Errorf("log file: %w", err)
		}
		logw = s.logFile
	}
	logger := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if o.HandlerLog != nil {
		logger = slog.New(newSplitLog(logw, o.HandlerLog))
	}

	azDir := filepath.Join(s.Dir, "azurite")
	if err := os.MkdirAll(azDir, 0o755); err != nil {
		return nil, fmt.Errorf("azurite folder: %w", err)
	}
	bin := o.AzuriteBin
	if bin != "" {
		// Azurite runs in its data folder, so a relative path must be made absolute.
		if bin, err = filepath.Abs(bin); err != nil {
			return nil, fmt.Errorf("azurite path: %w", err)
		}
	}
	azOpts := azurite.Options{Bin: bin, Dir: azDir}
	if o.AzuriteInMemory {
		// Still working in azDir, so that nothing it might write lands elsewhere.
		azOpts = azurite.Options{Bin: bin, WorkDir: azDir}
	}
	if s.Azurite, err = azurite.Start(ctx, azOpts); err != nil {
		return nil, fmt.Errorf("start azurite: %w", err)
	}
	cs := s.Azurite.ConnectionString()
	if s.Storage, err = storage.New(storage.Config{ConnectionString: cs}); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if err := s.Storage.Blobs().EnsureContainers(ctx, ModelsContainer, RawContainer, RejectsContainer, PredsContainer); err != nil {
		return nil, fmt.Errorf("create containers: %w", err)
	}
	if err := s.Storage.Queue(ScoreQueue).Ensure(ctx); err != nil {
		return nil, fmt.Errorf("create queue: %w", err)
	}

	s.Settings, err = sampleSettings(o.AppDir)
	if err != nil {
		return nil, err
	}
	s.SQLPath = o.SQLPath
	if s.SQLPath == "" {
		s.SQLPath = filepath.Join(s.Dir, "batchscore.db")
	}
	// The handler runs in the app folder: the path it gets must be absolute.
	if s.SQLPath, err = filepath.Abs(s.SQLPath); err != nil {
		return nil, fmt.Errorf("sql path: %w", err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(s.SQLPath + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("replace %s: %w", s.SQLPath, err)
		}
	}
	s.Settings["AzureWebJobsStorage"] = cs
	s.Settings["SQL_URL"] = "sqlite:" + s.SQLPath
	s.Settings["FUNCTIONS_WORKER_RUNTIME"] = "custom"
	// The app folder's local.settings.json disables ingest for func start,
	// which has no Event Hubs namespace; the stack feeds the events itself.
	delete(s.Settings, appfolder.IngestDisabled)
	// Recorded data is replayed before the timer fires, so nothing arrives
	// late: on the hour, without lateness allowance, an occurrence at T
	// scores the hour that ends at T (o.Settings may say otherwise).
	s.Settings["FANOUT_SCHEDULE"] = "0 0 * * * *"
	s.Settings["FANOUT_LAG"] = "0s"
	for k, v := range o.Settings {
		s.Settings[k] = v
	}
	// The store is opened (and migrated) before the handler, so the handler and
	// this process never race to create the schema.
	if s.Store, err = sqlstore.Open(ctx, s.Settings["SQL_URL"]); err != nil {
		return nil, fmt.Errorf("open sql store: %w", err)
	}
	s.hostOpts = localhost.Options{
		AppDir:          o.AppDir,
		Settings:        s.Settings,
		Logger:          logger,
		Queues:          o.Queues,
		FunctionTimeout: o.FunctionTimeout,
	}
	if s.Host, err = localhost.Start(ctx, s.hostOpts); err != nil {
		return nil, fmt.Errorf("start local host: %w", err)
	}
	return s, nil
}

// AppSettings returns the Values of the app folder's local.settings.json, or of
// local.settings.sample.json when there is none (empty when neither exists): the
// settings the stack starts from.
func AppSettings(appDir string) (map[string]string, error) { return sampleSettings(appDir) }

func sampleSettings(appDir string) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range []string{"local.settings.json", "local.settings.sample.json"} {
		b, err := os.ReadFile(filepath.Join(appDir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		var ls struct {
			Values map[string]any
		}
		if err := json.Unmarshal(b, &ls); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		for k, v := range ls.Values {
			out[k] = fmt.Sprint(v)
		}
		return out, nil
	}
	return out, nil
}

// Close stops the handler, closes the store and stops Azurite, then removes a
// temporary folder. It returns the first error.
func (s *Stack) Close() error {
	var errs []error
	if s.Host != nil {
		s.Host.Stop()
	}
	if s.Store != nil {
		if err := s.Store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
	}
	if s.Azurite != nil {
		if err := s.Azurite.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop azurite: %w", err))
		}
	}
	if s.logFile != nil {
		s.logFile.Close()
	}
	if s.tmp {
		if err := os.RemoveAll(s.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", s.Dir, err))
		}
	}
	return errors.Join(errs...)
}

// UploadModels uploads model blobs unchanged, by blob name.
func (s *Stack) UploadModels(ctx context.Context, models map[string][]byte) error {
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	sort.Strings(names)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadParallelism)
	for _, n := range names {
		g.Go(func() error {
			if err := s.Storage.Blobs().Put(gctx, ModelsContainer, n, models[n], "application/octet-stream"); err != nil {
				return fmt.Errorf("upload model: %w", err)
			}
			return nil
		})
	}
	return g.Wait()
}

// uploadParallelism is how many model blobs UploadModels writes at once:
// Azurite serves requests on one thread, so more only queue there.
const uploadParallelism = 8

// ReadModels reads every file of a folder whose name is a model blob name
// (model_{device}_{sensor}[.ext]), bytes unchanged.
func ReadModels(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read models: %w", err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if _, ok := sensor.ParseModelName(e.Name()); !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read model: %w", err)
		}
		out[e.Name()] = b
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no model_{device}_{sensor} files in %s", dir)
	}
	return out, nil
}

// EventBodies groups readings into event bodies as a device would send them: one
// event per device and timestamp, a JSON object for one reading and an array for
// several, {"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":10.16}
// (ids as numbers when they are decimal digits). It returns the bodies with their
// timestamps, in the order of first appearance.
func EventBodies(rs []sensor.Reading) ([][]byte, []time.Time) {
	events := deviceEvents(rs)
	bodies := make([][]byte, len(events))
	times := make([]time.Time, len(events))
	// Formatting is most of the work: the events are cut into one span per
	// core, each formatted into one buffer.
	workers := max(min(runtime.GOMAXPROCS(0), len(events)/1000), 1)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(events)/workers, (w+1)*len(events)/workers
		wg.Go(func() {
			var buf, ts []byte
			for i := lo; i < hi; i++ {
				ev := events[i]
				start := len(buf)
				if len(ev) > 1 {
					buf = append(buf, '[')
				}
				// One TS for the event: its readings share the millisecond.
				ts = ev[0].TS.UTC().AppendFormat(ts[:0], TSLayout)
				for j, r := range ev {
					if j > 0 {
						buf = append(buf, ',')
					}
					buf = appendReading(buf, ts, r)
				}
				if len(ev) > 1 {
					buf = append(buf, ']')
				}
				// Bodies share buf: a later append that grows it copies, and the
				// earlier bodies keep pointing at the old array, unchanged.
				bodies[i], times[i] = buf[start:len(buf):len(buf)], ev[0].TS
			}
		})
	}
	wg.Wait()
	return bodies, times
}

// deviceEvents groups readings into the events a device would send: one per
// device and timestamp, in the order of first appearance.
func deviceEvents(rs []sensor.Reading) [][]sensor.Reading {
	type eventKey struct {
		device string
		ts     int64
	}
	idx := map[eventKey]int{}
	var events [][]sensor.Reading
	for _, r := range rs {
		k := eventKey{r.Key.Device, r.TS.UnixMilli()}
		i, ok := idx[k]
		if !ok {
			i = len(events)
			idx[k] = i
			events = append(events, nil)
		}
		events[i] = append(events[i], r)
	}
	return events
}

// appendReading appends r as a JSON object with ts, its TS formatted as
// TSLayout.
func appendReading(b, ts []byte, r sensor.Reading) []byte {
	b = append(b, `{"TS":"`...)
	b = append(b, ts...)
	b = append(b, `","Device":`...)
	b = appendID(b, r.Key.Device)
	b = append(b, `,"Sensor":`...)
	b = appendID(b, r.Key.Sensor)
	b = append(b, `,"Value":`...)
	b = strconv.AppendFloat(b, r.Value, 'g', -1, 64)
	return append(b, '}')
}

func appendID(b []byte, id string) []byte {
	if isDigits(id) && (len(id) == 1 || id[0] != '0') && len(id) < 16 {
		return append(b, id...)
	}
	q, _ := json.Marshal(id)
	return append(b, q...)
}

// StallTimeout is how long Ingest waits without progress while invocations fail.
var StallTimeout = 2 * time.Minute

// Ingest publishes the readings to the ingest function's event hub, one event per
// device and timestamp, round-robin over partitions, with the reading's TS as the
// enqueued time, then waits until every event is checkpointed. progress, if not
// nil, is called with the number of events delivered so far and the total.
func (s *Stack) Ingest(ctx context.Context, rs []sensor.Reading, partitions int, progress func(done, total int)) error {
	bodies, times := EventBodies(rs)
	return s.IngestEvents(ctx, bodies, times, partitions, progress)
}

// IngestEvents is Ingest of the event bodies and enqueued times EventBodies
// made.
func (s *Stack) IngestEvents(ctx context.Context, bodies [][]byte, times []time.Time, partitions int, progress func(done, total int)) error {
	hub, err := s.Host.EventHub(FnIngest)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if partitions < 1 {
		partitions = 1
	}
	before := s.Host.FunctionStats(FnIngest)
	per := make([][][]byte, partitions)
	perT := make([][]time.Time, partitions)
	for i := range bodies {
		p := i % partitions
		per[p] = append(per[p], bodies[i])
		perT[p] = append(perT[p], times[i])
	}
	for p := range partitions {
		if len(per[p]) == 0 {
			continue
		}
		if _, err := hub.Publish(strconv.Itoa(p), per[p], perT[p]); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
	}
	total := len(bodies)
	lastDone, lastProgress := -1, time.Now()
	for {
		polled, changed := time.Now(), s.Host.Changed()
		st := s.Host.FunctionStats(FnIngest)
		done := st.Delivered - before.Delivered
		if progress != nil {
			progress(done, total)
		}
		// The ingest retry policy retries forever, as in Azure; locally a batch that
		// keeps failing with nothing delivered for StallTimeout ends the run.
		if done != lastDone {
			lastDone, lastProgress = done, time.Now()
		} else if failed := st.Failed - before.Failed; failed > 0 && time.Since(lastProgress) > StallTimeout {
			return fmt.Errorf("ingest: stalled: nothing delivered for %s, %d failed invocations (see %s)", StallTimeout, failed, s.logName())
		}
		if st.SkippedBatches > before.SkippedBatches {
			return fmt.Errorf("ingest: %d event batches failed after their retries (see %s)", st.SkippedBatches-before.SkippedBatches, s.logName())
		}
		if done >= total {
			return nil
		}
		if err := s.Host.Err(); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		if err := nextPoll(ctx, polled, changed, 100*time.Millisecond); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
	}
}

// minPoll is the shortest time between two polls of a waiting loop, however
// often the host's counters change.
const minPoll = 20 * time.Millisecond

// nextPoll waits, after a poll at polled, until changed is closed (the host's
// counters changed: taken before the poll, so no change is missed) or interval
// has passed, and in any case until minPoll after polled. It returns ctx's
// error if ctx ends first.
func nextPoll(ctx context.Context, polled time.Time, changed <-chan struct{}, interval time.Duration) error {
	t := time.NewTimer(time.Until(polled.Add(interval)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-changed:
	case <-t.C:
	}
	if d := time.Until(polled.Add(minPoll)); d > 0 {
		t.Reset(d)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func (s *Stack) logName() string {
	if s.LogPath != "" {
		return s.LogPath
	}
	return "the log"
}

// Backfill fans out a scoring run over w through the backfill function (POST
// {"start","end"}) and returns the run id.
func (s *Stack) Backfill(ctx context.Context, w sensor.Window) (string, error) {
	body, err := json.Marshal(map[string]string{
		"start": w.Start.UTC().Format(time.RFC3339Nano),
		"end":   w.End.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return "", fmt.Errorf("backfill: %w", err)
	}
	res, err := s.Host.InvokeHTTP(ctx, FnBackfill, http.MethodPost, body, nil)
	if err != nil {
		return "", fmt.Errorf("backfill: %w", err)
	}
	if res.Status < 200 || res.Status > 299 {
		return "", fmt.Errorf("backfill: status %d: %s", res.Status, strings.TrimSpace(string(res.Body)))
	}
	return w.RunID(), nil
}

// FireTimer fires the timer-fanout function as its schedule would at now and
// returns the run id of the window that ends at now.
func (s *Stack) FireTimer(ctx context.Context, now time.Time) error {
	if _, err := s.Host.FireTimer(ctx, FnFanout, now); err != nil {
		return fmt.Errorf("fire timer: %w", err)
	}
	return nil
}

// WaitRun waits until the run has an outcome for every sensor it enqueued, none
// running, and the host is idle (no message left in score-jobs, none in flight).
// progress, if not nil, gets each summary polled.
func (s *Stack) WaitRun(ctx context.Context, runID string, progress func(sqlstore.Summary)) (sqlstore.Summary, error) {
	for {
		polled, changed := time.Now(), s.Host.Changed()
		sum, err := s.Store.RunSummary(ctx, runID)
		if err != nil {
			return sqlstore.Summary{}, fmt.Errorf("wait for run %s: %w", runID, err)
		}
		if progress != nil {
			progress(sum)
		}
		if sum.Pending == 0 && sum.Running == 0 && sum.Failed == 0 {
			idle, err := s.Host.Idle(ctx)
			if err != nil {
				return sum, fmt.Errorf("wait for run %s: %w", runID, err)
			}
			if idle {
				return sum, nil
			}
		}
		if err := s.Host.Err(); err != nil {
			return sum, fmt.Errorf("wait for run %s: %w", runID, err)
		}
		// Outcomes are recorded before the invocation ends, so a change of the
		// host's counters (an invocation ending, its message deleted) is when a
		// new summary is worth reading.
		if err := nextPoll(ctx, polled, changed, 200*time.Millisecond); err != nil {
			return sum, fmt.Errorf("wait for run %s: %w", runID, err)
		}
	}
}

// RunStatus asks the run-status function, through the host (GET ?run=ID), for a
// run's progress.
func (s *Stack) RunStatus(ctx context.Context, runID string) (runstatus.Status, error) {
	res, err := s.Host.InvokeHTTP(ctx, FnRunStatus, http.MethodGet, nil, url.Values{"run": {runID}})
	if err != nil {
		return runstatus.Status{}, fmt.Errorf("run status: %w", err)
	}
	if res.Status != http.StatusOK {
		return runstatus.Status{}, fmt.Errorf("run status: status %d: %s", res.Status, strings.TrimSpace(string(res.Body)))
	}
	var st runstatus.Status
	if err := json.Unmarshal(res.Body, &st); err != nil {
		return runstatus.Status{}, fmt.Errorf("run status: %w", err)
	}
	return st, nil
}

// PredictionBlobs returns the prediction blobs of a run, name -> bytes,
// downloaded downloadParallelism at a time. handle, if not nil, is called in
// the downloading goroutines (several at once) with each blob, so that copying
// and parsing run on every core while the emulator serves the next downloads;
// an error from it ends the collection.
func (s *Stack) PredictionBlobs(ctx context.Context, runID string, handle func(name string, data []byte) error) (map[string][]byte, error) {
	list, err := s.Storage.Blobs().List(ctx, PredsContainer, runID+"/")
	if err != nil {
		return nil, fmt.Errorf("list predictions: %w", err)
	}
	data := make([][]byte, len(list))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(downloadParallelism)
	for i, b := range list {
		g.Go(func() error {
			d, _, err := s.Storage.Blobs().Get(gctx, PredsContainer, b.Name)
			if err != nil {
				return fmt.Errorf("download predictions: %w", err)
			}
			if handle != nil {
				if err := handle(b.Name, d); err != nil {
					return err
				}
			}
			data[i] = d
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(list))
	for i, b := range list {
		out[b.Name] = data[i]
	}
	return out, nil
}

// downloadParallelism is how many prediction blobs PredictionBlobs downloads
// at once. They are downloaded after the run's last outcome: downloading each
// one as its outcome came in, during scoring, was tried and measured no faster
// end to end (Azurite, one Node thread, is what scoring waits on, so the early
// downloads only moved its work) and slowed the scoring stage by 0.5 s.
const downloadParallelism = 16
