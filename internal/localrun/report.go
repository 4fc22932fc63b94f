package localrun

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
)

// SensorResult is one sensor's line of the run table and report.
type SensorResult struct {
	Key       sensor.Key
	Status    string
	Rows      int
	Anomalies int
	Attempts  int
	Duration  time.Duration
	Blob      string
	Error     string
}

// Stage is one timed stage of the run; Detail says what the time covers.
type Stage struct {
	Name     string
	Duration time.Duration
	Detail   string
	Summed   bool // a sum over sensors that ran in parallel, not wall-clock time
	Total    bool // the whole run
}

// Report is what the HTML report shows.
type Report struct {
	Title     string
	RunID     string
	Window    sensor.Window
	Generated time.Time
	Inputs    []Input // the run's inputs (data, models, reference), in order
	Sensors   []SensorResult
	Stages    []Stage
	Parity    string // the parity line, or "" when there is no reference
	ParityOK  bool
	Preds     map[sensor.Key][]Prediction
	Models    map[sensor.Key]ModelFacts
	MaxPlots  int // plot at most this many sensors (0: all)
}

// Input is one line of the report's inputs table.
type Input struct{ Name, Value string }

// WriteHTML writes a self-contained HTML page (no scripts, no web fonts,
// nothing loaded from elsewhere): the run's inputs and verdicts, a table of
// every sensor with its anomaly rate, model facts and model-health verdict,
// linked to its plots and to its predictions CSV (relative links into the run
// folder: preds/<blob name>), the stages, and per sensor two inline SVG plots:
// the readings with the flagged ones marked, and the decision value with the
// threshold at 0.
func WriteHTML(w io.Writer, r Report) error {
	type row struct {
		SensorResult
		ID, Rate, CSV string
		Facts         ModelFacts
		Health        Health
		Short         string
	}
	type plotView struct {
		ID, Key, Rate     string
		Health            Health
		Values, Decisions template.HTML
	}
	rows := make([]row, 0, len(r.Sensors))
	var unhealthy []string
	byKey := map[sensor.Key]*row{}
	for _, s := range r.Sensors {
		rw := row{SensorResult: s, ID: anchor(s.Key), Facts: r.Models[s.Key]}
		if s.Rows > 0 {
			rw.Rate = percent(float64(s.Anomalies) / float64(s.Rows))
		}
		if s.Blob != "" {
			rw.CSV = "preds/" + s.Blob
		}
		var vals []float64
		for _, p := range r.Preds[s.Key] {
			vals = append(vals, p.Value)
		}
		if s.Status == sensor.StatusDone || s.Status == sensor.StatusEmpty {
			rw.Health = Verdict(rw.Facts, s.Rows, s.Anomalies, farShare(rw.Facts, vals))
		} else {
			rw.Health = Health{Text: s.Status + ": " + s.Error}
		}
		rw.Short = strings.SplitN(rw.Health.Text, ":", 2)[0]
		if !rw.Health.OK {
			unhealthy = append(unhealthy, s.Key.String())
		}
		rows = append(rows, rw)
	}
	for i := range rows {
		byKey[rows[i].Key] = &rows[i]
	}
	t0, t1 := float64(r.Window.Start.Unix()), float64(r.Window.End.Unix())
	zero := 0.0
	var plots []plotView
	keys := make([]sensor.Key, 0, len(r.Preds))
	for k := range r.Preds {
		keys = append(keys, k)
	}
	sortKeys(keys)
	omitted := 0
	for i, k := range keys {
		if r.MaxPlots > 0 && i >= r.MaxPlots {
			omitted = len(keys) - i
			break
		}
		ps := append([]Prediction(nil), r.Preds[k]...)
		sort.Slice(ps, func(i, j int) bool { return ps[i].TS.Before(ps[j].TS) })
		xs, vs, ds, fl := make([]float64, len(ps)), make([]float64, len(ps)), make([]float64, len(ps)), make([]bool, len(ps))
		for i, p := range ps {
			xs[i], vs[i], ds[i], fl[i] = float64(p.TS.Unix())+float64(p.TS.Nanosecond())/1e9, p.Value, p.Decision, p.Anomaly
		}
		pv := plotView{ID: anchor(k), Key: k.String()}
		if rw := byKey[k]; rw != nil {
			pv.Rate, pv.Health = rw.Rate, rw.Health
		}
		pv.Values = svgPlot(series{title: "sensor " + k.String() + " readings", xs: xs, ys: vs, flagged: fl, dots: true, yfmt: shortFloat}, t0, t1)
		pv.Decisions = svgPlot(series{title: "sensor " + k.String() + " decision values", xs: xs, ys: ds, flagged: fl, threshold: &zero, yfmt: shortFloat}, t0, t1)
		plots = append(plots, pv)
	}
	var total, anomalies, scored, done, failed int
	for _, s := range r.Sensors {
		total++
		anomalies += s.Anomalies
		scored += s.Rows
		switch s.Status {
		case sensor.StatusDone, sensor.StatusEmpty:
			done++
		case sensor.StatusFailed, sensor.StatusPoisoned:
			failed++
		}
	}
	rate := ""
	if scored > 0 {
		rate = percent(float64(anomalies) / float64(scored))
	}
	data := struct {
		Report
		Rows                              []row
		Plots                             []plotView
		Unhealthy                         []string
		Omitted, PlotW, MaxDots           int
		Total, Done, Failed, AnomalyCount int
		Scored                            int
		Rate, Start, End                  string
	}{r, rows, plots, unhealthy, omitted, plotW, maxDots, total, done, failed, anomalies, scored, rate,
		r.Window.Start.UTC().Format(time.RFC3339), r.Window.End.UTC().Format(time.RFC3339)}
	if err := reportTmpl.Execute(w, data); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// anchor is the HTML id of a sensor's plots.
func anchor(k sensor.Key) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
				return r
			}
			return '_'
		}, s)
	}
	return "s-" + clean(k.Device) + "-" + clean(k.Sensor)
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":   func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"num":  func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) },
	"join": strings.Join,
	"n":    Thousands,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body,svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
body{margin:2em;color:#222;font-size:14px;max-width:80em}
svg text{font-size:11px;fill:#333}
svg text.thr{fill:#555}
svg .g{stroke:#ddd;fill:none}svg .r{text-anchor:end}svg .c{text-anchor:middle}
table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right;vertical-align:top}
td:first-child,th:first-child,td.l,th.l{text-align:left}
tr.bad td{background:#fdecea}
.ok{color:#1e7b34}.bad,.no{color:#b00}
section{margin:1.2em 0;border-top:1px solid #eee;padding-top:.4em}
h3{margin:.3em 0;font-size:1.05em}
.key{display:inline-block;width:.8em;height:.8em;border-radius:50%;background:#c0392b;vertical-align:middle}
.line{display:inline-block;width:1.4em;height:0;border-top:2px solid #1f5fa8;vertical-align:middle}
</style></head><body>
<h1>{{.Title}}</h1>
<p>Run <code>{{.RunID}}</code>, window ({{.Start}}, {{.End}}], generated {{.Generated.UTC.Format "2006-01-02 15:04:05 UTC"}}.</p>
<h2>Inputs</h2>
<table>{{range .Inputs}}<tr><th class="l">{{.Name}}</th><td class="l">{{.Value}}</td></tr>{{end}}
<tr><th class="l">window</th><td class="l">({{.Start}}, {{.End}}]</td></tr></table>
<h2>Verdict</h2>
<ul>
{{if .Parity}}<li class="{{if .ParityOK}}ok{{else}}no{{end}}"><strong>Parity: {{.Parity}}</strong>{{if .ParityOK}} (every prediction and decision as the reference's){{end}}.</li>{{else}}<li>No reference predictions for these inputs: no parity check.</li>{{end}}
<li>{{.Total}} sensors: {{.Done}} scored, {{.Failed}} failed; {{n .AnomalyCount}} of {{n .Scored}} rows flagged ({{.Rate}}).</li>
<li>{{if .Unhealthy}}<span class="bad">Model health: {{len .Unhealthy}} of {{.Total}} models called out</span> ({{join .Unhealthy ", "}}); the reason is in each sensor's row and above its plots.{{else}}Model health: every model's anomaly rate is plausible.{{end}}</li>
</ul>
<h2>Sensors</h2>
<table><tr><th>sensor</th><th>status</th><th>rows</th><th>anomalies</th><th>rate</th><th>kernel</th><th>nu</th><th>gamma</th><th>SVs</th><th class="l">scaler</th><th class="l">model health</th><th>predictions</th><th>time</th></tr>
{{range .Rows}}<tr{{if not .Health.OK}} class="bad"{{end}}><td><a href="#{{.ID}}">{{.Key}}</a></td><td>{{.Status}}</td><td>{{n .Rows}}</td><td>{{n .Anomalies}}</td><td>{{.Rate}}</td><td>{{.Facts.Kernel}}</td><td>{{if .Facts.Nu}}{{num .Facts.Nu}}{{else}}-{{end}}</td><td>{{num .Facts.Gamma}}</td><td>{{.Facts.SVs}}</td><td class="l">{{.Facts.Scaler}}</td><td class="l" title="{{.Health.Text}}">{{.Short}}</td><td>{{if .CSV}}<a href="{{.CSV}}">CSV</a>{{end}}</td><td>{{ms .Duration}}</td></tr>
{{end}}</table>
{{if .Stages}}<h2>Stages</h2>
<table><tr><th>stage</th><th>time</th><th class="l">what the time covers</th></tr>
{{range .Stages}}<tr><td>{{.Name}}{{if .Summed}} (summed, not wall clock){{end}}</td><td>{{ms .Duration}}</td><td class="l">{{.Detail}}</td></tr>
{{end}}</table>{{end}}
<h2>Plots</h2>
<p>Per sensor: the 5-second readings (<span class="line"></span>) with the flagged ones marked (<span class="key"></span>; when more than {{.MaxDots}} pixel columns hold flagged readings, only the red bar along the bottom, which marks every column with one), and the decision value over time with the threshold at 0 (a row is an anomaly when its decision value is 0 or below). Times are UTC. Plots are downsampled to at most two points per pixel column (min/max per column, {{.PlotW}} columns), which keeps every spike visible.</p>
{{range .Plots}}<section id="{{.ID}}"><h3>sensor {{.Key}}{{if .Rate}}: {{.Rate}} flagged{{end}}</h3>
<p class="{{if .Health.OK}}ok{{else}}bad{{end}}">{{.Health.Text}}</p>
{{.Values}}<br>{{.Decisions}}</section>
{{end}}{{if .Omitted}}<p>{{.Omitted}} more sensors not plotted.</p>{{end}}
</body></html>
`))

func sortKeys(keys []sensor.Key) {
	sort.Slice(keys, func(i, j int) bool { return lessKey(keys[i], keys[j]) })
}

// lessKey orders keys numerically where both parts are numbers, else as text.
func lessKey(a, b sensor.Key) bool {
	if a.Device != b.Device {
		return lessNum(a.Device, b.Device)
	}
	return lessNum(a.Sensor, b.Sensor)
}

func lessNum(a, b string) bool {
	if len(a) != len(b) && isDigits(a) && isDigits(b) {
		return len(a) < len(b)
	}
	return a < b
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
