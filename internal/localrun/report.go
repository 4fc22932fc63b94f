package localrun

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

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
	Sensors   []SensorResult
	Stages    []Stage
	Parity    string // the parity line, or "" when there is no reference
	Preds     map[sensor.Key][]Prediction
	MaxPlots  int // plot at most this many sensors (0: all)
}

// WriteHTML writes a self-contained HTML page: the run summary, the per-sensor
// table and one inline SVG time-series plot per sensor with its anomalies marked.
// It has no scripts and no web fonts.
func WriteHTML(w io.Writer, r Report) error {
	type plotView struct {
		Key       string
		Rows      int
		Anomalies int
		SVG       template.HTML
	}
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
		svg, err := plotSensor(k, r.Preds[k])
		if err != nil {
			return fmt.Errorf("plot %s: %w", k, err)
		}
		n := 0
		for _, p := range r.Preds[k] {
			if p.Anomaly {
				n++
			}
		}
		plots = append(plots, plotView{Key: k.String(), Rows: len(r.Preds[k]), Anomalies: n, SVG: template.HTML(svg)})
	}
	var total, anomalies, done, failed int
	for _, s := range r.Sensors {
		total++
		anomalies += s.Anomalies
		switch s.Status {
		case sensor.StatusDone, sensor.StatusEmpty:
			done++
		case sensor.StatusFailed, sensor.StatusPoisoned:
			failed++
		}
	}
	data := struct {
		Report
		Plots                             []plotView
		Omitted                           int
		Total, Done, Failed, AnomalyCount int
		Start, End                        string
	}{r, plots, omitted, total, done, failed, anomalies,
		r.Window.Start.UTC().Format(time.RFC3339), r.Window.End.UTC().Format(time.RFC3339)}
	if err := reportTmpl.Execute(w, data); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}
.bad{color:#b00}
figure{display:inline-block;margin:.5em;vertical-align:top}
figcaption{font-size:90%}
</style></head><body>
<h1>{{.Title}}</h1>
<p>Run <code>{{.RunID}}</code>, window ({{.Start}}, {{.End}}], generated {{.Generated.UTC.Format "2006-01-02 15:04:05 UTC"}}.</p>
<p>{{.Total}} sensors: {{.Done}} done, {{.Failed}} failed; {{.AnomalyCount}} anomalies.</p>
{{if .Parity}}<p><strong>{{.Parity}}</strong></p>{{end}}
{{if .Stages}}<h2>Stages</h2><table><tr><th>stage</th><th>time</th><th>detail</th></tr>
{{range .Stages}}<tr><td>{{.Name}}</td><td>{{ms .Duration}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>{{end}}
<h2>Sensors</h2>
<table><tr><th>sensor</th><th>status</th><th>rows</th><th>anomalies</th><th>attempts</th><th>time</th><th>predictions blob</th></tr>
{{range .Sensors}}<tr><td>{{.Key}}</td><td{{if .Error}} class="bad" title="{{.Error}}"{{end}}>{{.Status}}</td><td>{{.Rows}}</td><td>{{.Anomalies}}</td><td>{{.Attempts}}</td><td>{{ms .Duration}}</td><td>{{.Blob}}</td></tr>
{{end}}</table>
<h2>Series</h2>
<p>Each plot shows a sensor's 5-second values; red circles mark the readings scored as anomalies.</p>
{{range .Plots}}<figure>{{.SVG}}<figcaption>{{.Key}}: {{.Rows}} rows, {{.Anomalies}} anomalies</figcaption></figure>
{{end}}{{if .Omitted}}<p>{{.Omitted}} more sensors not plotted.</p>{{end}}
</body></html>
`))

// plotSensor draws one sensor's series with anomalies marked, as an <svg> element.
func plotSensor(k sensor.Key, preds []Prediction) (string, error) {
	ps := append([]Prediction(nil), preds...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].TS.Before(ps[j].TS) })
	p := plot.New()
	p.Title.Text = "sensor " + k.String()
	p.X.Label.Text = "time (UTC)"
	p.Y.Label.Text = "value"
	p.X.Tick.Marker = plot.TimeTicks{Format: "15:04"}
	line := make(plotter.XYs, len(ps))
	var anom plotter.XYs
	for i, q := range ps {
		x := float64(q.TS.Unix())
		line[i] = plotter.XY{X: x, Y: q.Value}
		if q.Anomaly {
			anom = append(anom, plotter.XY{X: x, Y: q.Value})
		}
	}
	l, err := plotter.NewLine(line)
	if err != nil {
		return "", fmt.Errorf("series: %w", err)
	}
	l.Color = color.RGBA{R: 40, G: 90, B: 160, A: 255}
	l.Width = vg.Points(0.6)
	p.Add(l)
	if len(anom) > 0 {
		s, err := plotter.NewScatter(anom)
		if err != nil {
			return "", fmt.Errorf("anomalies: %w", err)
		}
		s.GlyphStyle.Color = color.RGBA{R: 200, A: 255}
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		s.GlyphStyle.Radius = vg.Points(1.4)
		p.Add(s)
	}
	c := vgsvg.New(6*vg.Inch, 2.6*vg.Inch)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("render svg: %w", err)
	}
	s := buf.String()
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:]
	}
	return s, nil
}

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
