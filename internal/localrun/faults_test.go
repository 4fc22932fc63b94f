package localrun

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	scoresensor "github.com/batchscore/batchscore/functions/score-sensor"
	"github.com/batchscore/batchscore/internal/reference"
	"github.com/batchscore/batchscore/internal/sensor"
)

// The fault matrix: each row runs the pipeline (handler behind the stand-in host,
// Azurite persisting to disk, SQLite) on the reference data with one fault
// injected and, once it has recovered, compares with a clean run: every sensor of
// a run has exactly one predictions blob, byte-identical to the clean run's, and
// its outcome is final; every reading is stored exactly once. Each row logs a
// FAULTS line with its retries, poisoned messages, handler restarts and time
// (docs/reliability.md is the table of those lines).
//
// By default the rows use the first two hours of the reference data and run once;
// FAULTS_FULL=1 uses all of it and FAULTS_REPEAT=n repeats each row n times
// (make faults-long).

// The windows the rows score: the data's (a backfill, as make run does), the
// hourly timer's occurrence at 00:00, and a backfill that overlaps that one.
var (
	faultTimerAt  = ts("2018-08-29 00:00:00.000")
	faultOverlapW = sensor.Window{Start: ts("2018-08-28 23:30:00.000"), End: ts("2018-08-29 00:30:00.000")}
)

type faultInputs struct {
	readings []sensor.Reading
	models   map[string][]byte
	window   sensor.Window
}

var (
	faultInOnce sync.Once
	faultIn     faultInputs
	faultInErr  error
)

func faultData(t *testing.T) faultInputs {
	t.Helper()
	ref, rs := reference.ForTest(t)
	faultInOnce.Do(func() {
		if os.Getenv("FAULTS_FULL") == "" {
			end := ts("2018-08-29 01:00:00.000")
			var sub []sensor.Reading
			for _, r := range rs {
				if !r.TS.After(end) {
					sub = append(sub, r)
				}
			}
			rs = sub
		}
		faultIn.readings = rs
		faultIn.window = dataWindow(rs)
		faultIn.models, faultInErr = ReadModels(ref.Models)
	})
	if faultInErr != nil {
		t.Fatal(faultInErr)
	}
	return faultIn
}

// faultStack starts a stack persisting Azurite to disk, with host.json's queue
// settings except a 1 s visibilityTimeout (retries come quickly), a 200 ms
// polling interval and a 20 s lease (a message whose release failed comes back
// after 20 s instead of the host's 10 minutes), and uploads the models.
func faultStack(t *testing.T, o StackOptions) *Stack {
	t.Helper()
	q := appConfig(t).Queues
	q.VisibilityTimeout, q.MaxPollingInterval, q.Lease = time.Second, 200*time.Millisecond, 20*time.Second
	o.Queues, o.Dir = &q, t.TempDir()
	s := startStack(t, o)
	if err := s.UploadModels(t.Context(), faultData(t).models); err != nil {
		t.Fatal(err)
	}
	return s
}

// runView is what a run left: its outcomes and its predictions blobs.
type runView struct {
	outcomes map[sensor.Key]sensor.Outcome
	blobs    map[string][]byte     // name -> bytes
	blobTags map[string]string     // name -> model_etag metadata
	perKey   map[sensor.Key]int    // predictions blobs per sensor
	statuses map[string]int        // outcome status -> count
	tags     map[sensor.Key]string // outcome model ETag
}

func collectRun(t *testing.T, s *Stack, run string) runView {
	t.Helper()
	ctx := t.Context()
	v := runView{outcomes: map[sensor.Key]sensor.Outcome{}, blobs: map[string][]byte{}, blobTags: map[string]string{},
		perKey: map[sensor.Key]int{}, statuses: map[string]int{}, tags: map[sensor.Key]string{}}
	outs, err := s.Store.Outcomes(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	byBlob := map[string]sensor.Key{}
	for _, o := range outs {
		v.outcomes[o.Key] = o
		v.statuses[o.Status]++
		v.tags[o.Key] = o.ModelETag
		byBlob[scoresensor.BlobName(run, o.Key)] = o.Key
	}
	list, err := s.Storage.Blobs().List(ctx, PredsContainer, run+"/")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range list {
		data, _, err := s.Storage.Blobs().Get(ctx, PredsContainer, b.Name)
		if err != nil {
			t.Fatal(err)
		}
		md, err := s.Storage.Blobs().Metadata(ctx, PredsContainer, b.Name)
		if err != nil {
			t.Fatal(err)
		}
		v.blobs[b.Name] = data
		v.blobTags[b.Name] = md[scoresensor.MetadataModelETag]
		k, ok := byBlob[b.Name]
		if !ok {
			t.Errorf("run %s: predictions blob %s belongs to no sensor of the run", run, b.Name)
			continue
		}
		v.perKey[k]++
	}
	return v
}

// readingSet is the multiset of stored readings, "device/sensor/ts_ms/value" -> count.
func readingSet(t *testing.T, s *Stack) map[string]int {
	t.Helper()
	rows, err := readDB(t, s).QueryContext(t.Context(), "SELECT device, sensor, ts_ms, value FROM readings")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var d, sn string
		var ms int64
		var val float64
		if err := rows.Scan(&d, &sn, &ms, &val); err != nil {
			t.Fatal(err)
		}
		out[d+"/"+sn+"/"+strconv.FormatInt(ms, 10)+"/"+strconv.FormatFloat(val, 'g', -1, 64)]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// cleanResult is the clean run every row compares with.
type cleanResult struct {
	runs     map[string]runView // by run id: the data window's, the timer's, the overlapping backfill's
	dataRun  string
	timerRun string
	nextRun  string // the timer's next occurrence's (01:00)
	overRun  string
	readings map[string]int
	etags    map[sensor.Key]string // the outcome model ETags (to tell the versions apart in the swap row)
}

var (
	cleanOnce sync.Once
	clean     *cleanResult
)

// cleanRun runs the pipeline once without faults (within the first test that
// needs it) and scores the three windows the rows use.
func cleanRun(t *testing.T) *cleanResult {
	t.Helper()
	cleanOnce.Do(func() {
		in := faultData(t)
		s := faultStack(t, StackOptions{})
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		if err := s.Ingest(ctx, in.readings, 4, nil); err != nil {
			t.Fatal(err)
		}
		c := &cleanResult{runs: map[string]runView{}, readings: readingSet(t, s)}
		var err error
		if c.dataRun, err = s.Backfill(ctx, in.window); err != nil {
			t.Fatal(err)
		}
		waitRuns(t, ctx, s, c.dataRun)
		c.timerRun = fireTimer(t, ctx, s, faultTimerAt)
		waitRuns(t, ctx, s, c.timerRun)
		c.nextRun = fireTimer(t, ctx, s, faultTimerAt.Add(time.Hour))
		waitRuns(t, ctx, s, c.nextRun)
		if c.overRun, err = s.Backfill(ctx, faultOverlapW); err != nil {
			t.Fatal(err)
		}
		waitRuns(t, ctx, s, c.overRun)
		for _, r := range []string{c.dataRun, c.timerRun, c.nextRun, c.overRun} {
			c.runs[r] = collectRun(t, s, r)
		}
		c.etags = c.runs[c.dataRun].tags
		n := 0
		for _, k := range c.readings {
			n += k
		}
		if n != len(in.readings) || len(c.runs[c.dataRun].blobs) == 0 {
			t.Fatalf("clean run: %d readings stored of %d, %d blobs", n, len(in.readings), len(c.runs[c.dataRun].blobs))
		}
		clean = c
	})
	if clean == nil {
		t.Fatal("the clean run failed (see the first test's log)")
	}
	return clean
}

// fireTimer fires the timer at occurrence and returns the run it registered.
func fireTimer(t *testing.T, ctx context.Context, s *Stack, at time.Time) string {
	t.Helper()
	before := runIDs(t, s)
	if err := s.FireTimer(ctx, at); err != nil {
		t.Fatal(err)
	}
	for id := range runIDs(t, s) {
		if !before[id] {
			return id
		}
	}
	// Already registered by an earlier fire of the same occurrence.
	w := sensor.Window{Start: at.Add(-time.Hour), End: at}
	return w.RunID()
}

func runIDs(t *testing.T, s *Stack) map[string]bool {
	t.Helper()
	rows, err := readDB(t, s).QueryContext(t.Context(), "SELECT run_id FROM runs")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id] = true
	}
	return out
}

func waitRuns(t *testing.T, ctx context.Context, s *Stack, runs ...string) {
	t.Helper()
	for _, r := range runs {
		if _, err := s.WaitRun(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// checkRun compares a run with the clean run's: the same sensors, each with one
// final outcome and one predictions blob, byte-identical, whose model_etag
// metadata is the outcome's ModelETag. skip excuses sensors from the byte comparison (the swap
// row checks it itself).
func checkRun(t *testing.T, s *Stack, c *cleanResult, run string, skip map[sensor.Key]bool) runView {
	t.Helper()
	want, ok := c.runs[run]
	if !ok {
		t.Fatalf("run %s is not one of the clean run's", run)
	}
	got := collectRun(t, s, run)
	if diff := cmp.Diff(keys(want.outcomes), keys(got.outcomes)); diff != "" {
		t.Errorf("run %s: sensors with an outcome (-clean +fault):\n%s", run, diff)
	}
	for k, o := range got.outcomes {
		switch o.Status {
		case sensor.StatusDone, sensor.StatusEmpty, sensor.StatusPoisoned:
		default:
			t.Errorf("run %s sensor %s: outcome %s, want a final one", run, k, o.Status)
		}
		if o.Status == sensor.StatusDone && got.perKey[k] != 1 {
			t.Errorf("run %s sensor %s: %d predictions blobs, want 1", run, k, got.perKey[k])
		}
	}
	for name, b := range got.blobs {
		k := keyOfBlob(got, run, name)
		if tag := got.blobTags[name]; tag == "" || tag != got.tags[k] {
			t.Errorf("run %s blob %s: model_etag metadata %q, outcome ModelETag %q; want the same, set", run, name, tag, got.tags[k])
		}
		if skip[k] {
			continue
		}
		if w, ok := want.blobs[name]; !ok || string(w) != string(b) {
			t.Errorf("run %s blob %s: %d bytes differ from the clean run's %d", run, name, len(b), len(w))
		}
	}
	for name := range want.blobs {
		if _, ok := got.blobs[name]; !ok {
			t.Errorf("run %s: predictions blob %s missing", run, name)
		}
	}
	return got
}

func keyOfBlob(v runView, run, name string) sensor.Key {
	for k := range v.outcomes {
		if scoresensor.BlobName(run, k) == name {
			return k
		}
	}
	return sensor.Key{}
}

func keys(m map[sensor.Key]sensor.Outcome) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k.String())
	}
	sort.Strings(out)
	return out
}

// checkReadings: every reading of the input stored exactly once.
func checkReadings(t *testing.T, s *Stack, c *cleanResult) {
	t.Helper()
	got := readingSet(t, s)
	if diff := cmp.Diff(c.readings, got); diff != "" {
		t.Errorf("stored readings differ from the clean run's (-clean +fault, values are counts):\n%s", diff)
	}
}

// figures reports a row: retries (queue messages released after a failure, plus
// invocations repeated by a retry policy), poisoned messages, handler restarts.
func figures(t *testing.T, s *Stack, row string, start time.Time) {
	t.Helper()
	retries, poisoned, timeouts := counts(s)
	w := s.Host.Workers()
	t.Logf("FAULTS | %s | retries %d | poisoned %d | handler restarts %d (crashes %d, timeouts %d) | %s",
		row, retries, poisoned, w.Started-1, w.Crashes, timeouts, time.Since(start).Round(100*time.Millisecond))
}

// counts adds up the host's figures over every function.
func counts(s *Stack) (retries, poisoned, timeouts int) {
	for _, f := range s.Host.Stats() {
		retries += f.Released + f.Retries
		poisoned += f.Poisoned
		timeouts += f.Timeouts
	}
	return retries, poisoned, timeouts
}

// felt fails a row whose fault changed nothing: a run that ended before the
// fault began proves nothing about recovery.
func felt(t *testing.T, s *Stack) {
	t.Helper()
	retries, _, _ := counts(s)
	failed, undeleted := 0, 0
	for _, f := range s.Host.Stats() {
		failed += f.Failed
		undeleted += f.Received - f.Deleted // a message whose completion failed came back
	}
	if retries == 0 && failed == 0 && undeleted == 0 {
		t.Errorf("no invocation failed or was retried and every message was deleted at once: the run finished before the fault, so the row shows nothing")
	}
}

// waitFor polls cond every millisecond (cheap: the host's counters) until it holds.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
		time.Sleep(time.Millisecond)
	}
}

func repeats() int {
	if n, err := strconv.Atoi(os.Getenv("FAULTS_REPEAT")); err == nil && n > 0 {
		return n
	}
	return 1
}

// faultRow runs one row FAULTS_REPEAT times, as subtests run1, run2, ... (names
// that keep the SQLite file's path a plain file: URI).
func faultRow(t *testing.T, row func(t *testing.T, c *cleanResult)) {
	if testing.Short() {
		t.Skip("fault matrix: builds the handler, starts Azurite on disk")
	}
	c := cleanRun(t)
	for i := range repeats() {
		t.Run(fmt.Sprintf("run%d", i+1), func(t *testing.T) { row(t, c) })
	}
}

// beginRow starts a row's stack; ctx bounds the row (3 min).
func beginRow(t *testing.T, o StackOptions) (*Stack, context.Context, time.Time) {
	t.Helper()
	start := time.Now()
	s := faultStack(t, o)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return s, ctx, start
}

// whileScoring waits until a score-sensor invocation is in flight.
func whileScoring(t *testing.T, ctx context.Context, s *Stack) {
	t.Helper()
	waitFor(t, ctx, "a score-sensor invocation in flight", func() bool { return s.Host.FunctionStats(FnScore).InFlight > 0 })
}

// intoFault brings a fault in while a score invocation is in flight: a sensor
// scores in about 20 ms, so the run could end before the fault. It freezes the
// handler (SIGSTOP) with an invocation in flight, calls bring, and lets the
// handler go on into the fault. When bring fails (the frozen handler holds the
// SQLite write lock itself, say), it lets the handler go on and tries again.
func intoFault(t *testing.T, ctx context.Context, s *Stack, bring func() error) {
	t.Helper()
	pid := s.Host.HandlerPID()
	for {
		whileScoring(t, ctx, s)
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		err := bring()
		if cerr := syscall.Kill(pid, syscall.SIGCONT); cerr != nil {
			t.Fatal(cerr)
		}
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("bring the fault in: %v", err)
		}
	}
}

// recovered waits for the runs to end and compares them and the readings with the clean run.
func recovered(t *testing.T, ctx context.Context, s *Stack, c *cleanResult, runs ...string) {
	t.Helper()
	waitRuns(t, ctx, s, runs...)
	for _, r := range runs {
		checkRun(t, s, c, r, nil)
	}
	checkReadings(t, s, c)
}

// ingestAndBackfill ingests the data and starts the data window's run.
func ingestAndBackfill(t *testing.T, ctx context.Context, s *Stack) string {
	t.Helper()
	in := faultData(t)
	if err := s.Ingest(ctx, in.readings, 4, nil); err != nil {
		t.Fatal(err)
	}
	run, err := s.Backfill(ctx, in.window)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func TestFaultHandlerKilledWhileScoring(t *testing.T) {
	faultRow(t, func(t *testing.T, c *cleanResult) {
		s, ctx, start := beginRow(t, StackOptions{})
		run := ingestAndBackfill(t, ctx, s)
		whileScoring(t, ctx, s)
		if err := syscall.Kill(s.Host.HandlerPID(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		recovered(t, ctx, s, c, run)
		if w := s.Host.Workers(); w.Crashes != 1 {
			t.Errorf("workers %+v, want the one crash restarted", w)
		}
		figures(t, s, "handler SIGKILLed while scoring", start)
	})
}

func TestFaultHandlerKilledDuringIngestBatch(t *testing.T) {
	faultRow(t, func(t *testing.T, c *cleanResult) {
		s, ctx, start := beginRow(t, StackOptions{})
		in := faultData(t)
		ingested := make(chan error, 1)
		go func() { ingested <- s.Ingest(ctx, in.readings, 4, nil) }()
		waitFor(t, ctx, "an ingest batch in flight after the first checkpoints", func() bool {
			st := s.Host.FunctionStats(FnIngest)
			return st.InFlight > 0 && st.Batches > 0
		})
		if err := syscall.Kill(s.Host.HandlerPID(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := <-ingested; err != nil {
			t.Fatal(err)
		}
		checkReadings(t, s, c)
		run, err := s.Backfill(ctx, in.window)
		if err != nil {
			t.Fatal(err)
		}
		waitRuns(t, ctx, s, run)
		checkRun(t, s, c, run, nil)
		if st := s.Host.FunctionStats(FnIngest); st.Retries == 0 || st.SkippedBatches != 0 {
			t.Errorf("ingest stats %+v, want the killed batches retried, none skipped", st)
		}
		figures(t, s, "handler SIGKILLed during an ingest batch", start)
	})
}

// The handler stops answering (SIGSTOP, as a process stuck past functionTimeout
// would) while it scores: the host fails the invocations at functionTimeout
// (shortened to 4 s here; the handler still reads host.json's 10 min), kills the
// process TimeoutGrace later and starts a new one; the queue redelivers.
func TestFaultFunctionTimeout(t *testing.T) {
	faultRow(t, func(t *testing.T, c *cleanResult) {
		s, ctx, start := beginRow(t, StackOptions{FunctionTimeout: 4 * time.Second})
		run := ingestAndBackfill(t, ctx, s)
		whileScoring(t, ctx, s)
		if err := syscall.Kill(s.Host.HandlerPID(), syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		recovered(t, ctx, s, c, run)
		w := s.Host.Workers()
		// One restart for the stuck process; a loaded machine may time out a
		// redelivered message on the new one too.
		if st := s.Host.FunctionStats(FnScore); st.Timeouts == 0 || w.TimeoutRestarts < 1 || w.Crashes != 0 {
			t.Errorf("score timeouts %d, workers %+v; want timeouts and a timeout restart, no crash", st.Timeouts, w)
		}
		figures(t, s, "function timeout (handler stuck while scoring)", start)
	})
}

// Azurite (Blob and Queue) is down for 10 s while the run scores, then comes back
// on the same ports with its data (persisted on disk).
func TestFaultStorageOutage(t *testing.T) {
	faultRow(t, func(t *testing.T, c *cleanResult) {
		s, ctx, start := beginRow(t, StackOptions{})
		run := ingestAndBackfill(t, ctx, s)
		restarted := make(chan error, 1)
		blob, err := url.Parse(s.Azurite.BlobURL())
		if err != nil {
			t.Fatal(err)
		}
		intoFault(t, ctx, s, func() error {
			go func() { restarted <- s.Azurite.Restart(ctx, 10*time.Second) }()
			waitFor(t, ctx, "Azurite down", func() bool {
				c, err := net.DialTimeout("tcp", blob.Host, 100*time.Millisecond)
				if err == nil {
					c.Close()
				}
				return err != nil
			})
			return nil
		})
		if err := <-restarted; err != nil {
			t.Fatal(err)
		}
		recovered(t, ctx, s, c, run)
		felt(t, s)
		figures(t, s, "Azurite down 10 s while scoring", start)
	})
}

// The SQL store refuses writes for 12 s (another connection holds SQLite's write
// lock, longer than the store's 10 s busy timeout) while the run scores.
func TestFaultSQLLocked(t *testing.T) {
	faultRow(t, func(t *testing.T, c *cleanResult) {
		s, ctx, start := beginRow(t, StackOptions{})
		run := ingestAndBackfill(t, ctx, s)
		db, err := sql.Open("sqlite", "file:"+s.SQLPath+"?_pragma=busy_timeout(200)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		intoFault(t, ctx, s, func() error {
			_, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE")
			return err
		})
		time.Sleep(12 * time.Second)
		if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
			t.Fatal(err)
		}
		recovered(t, ctx, s, c, run)
		felt(t, s)
		figures(t, s, "SQL store locked 12 s while scoring", start)
	})
}

// A model blob is replaced while the run scores: the sensor is scored with one
// version, and its outcome and its predictions blob's metadata name that version
// (ETag); with the old one its predictions equal the clean run's, with the new
// one they equal a clean run of the new model.
func TestFaultModelReplaced(t *testing.T) {
	faultRow(t, func(t *testing.T, c *cleanResult) {
		in := faultData(t)
		target, donor := lastKey(in.readings), firstKey(in.readings)
		newModel := in.models[donor.ModelName()]
		want := swappedRun(t, target, newModel)

		s, ctx, start := beginRow(t, StackOptions{})
		run := ingestAndBackfill(t, ctx, s)
		whileScoring(t, ctx, s)
		if err := s.UploadModels(ctx, map[string][]byte{target.ModelName(): newModel}); err != nil {
			t.Fatal(err)
		}
		_, newTag, err := s.Storage.Blobs().Get(ctx, ModelsContainer, target.ModelName())
		if err != nil {
			t.Fatal(err)
		}
		waitRuns(t, ctx, s, run)
		got := checkRun(t, s, c, run, map[sensor.Key]bool{target: true})
		name := scoresensor.BlobName(run, target)
		tag := got.tags[target]
		version := "old"
		switch {
		case tag == newTag:
			version = "new"
			if string(got.blobs[name]) != string(want) {
				t.Errorf("%s scored with the new model (ETag %s): predictions differ from a clean run of the new model", target, tag)
			}
		case tag != "" && string(got.blobs[name]) == string(c.runs[c.dataRun].blobs[name]):
		default:
			t.Errorf("%s: model ETag %q (new %q); predictions equal neither version's clean run", target, tag, newTag)
		}
		t.Logf("%s was scored with the %s model version", target, version)
		figures(t, s, "model blob replaced during the run ("+version+" version used)", start)
	})
}

// swappedRun is a clean run of the data window for one sensor with model bytes
// model; it returns that sensor's predictions blob.
func swappedRun(t *testing.T, key sensor.Key, model []byte) []byte {
	t.Helper()
	in := faultData(t)
	s := faultStack(t, StackOptions{})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := s.UploadModels(ctx, map[string][]byte{key.ModelName(): model}); err != nil {
		t.Fatal(err)
	}
	var rs []sensor.Reading
	for _, r := range in.readings {
		if r.Key == key {
			rs = append(rs, r)
		}
	}
	if err := s.Ingest(ctx, rs, 1, nil); err != nil {
		t.Fatal(err)
	}
	run, err := s.Backfill(ctx, in.window)
	if err != nil {
		t.Fatal(err)
	}
	waitRuns(t, ctx, s, run)
	b, _, err := s.Storage.Blobs().Get(ctx, PredsContainer, scoresensor.BlobName(run, key))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstKey(rs []sensor.Reading) sensor.Key { return sortedKeys(rs)[0] }
func lastKey(rs []sensor.Reading) sensor.Key {
	ks := sortedKeys(rs)
	return ks[len(ks)-1]
}

func sortedKeys(rs []sensor.Reading) []sensor.Key {
	seen := map[sensor.Key]bool{}
	var ks []sensor.Key
	for _, r := range rs {
		if !seen[r.Key] {
			seen[r.Key] = true
			ks = append(ks, r.Key)
		}
	}
	sort.Slice(ks, func(i, j int) bool { return lessKey(ks[i], ks[j]) })
	return ks
}

// The timer fires twice for the same occurrence, the second time while the first
// run still scores (the host can run a timer twice when its lease is lost).
func TestFaultTimerFiredTwice(t *testing.T) {
	faultRow(t, func(t *testing.T, c *cleanResult) {
		s, ctx, start := beginRow(t, StackOptions{})
		if err := s.Ingest(ctx, faultData(t).readings, 4, nil); err != nil {
			t.Fatal(err)
		}
		run := fireTimer(t, ctx, s, faultTimerAt)
		if again := fireTimer(t, ctx, s, faultTimerAt); again != run {
			t.Fatalf("second fire registered run %s, the first %s", again, run)
		}
		recovered(t, ctx, s, c, run)
		if n := s.Host.FunctionStats(FnFanout).Succeeded; n != 2 {
			t.Errorf("timer-fanout succeeded %d times, want 2", n)
		}
		t.Logf("score-sensor received %d messages for the %d sensors of the run", s.Host.FunctionStats(FnScore).Received, len(c.runs[run].outcomes))
		figures(t, s, "timer fired twice", start)
	})
}

// A backfill over (23:30, 00:30] runs at the same time as the scheduled run of
// (23:00, 00:00]: two runs scoring the same sensors at once.
func TestFaultBackfillOverlapsTimer(t *testing.T) {
	faultRow(t, func(t *testing.T, c *cleanResult) {
		s, ctx, start := beginRow(t, StackOptions{})
		if err := s.Ingest(ctx, faultData(t).readings, 4, nil); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var backfillErr error
		wg.Add(1)
		go func() { defer wg.Done(); _, backfillErr = s.Backfill(ctx, faultOverlapW) }()
		run := fireTimer(t, ctx, s, faultTimerAt)
		wg.Wait()
		if backfillErr != nil {
			t.Fatal(backfillErr)
		}
		waitRuns(t, ctx, s, run, c.overRun)
		checkRun(t, s, c, run, nil)
		checkRun(t, s, c, c.overRun, nil)
		checkReadings(t, s, c)
		figures(t, s, "backfill overlapping a scheduled run", start)
	})
}

// While the feed delivers, every partition's events are delivered a second time,
// cut into batches at other places (37 events, then up to 100), as after a lease
// loss before a checkpoint: each reading is still stored once.
func TestFaultEventsRedeliveredRecut(t *testing.T) {
	faultRow(t, func(t *testing.T, c *cleanResult) {
		s, ctx, start := beginRow(t, StackOptions{})
		in := faultData(t)
		ingested := make(chan error, 1)
		go func() { ingested <- s.Ingest(ctx, in.readings, 4, nil) }()
		hub, err := s.Host.EventHub(FnIngest)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, "events published", func() bool { return len(hub.Partitions()) == 4 })
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for _, p := range hub.Partitions() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				evs := hub.Events(p, 0, -1)
				for from, size := 0, 37; from < len(evs); from, size = from+size, 100 {
					if err := hub.Redeliver(ctx, evs[from:min(from+size, len(evs))]); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if err := <-ingested; err != nil {
			t.Fatal(err)
		}
		checkReadings(t, s, c)
		if st := s.Host.FunctionStats(FnIngest); st.Invocations <= st.Batches {
			t.Errorf("ingest: %d invocations for %d checkpointed batches, want the redeliveries on top", st.Invocations, st.Batches)
		}
		run, err := s.Backfill(ctx, in.window)
		if err != nil {
			t.Fatal(err)
		}
		waitRuns(t, ctx, s, run)
		checkRun(t, s, c, run, nil)
		figures(t, s, "event batches delivered twice, re-cut", start)
	})
}

// The host is down from just after the timer's 00:00 run until 02:20: at start
// the stand-in finds the stored status past due and fires the timer once
// (IsPastDue, ScheduleStatus.Last 00:00, Next 01:00), and that one invocation
// fans out both missed windows, 01:00 and 02:00. The 01:00 run equals a clean
// run of that occurrence; the 02:00 window has no data (every sensor empty, its
// predictions blob without rows).
func TestFaultHostDownAcrossTimerOccurrences(t *testing.T) {
	faultRow(t, func(t *testing.T, c *cleanResult) {
		s, ctx, start := beginRow(t, StackOptions{})
		if err := s.Ingest(ctx, faultData(t).readings, 4, nil); err != nil {
			t.Fatal(err)
		}
		first := fireTimer(t, ctx, s, faultTimerAt)
		waitRuns(t, ctx, s, first)
		downUntil := faultTimerAt.Add(2*time.Hour + 20*time.Minute)
		offset := time.Until(downUntil)
		if err := s.RestartHost(ctx, true, func() time.Time { return time.Now().Add(offset) }); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, "the past-due timer run", func() bool { return s.Host.FunctionStats(FnFanout).Succeeded > 0 })
		missed := sensor.Window{Start: faultTimerAt.Add(time.Hour), End: faultTimerAt.Add(2 * time.Hour)}.RunID()
		waitFor(t, ctx, "the missed runs registered", func() bool { ids := runIDs(t, s); return ids[c.nextRun] && ids[missed] })
		recovered(t, ctx, s, c, c.nextRun)
		waitRuns(t, ctx, s, missed)
		v := collectRun(t, s, missed)
		if v.statuses[sensor.StatusEmpty] != len(c.runs[c.nextRun].outcomes) || len(v.blobs) != len(v.outcomes) {
			t.Errorf("run %s (no data): statuses %v, %d blobs; want every sensor empty, with its (empty) predictions blob", missed, v.statuses, len(v.blobs))
		}
		if n := s.Host.FunctionStats(FnFanout).Invocations; n != 1 {
			t.Errorf("timer-fanout invoked %d times after the downtime, want the one past-due run", n)
		}
		st, err := s.Host.TimerStatus(ctx, FnFanout)
		if err != nil {
			t.Fatal(err)
		}
		if st == nil || st.Last.Before(downUntil) || !st.Next.Equal(downUntil.Truncate(time.Hour).Add(time.Hour)) {
			t.Errorf("timer status after the catch-up %+v, want Last at the restart (%s) and Next the hour after", st, downUntil)
		}
		figures(t, s, "host down across two timer occurrences", start)
	})
}
