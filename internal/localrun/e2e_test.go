package localrun

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/localhost"
	"github.com/batchscore/batchscore/internal/reference"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/testenv"
)

// The end-to-end tests run the real chain: the handler built from ./handler,
// the app folder laid out as `make package` does, the local host, Azurite and
// SQLite. They need Azurite (make azurite; AZURITE_BIN) and are skipped by -short.

// packagedApp is the app folder laid out as `make package` does (testenv.App).
func packagedApp(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: builds the handler, starts Azurite")
	}
	return testenv.App(t)
}

// runReference runs the pipeline on the reference data from the packaged app
// into a temporary folder, with settings over the app's, within timeout; it
// fails the test if the run fails, and returns the result and what the run
// printed.
func runReference(t *testing.T, timeout time.Duration, settings map[string]string) (*Result, string) {
	t.Helper()
	app := packagedApp(t)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var stdout bytes.Buffer
	res, err := Run(ctx, Config{AppDir: app, OutDir: t.TempDir(), Stdout: &stdout, Settings: settings})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	return res, stdout.String()
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveApp()
	os.Exit(code)
}

func startStack(t *testing.T, o StackOptions) *Stack {
	t.Helper()
	o.AppDir = packagedApp(t)
	var log bytes.Buffer
	var mu sync.Mutex
	o.Log = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return log.Write(p) })
	s, err := StartStack(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close stack: %v", err)
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("host and handler log:\n%s", log.String())
			mu.Unlock()
		}
	})
	return s
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestE2EReferenceParity is `make run` on the reference data: every one of the
// 17,768 predictions must equal the reference's.
func TestE2EReferenceParity(t *testing.T) {
	res, stdout := runReference(t, 2*time.Minute, nil)
	if res.Parity == nil || !res.Parity.OK() || res.Parity.Identical != 17768 {
		t.Fatalf("parity = %+v\n%s", res.Parity, stdout)
	}
	if !strings.Contains(stdout, "17,768 of 17,768 predictions identical to the reference") {
		t.Errorf("output lacks the parity line:\n%s", stdout)
	}
	if len(res.Blobs) != 15 || len(res.Sensors) != 15 {
		t.Errorf("%d prediction blobs and %d sensors, want 15 each", len(res.Blobs), len(res.Sensors))
	}
	if len(res.RawSizes) == 0 || slices.Contains(res.RawSizes, 0) {
		t.Errorf("raw blob sizes %v, want one or more, none empty", res.RawSizes)
	}
	// Scoring 15 sensors takes Azurite and the handler some CPU each, and
	// together no more than the cores had (plus the 10 ms ticks /proc counts in).
	var scoring time.Duration
	for _, st := range res.Stages {
		if st.Name == "scoring" {
			scoring = st.Duration
		}
	}
	if c := res.ScoringCPU; !c.Measured || c.Azurite <= 0 || c.Handler <= 0 || c.Azurite+c.Handler > time.Duration(runtime.NumCPU())*scoring+40*time.Millisecond {
		t.Errorf("CPU while scoring = %+v, in %s on %d CPUs", c, scoring, runtime.NumCPU())
	}
	anomalies := 0
	for _, s := range res.Sensors {
		anomalies += s.Anomalies
	}
	if anomalies != 6757 {
		t.Errorf("%d anomalies, want the reference's 6,757", anomalies)
	}
	html, err := os.ReadFile(res.ReportPath)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if n := bytes.Count(html, []byte("<svg")); n != 30 {
		t.Errorf("report has %d plots, want two per sensor (30)", n)
	}
	// The four single-support-vector models are called out.
	for _, want := range []string{"Model health: 4 of 15 models called out</span> (1/2, 1/5, 2/5, 3/4)", "Parity: 17,768 of 17,768 predictions identical"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "@font-face", "<link", " src=", "url(", `href="http`} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("report contains %q; it must be self-contained", bad)
		}
	}
	if !strings.Contains(stdout, "report: "+res.ReportPath+"\n") {
		t.Errorf("output does not give the report path %s", res.ReportPath)
	}
	// In a real browser: no console error, every link (to a plot, to a
	// predictions CSV in the run folder) resolves; a screenshot beside it.
	t.Run("browser", func(t *testing.T) {
		bin := chromium(t)
		if p := browserProblems(t, bin, res.ReportPath); len(p) > 0 {
			t.Errorf("report in Chromium: %s", strings.Join(p, "; "))
		}
		if n := strings.Count(string(html), `">CSV</a>`); n != 15 {
			t.Errorf("%d predictions CSV links, want 15", n)
		}
		shot := screenshot(t, bin, res.ReportPath)
		if dir := os.Getenv("REPORT_SCREENSHOT_DIR"); dir != "" {
			b, _ := os.ReadFile(shot)
			os.WriteFile(filepath.Join(dir, "report.png"), b, 0o644)
		}
	})
}

// TestE2EPoison: a job for a sensor whose model blob is garbage, and a job body
// that is not a job, end in score-jobs-poison after maxDequeueCount attempts; the
// sensor's failure is recorded as poisoned.
func TestE2EPoison(t *testing.T) {
	hc := appConfig(t)
	q := hc.Queues
	q.VisibilityTimeout = 0
	q.MaxPollingInterval = 200 * time.Millisecond
	s := startStack(t, StackOptions{Queues: &q})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	ref, rs := reference.ForTest(t)
	models, err := ReadModels(ref.Models)
	if err != nil {
		t.Fatal(err)
	}
	good := sensor.Key{Device: "1", Sensor: "1"}
	bad := sensor.Key{Device: "9", Sensor: "9"}
	up := map[string][]byte{good.ModelName(): models[good.ModelName()], bad.ModelName(): []byte("this is not a model")}
	if err := s.UploadModels(ctx, up); err != nil {
		t.Fatal(err)
	}
	var subset []sensor.Reading
	for _, r := range rs {
		if r.Key == good && r.TS.Before(ts("2018-08-28 23:10:00.000")) {
			subset = append(subset, r)
			r.Key = bad
			subset = append(subset, r)
		}
	}
	if err := s.Ingest(ctx, subset, 2, nil); err != nil {
		t.Fatal(err)
	}
	// A message that is not a job at all.
	if err := s.Storage.Queue(ScoreQueue).Enqueue(ctx, []byte(`{"run": 42`)); err != nil {
		t.Fatal(err)
	}
	// The hourly timer's occurrence at 00:00 scores (23:00, 00:00], which holds the subset.
	w := sensor.Window{Start: ts("2018-08-28 23:00:00.000"), End: ts("2018-08-29 00:00:00.000")}
	if err := s.FireTimer(ctx, w.End); err != nil {
		t.Fatal(err)
	}
	run := w.RunID()
	sum, err := s.WaitRun(ctx, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 1 || sum.Poisoned != 1 || sum.Total != 2 {
		t.Errorf("summary = %d done, %d poisoned of %d; want 1, 1 of 2", sum.Done, sum.Poisoned, sum.Total)
	}
	// The run-status function, through the host, tells the same.
	rst, err := s.RunStatus(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if rst.Run != run || rst.Total != 2 || rst.Done != 1 || rst.Poisoned != 1 || !rst.Complete {
		t.Errorf("run-status = %+v, want run %s complete with 1 done and 1 poisoned of 2", rst, run)
	}
	outs, err := s.Store.Outcomes(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range outs {
		if o.Key != bad {
			continue
		}
		found = true
		if o.Status != sensor.StatusPoisoned || o.Attempts != hc.Queues.MaxDequeueCount || o.Error == "" {
			t.Errorf("outcome of %s = status %s, %d attempts, error %q; want poisoned after %d attempts with the error",
				bad, o.Status, o.Attempts, o.Error, hc.Queues.MaxDequeueCount)
		}
	}
	if !found {
		t.Errorf("no outcome recorded for %s", bad)
	}
	// Both bad messages reach the poison queue, where score-poison takes them:
	// the job's sensor is already poisoned (left as it is), the invalid body is
	// set aside in rejects/poison/ unchanged, and the queue drains.
	poisonQueue := localhost.PoisonQueue(ScoreQueue)
	var aside []storage.BlobInfo
	for {
		ps := s.Host.FunctionStats("score-poison")
		aside, err = s.Storage.Blobs().List(ctx, RejectsContainer, "poison/"+poisonQueue+"/")
		if err != nil {
			t.Fatal(err)
		}
		if ps.Deleted == 2 && len(aside) == 1 {
			if ps.Failed != 0 {
				t.Errorf("score-poison failed %d times, want never", ps.Failed)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("score-poison handled %d of 2 messages, %d set aside; want 2 and 1", ps.Deleted, len(aside))
		case <-time.After(100 * time.Millisecond):
		}
	}
	if n, err := s.Storage.Queue(poisonQueue).Count(ctx); err != nil || n != 0 {
		t.Errorf("poison queue holds %d messages (%v), want 0", n, err)
	}
	raw, _, err := s.Storage.Blobs().Get(ctx, RejectsContainer, aside[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	var setAside struct{ Body, Reason string }
	if err := json.Unmarshal(raw, &setAside); err != nil || setAside.Body != `{"run": 42` || !strings.Contains(setAside.Reason, "not a valid score job") {
		t.Errorf("set-aside blob %s = %s (%v), want the invalid body unchanged with its reason", aside[0].Name, raw, err)
	}
	if st := s.Host.FunctionStats(FnScore); st.Poisoned != 2 {
		t.Errorf("%d messages moved to %s, want 2", st.Poisoned, poisonQueue)
	}
	st := s.Host.FunctionStats(FnScore)
	if want := 2 * hc.Queues.MaxDequeueCount; st.Failed != want {
		t.Errorf("%d failed invocations, want %d (maxDequeueCount for each of the 2 bad messages)", st.Failed, want)
	}
}

// TestE2EIdempotence: redelivered event batches change nothing (SQL rows, raw and
// rejects blobs), and a duplicated timer run leaves exactly the same prediction
// blobs, names and bytes.
func TestE2EIdempotence(t *testing.T) {
	s := startStack(t, StackOptions{})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	ref, rs := reference.ForTest(t)
	models, err := ReadModels(ref.Models)
	if err != nil {
		t.Fatal(err)
	}
	keep := map[sensor.Key]bool{{Device: "1", Sensor: "1"}: true, {Device: "2", Sensor: "3"}: true, {Device: "3", Sensor: "4"}: true}
	up := map[string][]byte{}
	for k := range keep {
		up[k.ModelName()] = models[k.ModelName()]
	}
	if err := s.UploadModels(ctx, up); err != nil {
		t.Fatal(err)
	}
	// The pickled models are uploaded unchanged.
	for name, b := range up {
		got, _, err := s.Storage.Blobs().Get(ctx, ModelsContainer, name)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("model blob %s: %d bytes (err %v), want the file's %d bytes unchanged", name, len(got), err, len(b))
		}
	}
	var subset []sensor.Reading
	for _, r := range rs {
		if keep[r.Key] && r.TS.Before(ts("2018-08-29 00:30:00.000")) {
			subset = append(subset, r)
		}
	}
	// One event that ingest rejects, so that the rejects container is exercised too.
	hub, err := s.Host.EventHub(FnIngest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Publish("3", [][]byte{[]byte(`{"TS":"not a time","Device":1,"Sensor":1,"Value":1}`)}, []time.Time{ts("2018-08-28 23:00:05.000")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ingest(ctx, subset, 3, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Host.WaitIdle(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	rows := readingRows(t, s)
	raw := blobSet(t, s, RawContainer, "")
	rejects := blobSet(t, s, RejectsContainer, "")
	if rows != len(subset) || len(raw) == 0 || len(rejects) == 0 {
		t.Fatalf("after ingest: %d reading rows (want %d), %d raw blobs, %d rejects blobs (want some)", rows, len(subset), len(raw), len(rejects))
	}

	t.Run("redelivered batches change nothing", func(t *testing.T) {
		max := s.Host.Config().EventHubs.MaxEventBatchSize
		for _, p := range hub.Partitions() {
			// The first batch of each partition, exactly as the feeder delivered it.
			if err := hub.Redeliver(ctx, hub.Events(p, 0, int64(max))); err != nil {
				t.Fatal(err)
			}
		}
		if got := readingRows(t, s); got != rows {
			t.Errorf("%d reading rows after redelivery, want %d", got, rows)
		}
		if diff := cmp.Diff(raw, blobSet(t, s, RawContainer, "")); diff != "" {
			t.Errorf("raw blobs changed (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(rejects, blobSet(t, s, RejectsContainer, "")); diff != "" {
			t.Errorf("rejects blobs changed (-before +after):\n%s", diff)
		}
	})

	t.Run("duplicated timer run leaves the same blobs", func(t *testing.T) {
		// FANOUT_SCHEDULE is hourly: the occurrence at 00:00 scores (23:00, 00:00].
		now := ts("2018-08-29 00:00:00.000")
		w := sensor.Window{Start: ts("2018-08-28 23:00:00.000"), End: now}
		fire := func() map[string]string {
			before := s.Host.FunctionStats(FnScore).Invocations
			if err := s.FireTimer(ctx, now); err != nil {
				t.Fatal(err)
			}
			sum, err := s.WaitRun(ctx, w.RunID(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Done != 3 {
				t.Fatalf("run %s: %d of %d sensors done, want 3", w.RunID(), sum.Done, sum.Total)
			}
			// The duplicate must really have scored again (not found the run complete).
			if s.Host.FunctionStats(FnScore).Invocations == before {
				t.Fatalf("run %s: the timer fired but score-sensor was not invoked", w.RunID())
			}
			return blobSet(t, s, PredsContainer, "")
		}
		first := fire()
		if len(first) != 3 {
			t.Fatalf("%d prediction blobs after the first run, want 3: %v", len(first), first)
		}
		second := fire()
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("prediction blobs differ after the duplicated run (-first +second):\n%s", diff)
		}
	})
}

// readingRows counts the rows of the readings table.
func readingRows(t *testing.T, s *Stack) int {
	t.Helper()
	db := readDB(t, s)
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM readings").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// readDB opens the stack's SQLite file read-only; closed when the test ends.
func readDB(t *testing.T, s *Stack) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+s.SQLPath+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// appConfig is the packaged app's host.json as the stand-in host loads it.
func appConfig(t *testing.T) localhost.HostConfig {
	t.Helper()
	app := packagedApp(t)
	settings, err := AppSettings(app)
	if err != nil {
		t.Fatal(err)
	}
	hc, _, err := localhost.LoadApp(app, settings)
	if err != nil {
		t.Fatal(err)
	}
	return hc
}

// blobSet returns name -> base64 of the bytes of every blob under prefix.
func blobSet(t *testing.T, s *Stack, container, prefix string) map[string]string {
	t.Helper()
	list, err := s.Storage.Blobs().List(t.Context(), container, prefix)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, b := range list {
		data, _, err := s.Storage.Blobs().Get(t.Context(), container, b.Name)
		if err != nil {
			t.Fatal(err)
		}
		out[b.Name] = base64.StdEncoding.EncodeToString(data)
	}
	return out
}

// TestHelperInterruptedRun is not a test: TestE2EInterruptStopsEverything runs the
// test binary with LOCALRUN_HELPER_APP set to get a `batchscore run` process that
// Ctrl-C (SIGINT) interrupts, as main does with signal.NotifyContext.
func TestHelperInterruptedRun(t *testing.T) {
	app := os.Getenv("LOCALRUN_HELPER_APP")
	if app == "" {
		t.Skip("helper process for TestE2EInterruptStopsEverything")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	_, err := Run(ctx, Config{AppDir: app, OutDir: os.Getenv("LOCALRUN_HELPER_OUT"), Stdout: os.Stdout,
		Synthetic: &Synthetic{Devices: 20, Sensors: 10, Rows: 720, Noise: 0.05, AnomalyRate: 0.01, Seed: 1}})
	// Run must have stopped what it started itself (the processes would also die
	// with this one, by Pdeathsig, so look before exiting).
	fmt.Printf("processes left: %v\n", descendants(os.Getpid()))
	fmt.Printf("run returned: %v\n", err)
	os.Exit(3)
}

// TestE2EInterruptStopsEverything interrupts a run with SIGINT while it ingests
// and checks that Run returns and that the processes it started (Azurite and its
// children, the handler) are gone, and their temporary folder with them.
func TestE2EInterruptStopsEverything(t *testing.T) {
	app := packagedApp(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperInterruptedRun$")
	cmd.Env = append(os.Environ(), "LOCALRUN_HELPER_APP="+app, "LOCALRUN_HELPER_OUT="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "setup: ") {
			break
		}
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "setup: ") {
		t.Fatalf("helper ended before the stack was up:\n%s\n%s", strings.Join(lines, "\n"), stderr.String())
	}
	kids := descendants(cmd.Process.Pid)
	if len(kids) < 2 {
		t.Fatalf("helper %d has %d child processes %v, want Azurite and the handler", cmd.Process.Pid, len(kids), kids)
	}
	// Azurite runs in its data folder, inside the run's temporary folder.
	var tmp []string
	for _, pid := range kids {
		if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil && strings.Contains(cwd, "batchscore-run-") {
			tmp = append(tmp, filepath.Dir(cwd))
		}
	}
	if len(tmp) == 0 {
		t.Fatalf("no child process of the helper runs in a batchscore-run-* folder: %v", kids)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest := make(chan []string, 1)
	go func() {
		var more []string
		for sc.Scan() {
			more = append(more, sc.Text())
		}
		_ = cmd.Wait()
		rest <- more
	}()
	select {
	case more := <-rest:
		lines = append(lines, more...)
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("helper still running 20 s after SIGINT:\n%s", strings.Join(lines, "\n"))
	}
	if !slices.Contains(lines, "processes left: []") {
		t.Errorf("Run returned with processes it started still running:\n%s", strings.Join(lines, "\n"))
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "run returned: ") || !strings.Contains(last, "context canceled") {
		t.Errorf("Run did not return the interruption: %q\n%s", last, strings.Join(lines, "\n"))
	}
	if slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "scoring: ") }) {
		t.Errorf("the run got to scoring before SIGINT; the test does not interrupt ingest:\n%s", strings.Join(lines, "\n"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range kids {
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // reparented to init, waiting to be reaped
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d started by the run is still there after SIGINT (kill 0: %v)", pid, err)
		}
	}
	for _, d := range tmp {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temporary folder %s left behind (stat: %v)", d, err)
		}
	}
}

// descendants returns the pids of every process below pid (from /proc).
func descendants(pid int) []int {
	parent := map[int]int{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so start after the last ')'.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for c, pp := range parent {
			if pp == p {
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(pid)
	return out
}

// TestE2EParityMismatchFailsRun: the whole run on sensor 1/1's first 200 rows
// against expected predictions with one flipped: Run prints the mismatch and the
// parity line and fails with ErrParity (and `batchscore run` exits with status 1).
func TestE2EParityMismatchFailsRun(t *testing.T) {
	app := packagedApp(t)
	ref, _ := reference.ForTest(t)
	dir := t.TempDir()
	k := sensor.Key{Device: "1", Sensor: "1"}
	var data, exp strings.Builder
	data.WriteString("TS,Device,Sensor,Value\n")
	ef, err := os.ReadFile(ref.Expected)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(ef)), "\n")
	exp.WriteString(lines[0] + "\n")
	n, flipped := 0, ""
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if f[1] != k.Device || f[2] != k.Sensor || n == 200 {
			continue
		}
		n++
		data.WriteString(strings.Join(f[:4], ",") + "\n")
		if n == 100 {
			flipped = f[0]
			f[5] = map[string]string{"0": "1", "1": "0"}[f[5]]
		}
		exp.WriteString(strings.Join(f, ",") + "\n")
	}
	models := filepath.Join(dir, "models")
	if err := os.MkdirAll(models, 0o755); err != nil {
		t.Fatal(err)
	}
	mb, err := os.ReadFile(filepath.Join(ref.Models, k.ModelName()))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{filepath.Join(models, k.ModelName()): mb,
		filepath.Join(dir, "data.csv"): []byte(data.String()), filepath.Join(dir, "expected.csv"): []byte(exp.String())} {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	res, err := Run(ctx, Config{AppDir: app, OutDir: filepath.Join(dir, "out"), Stdout: &stdout,
		Data: filepath.Join(dir, "data.csv"), Models: models, Expected: filepath.Join(dir, "expected.csv")})
	if !errors.Is(err, ErrParity) {
		t.Fatalf("run: err = %v, want ErrParity\n%s", err, stdout.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "  mismatch: 1/1 "+flipped+": ") || !strings.Contains(out, "199 of 200 predictions identical to the reference") {
		t.Errorf("output lacks the mismatch at %s or the line \"199 of 200 ...\":\n%s", flipped, out)
	}
	if res == nil || !reference.IsFile(res.ReportPath) {
		t.Errorf("no report written for the failed run")
	}
}
