package localrun

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/reference"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/svm"
)

func ts(s string) time.Time {
	t, err := time.Parse(TSLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 17768: "17,768", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestEventBodies(t *testing.T) {
	rs := []sensor.Reading{
		{TS: ts("2018-08-28 23:00:05.000"), Key: sensor.Key{Device: "1", Sensor: "1"}, Value: 10.16},
		{TS: ts("2018-08-28 23:00:05.000"), Key: sensor.Key{Device: "1", Sensor: "4"}, Value: 84.53},
		{TS: ts("2018-08-28 23:00:05.000"), Key: sensor.Key{Device: "pump07", Sensor: "0x"}, Value: -1e-7},
		{TS: ts("2018-08-28 23:00:10.000"), Key: sensor.Key{Device: "1", Sensor: "1"}, Value: 12},
	}
	bodies, times := EventBodies(rs)
	var got []string
	for _, b := range bodies {
		got = append(got, string(b))
	}
	want := []string{
		`[{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":10.16},{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":4,"Value":84.53}]`,
		`{"TS":"2018-08-28 23:00:05.000","Device":"pump07","Sensor":"0x","Value":-1e-07}`,
		`{"TS":"2018-08-28 23:00:10.000","Device":1,"Sensor":1,"Value":12}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bodies (-want +got):\n%s", diff)
	}
	wantT := []time.Time{ts("2018-08-28 23:00:05.000"), ts("2018-08-28 23:00:05.000"), ts("2018-08-28 23:00:10.000")}
	if diff := cmp.Diff(wantT, times); diff != "" {
		t.Errorf("times (-want +got):\n%s", diff)
	}
}

func TestDataWindow(t *testing.T) {
	rs := []sensor.Reading{{TS: ts("2018-08-28 23:00:10.000")}, {TS: ts("2018-08-28 23:00:05.000")}, {TS: ts("2018-08-29 03:12:30.000")}}
	got := dataWindow(rs)
	want := sensor.Window{Start: ts("2018-08-28 23:00:00.000"), End: ts("2018-08-29 03:12:30.000")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("window (-want +got):\n%s", diff)
	}
	// An unaligned reading is covered by the window that holds it.
	got = dataWindow([]sensor.Reading{{TS: ts("2018-08-28 23:00:07.250")}})
	want = sensor.Window{Start: ts("2018-08-28 23:00:05.000"), End: ts("2018-08-28 23:00:10.000")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unaligned window (-want +got):\n%s", diff)
	}
}

func TestCompare(t *testing.T) {
	k := sensor.Key{Device: "1", Sensor: "1"}
	want := []Prediction{
		{TS: ts("2018-08-28 23:00:05.000"), Key: k, Value: 10.16, Anomaly: false, Decision: 1e-4},
		{TS: ts("2018-08-28 23:00:10.000"), Key: k, Value: 12.46, Anomaly: true, Decision: -1e-4},
		{TS: ts("2018-08-28 23:00:15.000"), Key: k, Value: 11, Anomaly: false, Decision: 2e-4},
	}
	tests := []struct {
		name          string
		got           []Prediction
		identical     int
		nMismatch     int
		ok            bool
		mismatchMatch string
	}{
		{name: "identical", got: want, identical: 3, ok: true},
		{name: "missing row", got: want[:2], identical: 2, nMismatch: 1, mismatchMatch: "missing"},
		{name: "flipped prediction", got: []Prediction{want[0], {TS: want[1].TS, Key: k, Value: 12.46, Anomaly: false, Decision: 1e-9}, want[2]},
			identical: 2, nMismatch: 1, mismatchMatch: "prediction 0"},
		{name: "extra row", got: append(append([]Prediction(nil), want...), Prediction{TS: ts("2018-08-28 23:00:20.000"), Key: k, Value: 1}),
			identical: 3, nMismatch: 1, mismatchMatch: "not in the reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Compare(want, tt.got)
			if p.Identical != tt.identical || len(p.Mismatches) != tt.nMismatch || p.OK() != tt.ok {
				t.Fatalf("Compare = %d identical, mismatches %q, ok %v; want %d, %d, %v", p.Identical, p.Mismatches, p.OK(), tt.identical, tt.nMismatch, tt.ok)
			}
			if tt.mismatchMatch != "" && !strings.Contains(p.Mismatches[0], tt.mismatchMatch) {
				t.Errorf("mismatch %q does not mention %q", p.Mismatches[0], tt.mismatchMatch)
			}
		})
	}
}

func TestReadPredictionsBothLayouts(t *testing.T) {
	ours := "TS,Device,Sensor,Val,Prediction,Decision\n2018-08-28 23:00:05.000,1,1,10.16,0,8.8883906780034411e-05\n"
	ref := "TS,Device,Sensor,Val,decision,Prediction\n2018-08-28 23:00:05.000,1,1,10.16,8.8883906780034411e-05,0\n"
	older := "TS,Device,Sensor,Val,decision,anomaly\n2018-08-28 23:00:05.000,1,1,10.16,8.8883906780034411e-05,0\n"
	a, err := ReadPredictions(strings.NewReader(ours))
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{"reference": ref, "older batchscore score": older} {
		b, err := ReadPredictions(strings.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("layouts disagree (-ours +%s):\n%s", name, diff)
		}
	}
	if _, err := ReadPredictions(strings.NewReader("TS,Device,Sensor,Val,Prediction,Decision\n2018-08-28 23:00:05.000,1,1,10.16,-1,0\n")); err == nil {
		t.Error("prediction -1 accepted, want an error (0 or 1 only)")
	}
}

// The reference is in the repository (internal/svm/testdata/reference): it must
// be found there, not skipped and not taken from a copy next to the repository.
func TestReferenceFilesParse(t *testing.T) {
	ref, rs := reference.ForTest(t)
	root, err := reference.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "internal", "svm", "testdata", "reference", "sensor_data.csv"); ref.Data != want {
		t.Errorf("reference data found at %s, want the in-repository copy %s", ref.Data, want)
	}
	e, err := os.Open(ref.Expected)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ps, err := ReadPredictions(e)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 17768 || len(ps) != 17768 || countKeys(rs) != 15 {
		t.Errorf("reference has %d readings of %d sensors and %d predictions, want 17768 of 15 and 17768", len(rs), countKeys(rs), len(ps))
	}
	models, err := ReadModels(ref.Models)
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 15 {
		t.Errorf("%d reference models, want 15", len(models))
	}
}

func TestParseFleet(t *testing.T) {
	tests := []struct {
		in      string
		d, s    int
		wantErr bool
	}{
		{in: "100x10", d: 100, s: 10},
		{in: "3X5", d: 3, s: 5},
		{in: "0x5", wantErr: true},
		{in: "10", wantErr: true},
		{in: "axb", wantErr: true},
		{in: "2000x1000", wantErr: true},
	}
	for _, tt := range tests {
		d, s, err := ParseFleet(tt.in)
		if (err != nil) != tt.wantErr || d != tt.d || s != tt.s {
			t.Errorf("ParseFleet(%q) = %d, %d, %v; want %d, %d, error %v", tt.in, d, s, err, tt.d, tt.s, tt.wantErr)
		}
	}
}

// The synthetic models must flag the injected spikes and little else.
func TestSyntheticModelsFindInjectedAnomalies(t *testing.T) {
	s := Synthetic{Devices: 3, Sensors: 4, Rows: 500, Noise: 0.05, AnomalyRate: 0.02, Seed: 3}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	models, err := s.Models()
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 12 {
		t.Fatalf("%d models, want 12", len(models))
	}
	loaded := map[sensor.Key]*svm.Model{}
	for name, b := range models {
		k, ok := sensor.ParseModelName(name)
		if !ok {
			t.Fatalf("model name %q does not parse", name)
		}
		m, err := svm.LoadJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("model %s: %v", name, err)
		}
		loaded[k] = m
	}
	var flagged, spikes, caught int
	for _, r := range s.Readings() {
		d := loaded[r.Key].Decision([]float64{r.Value})
		mu, sigma := s.level(atoi(r.Key.Device), atoi(r.Key.Sensor))
		spike := abs(r.Value-mu) > 5.5*sigma
		if svm.IsAnomaly(d) {
			flagged++
			if spike {
				caught++
			}
		}
		if spike {
			spikes++
		}
	}
	n := s.Devices * s.Sensors * s.Rows
	if spikes == 0 || caught != spikes {
		t.Errorf("%d of %d injected spikes flagged, want all", caught, spikes)
	}
	if fp := flagged - caught; fp > n/50 {
		t.Errorf("%d normal readings of %d flagged, want at most 2 %%", fp, n)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// The report names the run's inputs and the parity verdict, gives each sensor a
// row with its rate, model facts and health, linked to its plots and its
// predictions CSV, and needs nothing from elsewhere.
func TestWriteHTML(t *testing.T) {
	k := sensor.Key{Device: "1", Sensor: "1"}
	preds := map[sensor.Key][]Prediction{k: {
		{TS: ts("2018-08-28 23:00:05.000"), Key: k, Value: 10, Anomaly: false, Decision: 0.5},
		{TS: ts("2018-08-28 23:00:10.000"), Key: k, Value: 30, Anomaly: true, Decision: -0.25},
		{TS: ts("2018-08-28 23:00:15.000"), Key: k, Value: 11, Anomaly: false, Decision: 0.4},
	}}
	facts := map[sensor.Key]ModelFacts{k: {Format: "json", Kernel: "rbf", Gamma: 0.5, SVs: 16, ScalerMean: []float64{10}, ScalerScale: []float64{1}}}
	var b bytes.Buffer
	err := WriteHTML(&b, Report{Title: "t", RunID: "r", Window: sensor.Window{Start: ts("2018-08-28 23:00:00.000"), End: ts("2018-08-28 23:00:15.000")},
		Inputs:  []Input{{"data", "readings.csv (3 readings)"}},
		Sensors: []SensorResult{{Key: k, Status: sensor.StatusDone, Rows: 3, Anomalies: 1, Blob: "r/preds_1_1.csv"}},
		Parity:  "3 of 3 predictions identical to the reference", ParityOK: true, Preds: preds, Models: facts})
	if err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{"<svg", "Parity: 3 of 3 predictions identical", "readings.csv (3 readings)", `<a href="#s-1-1">1/1</a>`,
		`<section id="s-1-1">`, `<a href="preds/r/preds_1_1.csv">CSV</a>`, "33.3\u00a0%", "standard: mean 10, scale 1", "threshold 0",
		"plausible: 33.3\u00a0% of the rows flagged", "min/max per column"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "@font-face", "http://", "https://", "<?xml", "<link", " src=", "url("} {
		if strings.Contains(html, bad) {
			t.Errorf("report contains %q; it must be self-contained", bad)
		}
	}
}

// A report of 100 sensors of 720 readings each (1 % flagged) stays under 1 MB:
// the plots draw at most two points per pixel column.
func TestWriteHTMLSizeFor100Sensors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := ts("2018-08-28 23:00:00.000")
	preds := map[sensor.Key][]Prediction{}
	var rs []SensorResult
	facts := map[sensor.Key]ModelFacts{}
	for i := range 100 {
		k := sensor.Key{Device: strconv.Itoa(i/10 + 1), Sensor: strconv.Itoa(i%10 + 1)}
		n := 0
		for j := range 720 {
			v := 50 + rng.NormFloat64()*2.5
			d := 0.3 + rng.NormFloat64()*0.1
			if rng.Float64() < 0.01 {
				v, d = v+25, -0.2
				n++
			}
			preds[k] = append(preds[k], Prediction{TS: start.Add(time.Duration(j+1) * Window), Key: k, Value: v, Decision: d, Anomaly: d <= 0})
		}
		rs = append(rs, SensorResult{Key: k, Status: sensor.StatusDone, Rows: 720, Anomalies: n, Blob: "r/preds_" + k.Device + "_" + k.Sensor + ".csv"})
		facts[k] = ModelFacts{Format: "json", Kernel: "rbf", Gamma: 0.5, SVs: 16, ScalerMean: []float64{50}, ScalerScale: []float64{2.5}}
	}
	var b bytes.Buffer
	err := WriteHTML(&b, Report{Title: "synthetic 10x10", RunID: "r", Window: sensor.Window{Start: start, End: start.Add(720 * Window)},
		Sensors: rs, Preds: preds, Models: facts})
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b.Bytes(), []byte("<svg")); n != 200 {
		t.Errorf("%d plots, want two per sensor (200)", n)
	}
	if b.Len() >= 1<<20 {
		t.Errorf("report of 100 sensors is %d bytes, want under 1 MB", b.Len())
	}
	t.Logf("report of 100 sensors x 720 readings: %d bytes", b.Len())
}

// The reference's models, described: all are RBF with nu 0.0001 and gamma 0.01;
// four (1/2, 1/5, 2/5, 3/4) have a single support vector whose coefficient
// equals the offset, and the verdict calls out exactly those as flagging every
// row because of the model, with the training facts that explain it.
func TestModelFactsReference(t *testing.T) {
	ref, _ := reference.ForTest(t)
	models, err := ReadModels(ref.Models)
	if err != nil {
		t.Fatal(err)
	}
	single := map[string]int{"model_1_2": 250, "model_1_5": 291, "model_2_5": 268, "model_3_4": 281}
	for name, data := range models {
		f := ReadModelFacts(data)
		if f.Err != "" || f.Kernel != "rbf" || f.Nu != 0.0001 || f.Gamma != 0.01 || f.Format != "pickle" || f.TrainRows < 200 || len(f.ScalerMean) != 1 {
			t.Errorf("%s: facts %+v", name, f)
		}
		rows, ok := single[name]
		if f.SinglePoint != ok || (ok && (f.SVs != 1 || f.TrainRows != rows)) {
			t.Errorf("%s: single point %v, %d SVs, %d training rows; want single point %v (%d rows)", name, f.SinglePoint, f.SVs, f.TrainRows, ok, rows)
		}
		h := Verdict(f, 1000, 1000, 0)
		if ok && (h.OK || !strings.Contains(h.Text, "degenerate model, not the data") || !strings.Contains(h.Text, fmt.Sprintf("nu = 0.0001 on %d training rows", rows))) {
			t.Errorf("%s: verdict %+v", name, h)
		}
	}
}

func TestVerdict(t *testing.T) {
	plain := ModelFacts{Kernel: "rbf", SVs: 10, ScalerMean: []float64{0}, ScalerScale: []float64{1}}
	tests := []struct {
		name            string
		rows, anomalies int
		far             float64
		ok              bool
		want            string
	}{
		{"plausible", 1000, 50, 0, true, "plausible: 5\u00a0%"},
		{"none scored", 0, 0, 0, true, "no readings"},
		{"every row, drifted", 1000, 1000, 0.9, false, "90\u00a0% of the readings are more than 3 standard deviations"},
		{"every row, in range", 1000, 995, 0.1, false, "although the readings are in the training range"},
		{"no row", 1000, 0, 0, false, "flags no row"},
		{"most rows", 1000, 600, 0, false, "flags most rows (60\u00a0%)"},
	}
	for _, tt := range tests {
		h := Verdict(plain, tt.rows, tt.anomalies, tt.far)
		if h.OK != tt.ok || !strings.Contains(h.Text, tt.want) {
			t.Errorf("%s: %+v, want ok %v and %q", tt.name, h, tt.ok, tt.want)
		}
	}
	if got := farShare(plain, []float64{0, 1, 3.5, -4}); got != 0.5 {
		t.Errorf("farShare = %v, want 0.5", got)
	}
}

// A fleet of 1,000 sensors prints aligned sections with headers and rows: the
// sensors not done, the first 20 and the 10 slowest, and how many are left out.
func TestPrintTableLargeFleet(t *testing.T) {
	var rs []SensorResult
	for i := range 1000 {
		r := SensorResult{Key: sensor.Key{Device: strconv.Itoa(i/10 + 1), Sensor: strconv.Itoa(i%10 + 1)}, Status: sensor.StatusDone,
			Rows: 720, Anomalies: 7, Attempts: 1, Duration: time.Duration(i%500) * time.Millisecond}
		if i == 500 {
			r.Status, r.Attempts, r.Duration = sensor.StatusPoisoned, 5, 2*time.Second
		}
		rs = append(rs, r)
	}
	var b bytes.Buffer
	printTable(&b, rs, "out/report.html")
	out := b.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	// 3 titles, 3 headers, 1 + 20 + 10 rows, the closing line.
	if len(lines) != 38 {
		t.Fatalf("%d lines, want 38:\n%s", len(lines), out)
	}
	for _, want := range []string{"not done (1 of 1,000):", "first 20 of 1,000 sensors:", "slowest 10 sensors:",
		"(1,000 sensors in all: every one is in out/report.html)"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("table lacks the line %q:\n%s", want, out)
		}
	}
	width := len(lines[1])
	for i, l := range lines {
		if strings.TrimSpace(l) == "" || strings.HasSuffix(l, " ") {
			t.Errorf("line %d is empty or has trailing blanks: %q", i, l)
		}
		if title := strings.HasSuffix(l, ":") || strings.HasPrefix(l, "("); !title {
			if len(l) != width {
				t.Errorf("line %d is %d wide, want %d (columns aligned across sections): %q", i, len(l), width, l)
			}
		}
	}
	i := slices.Index(lines, "slowest 10 sensors:")
	if i < 0 || !strings.HasPrefix(lines[i+2], "51/1 ") || !strings.HasSuffix(lines[i+2], " 2s") {
		t.Errorf("the slowest sensor (51/1, 2s) does not head the slowest section:\n%s", out)
	}
}

// A single differing, missing or extra prediction prints the mismatch and fails
// the run with ErrParity; identical predictions pass.
func TestCheckParityFailsOnMismatch(t *testing.T) {
	k := sensor.Key{Device: "1", Sensor: "1"}
	want := []Prediction{
		{TS: ts("2018-08-28 23:00:05.000"), Key: k, Value: 10, Decision: 0.5},
		{TS: ts("2018-08-28 23:00:10.000"), Key: k, Value: 30, Anomaly: true, Decision: -0.2},
	}
	var b bytes.Buffer
	if _, line, err := checkParity(&b, want, slices.Clone(want)); err != nil || line != "2 of 2 predictions identical to the reference" {
		t.Errorf("identical: line %q, err %v", line, err)
	}
	flipped := slices.Clone(want)
	flipped[1].Anomaly = false
	extra := append(slices.Clone(want), Prediction{TS: ts("2018-08-28 23:00:15.000"), Key: k, Value: 1})
	for name, got := range map[string][]Prediction{"flipped": flipped, "missing": want[:1], "extra": extra} {
		b.Reset()
		par, _, err := checkParity(&b, want, got)
		if !errors.Is(err, ErrParity) || par.OK() {
			t.Errorf("%s: err = %v, want ErrParity", name, err)
		}
		if !strings.Contains(b.String(), "  mismatch: 1/1 2018-08-28 23:00:") {
			t.Errorf("%s: mismatch not printed:\n%s", name, b.String())
		}
	}
}

// Without a terminal progress is plain lines: the first, then at most one every
// two seconds, and the last; on a terminal it is a bar.
func TestProgressPlainAndBar(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, false)
	p.start("ingest", "events", 1000)
	for i := 0; i <= 1000; i += 10 {
		p.set(i, "")
	}
	p.finish("ingest: done")
	want := "ingest: 0 of 1,000 events\ningest: 1,000 of 1,000 events\ningest: done\n"
	if b.String() != want {
		t.Errorf("plain progress = %q, want %q", b.String(), want)
	}
	b.Reset()
	p = newProgress(&b, true)
	p.start("scoring", "sensors", 10)
	p.set(5, "2 in flight")
	p.finish("scoring: done")
	if out := b.String(); !strings.Contains(out, "scoring") || !strings.Contains(out, "|") || !strings.HasSuffix(out, "scoring: done\n") {
		t.Errorf("terminal progress = %q, want a bar then the summary line", out)
	}
}

// BenchmarkSyntheticModels fits the models of run -synthetic 100x10 (1,000
// sensors, the set-up stage's model step): one op is the whole fleet.
func BenchmarkSyntheticModels(b *testing.B) {
	s := Synthetic{Devices: 100, Sensors: 10, Rows: 720, Noise: 0.05, AnomalyRate: 0.01, Seed: 1}
	for b.Loop() {
		if _, err := s.Models(); err != nil {
			b.Fatal(err)
		}
	}
}
