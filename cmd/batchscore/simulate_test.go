package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/functions/ingest"
	"github.com/batchscore/batchscore/internal/localrun"
	"github.com/batchscore/batchscore/internal/reference"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/simulate"
	"github.com/batchscore/batchscore/internal/testenv"
)

func TestSimulateArguments(t *testing.T) {
	for _, k := range []string{"EVENTHUB_NAMESPACE", "EVENTHUB_NAME", "EVENTHUB_CONNECTION_STRING"} {
		t.Setenv(k, "")
	}
	csv := filepath.Join(t.TempDir(), "r.csv")
	for _, test := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{args: nil, usage: true, want: "nothing to do"},
		{args: []string{"-namespace", "ns"}, usage: true, want: "-namespace needs -hub"},
		{args: []string{"-csv", csv}, usage: true, want: "-csv without a hub needs a -duration"},
		{args: []string{"-csv", csv, "-duration", "7s"}, usage: true, want: "want a positive multiple of -interval 5s"},
		{args: []string{"-csv", csv, "-duration", "1m", "-interval", "0s"}, usage: true, want: "-interval 0s"},
		{args: []string{"-csv", csv, "-duration", "1m", "-fleet", "3by5"}, usage: true, want: `fleet "3by5"`},
		{args: []string{"-csv", csv, "-duration", "1m", "-spikes", "2"}, usage: true, want: "spike share 2"},
		{args: []string{"-csv", csv, "-duration", "1m", "-start", "yesterday"}, usage: true, want: "want RFC 3339"},
		{args: []string{"-csv", csv, "-duration", "1m", "-ranges", "missing.csv"}, want: "missing.csv"},
		{args: []string{"-csv", filepath.Join(t.TempDir(), "no", "dir.csv"), "-duration", "1m"}, want: "no such file or directory"},
		{args: []string{"extra"}, usage: true, want: "unexpected argument"},
	} {
		var stdout bytes.Buffer
		err := run(t.Context(), append([]string{"simulate"}, test.args...), &stdout, io.Discard)
		if err == nil || !strings.Contains(err.Error(), test.want) || errors.As(err, new(usageError)) != test.usage {
			t.Errorf("simulate %q: err = %v (usage error: %v); want one containing %q, usage error %v",
				test.args, err, errors.As(err, new(usageError)), test.want, test.usage)
		}
	}
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"simulate", "-h"}, &stdout, io.Discard); err != nil || !strings.Contains(stdout.String(), "-connection-string") {
		t.Errorf("simulate -h: %v\n%s", err, stdout.String())
	}
}

// simulateCSV runs `batchscore simulate` into a CSV and returns its path.
func simulateCSV(t *testing.T, args ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "simulated.csv")
	var stdout bytes.Buffer
	if err := run(t.Context(), append([]string{"simulate", "-csv", p}, args...), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "csv: "+p) {
		t.Errorf("simulate printed %q", stdout.String())
	}
	return p
}

// TestSimulateCSV: the CSV is the reference's format, the same seed gives the
// same file, and the events the simulator would send carry exactly those
// readings in bodies the ingest function accepts.
func TestSimulateCSV(t *testing.T) {
	args := []string{"-fleet", "4x3", "-duration", "2m", "-spikes", "0.1", "-seed", "9", "-start", "2026-11-30T09:00:05Z"}
	a, b := simulateCSV(t, args...), simulateCSV(t, args...)
	ab, bb := readFile(t, a), readFile(t, b)
	if !bytes.Equal(ab, bb) {
		t.Error("two runs with the same seed wrote different CSVs")
	}
	if c := readFile(t, simulateCSV(t, append(args, "-seed", "10")...)); bytes.Equal(ab, c) {
		t.Error("another seed wrote the same CSV")
	}
	if head := "TS,Device,Sensor,Value\n2026-11-30 09:00:05.000,1,1,"; !bytes.HasPrefix(ab, []byte(head)) {
		t.Errorf("CSV starts %q, want %q", ab[:min(len(ab), 60)], head)
	}
	rs, err := reference.ReadReadings(bytes.NewReader(ab))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4*3*24 {
		t.Fatalf("%d readings, want 4 devices x 3 sensors x 24 ticks", len(rs))
	}
	for i := 0; i < len(rs); i += 3 {
		body, err := simulate.EventBody(rs[i : i+3])
		if err != nil {
			t.Fatal(err)
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(body, &elems); err != nil {
			t.Fatal(err)
		}
		for j, e := range elems {
			got, err := ingest.ParseReading(e)
			if err != nil {
				t.Fatalf("ingest refuses %s: %v", e, err)
			}
			if want := rs[i+j]; !got.TS.Equal(want.TS) || got.Key != want.Key || got.Value != want.Value {
				t.Errorf("ingest reads %+v from %s, want %+v", got, e, want)
			}
		}
	}
}

// TestSimulateReplaysThroughPipeline simulates the reference fleet (3 devices
// x 5 sensors, the reference's ranges) to a CSV and replays it with
// `batchscore run -data -models` through the whole local pipeline (Azurite,
// SQLite, the handler) with the reference's models: every simulated reading
// comes out scored with its value, and every out-of-range spike is an anomaly.
func TestSimulateReplaysThroughPipeline(t *testing.T) {
	app := testenv.App(t)
	ref, err := reference.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	data := simulateCSV(t, "-duration", "10m", "-spikes", "0.02", "-seed", "3", "-start", "2018-08-28T23:00:05Z")
	simulated, err := reference.Readings(data)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"run", "-app", app, "-data", data, "-models", ref.Models, "-out", out, "-timeout", "10m"}, &stdout, io.Discard); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "scoring: 15 done") {
		t.Errorf("run output lacks \"scoring: 15 done\":\n%s", stdout.String())
	}
	var preds []localrun.Prediction
	err = filepath.WalkDir(filepath.Join(out, "latest", "preds"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		ps, err := localrun.ReadPredictions(f)
		preds = append(preds, ps...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	type at struct {
		k  sensor.Key
		ms int64
	}
	byKey := map[at]localrun.Prediction{}
	for _, p := range preds {
		byKey[at{p.Key, p.TS.UnixMilli()}] = p
	}
	if len(preds) != len(simulated) || len(byKey) != len(simulated) {
		t.Fatalf("%d predictions (%d distinct) for %d simulated readings", len(preds), len(byKey), len(simulated))
	}
	rs, err := reference.Readings(ref.Data)
	if err != nil {
		t.Fatal(err)
	}
	ranges, err := simulate.Ranges(rs)
	if err != nil {
		t.Fatal(err)
	}
	var spikes, normalAnomalies int
	for _, r := range simulated {
		p, ok := byKey[at{r.Key, r.TS.UnixMilli()}]
		if !ok || p.Value != r.Value {
			t.Fatalf("reading %s %v = %v: prediction %+v (found %v)", r.Key, r.TS, r.Value, p, ok)
		}
		s, _ := strconv.Atoi(r.Key.Sensor)
		rg := ranges[s-1]
		if r.Value < rg.Lo || r.Value > rg.Hi {
			spikes++
			if !p.Anomaly {
				t.Errorf("spike %s %v = %v (range %v-%v) scored normal (decision %v)", r.Key, r.TS.Format(time.TimeOnly), r.Value, rg.Lo, rg.Hi, p.Decision)
			}
		} else if p.Anomaly {
			normalAnomalies++
		}
	}
	if spikes == 0 {
		t.Error("no spike among the simulated readings")
	}
	t.Logf("%d readings, %d spikes (all anomalies), %d in-range readings flagged by the reference models", len(simulated), spikes, normalAnomalies)
}

// TestSimulateInterrupt: Ctrl-C (SIGINT) stops `batchscore simulate` between
// ticks; it exits 0 after printing the summary, and the CSV holds exactly the
// ticks it reports, each whole. The command runs in a child process (this
// test binary through TestMainExitStatus), stopped by its PID.
func TestSimulateInterrupt(t *testing.T) {
	csvPath := filepath.Join(t.TempDir(), "interrupted.csv")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMainExitStatus$")
	cmd.Env = append(os.Environ(), "BATCHSCORE_MAIN_ARGS=simulate -fleet 2x3 -duration 10000h -csv "+csvPath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if fi, err := os.Stat(csvPath); err == nil && fi.Size() > 100_000 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no CSV written within 30 s; stderr: %s", stderr.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("simulate after SIGINT: %v; stderr: %s", err, stderr.String())
	}
	// "simulate: 1,234 ticks, 7,404 readings (...": numbers with thousands separators.
	line, _, _ := strings.Cut(stdout.String(), "\n")
	fields := strings.Fields(strings.ReplaceAll(line, ",", ""))
	if len(fields) < 4 || fields[0] != "simulate:" || fields[2] != "ticks" {
		t.Fatalf("summary %q", stdout.String())
	}
	ticks, _ := strconv.Atoi(fields[1])
	readings, _ := strconv.Atoi(fields[3])
	if ticks == 0 || ticks >= 10000*720 || readings != 6*ticks {
		t.Fatalf("summary %q: want some but not all ticks, 6 readings each", stdout.String())
	}
	rs, err := reference.Readings(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != readings {
		t.Errorf("CSV has %d readings, the summary says %d", len(rs), readings)
	}
}
