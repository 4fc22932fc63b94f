package localrun

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// The report's plots are small inline SVG drawn here rather than with a plotting
// library: at most two points per pixel column, integer pixel coordinates and
// one path per series keep a sensor's two plots to a few kilobytes, so a report
// of 100 sensors stays well under 1 MB.

// plotW and plotH are the plotting area in pixels; the margins hold the axes.
const (
	plotW, plotH            = 360, 100
	marginL, marginR        = 64, 12
	marginT, marginB        = 8, 34
	svgW, svgH              = plotW + marginL + marginR, plotH + marginT + marginB
	anomalyColor, lineColor = "#c0392b", "#1f5fa8"
	thresholdColor          = "#555"
)

// maxDots is the most pixel columns with flagged points that still get a dot
// each; beyond it the rug alone shows where they are.
const maxDots = 80

// column is the min/max of the points that fall in one pixel column (the
// downsampling method the report names: min/max per pixel column, which keeps
// every spike visible while drawing at most two points per column).
type column struct {
	min, max float64
	n        int
}

// minMaxColumns puts ys (at times xs, seconds) into plotW pixel columns over
// [x0, x1]; a column without points has n == 0.
func minMaxColumns(xs, ys []float64, x0, x1 float64) []column {
	cols := make([]column, plotW)
	span := x1 - x0
	for i, x := range xs {
		c := 0
		if span > 0 {
			c = int((x - x0) / span * float64(plotW-1))
		}
		c = max(0, min(plotW-1, c))
		col := &cols[c]
		if col.n == 0 || ys[i] < col.min {
			col.min = ys[i]
		}
		if col.n == 0 || ys[i] > col.max {
			col.max = ys[i]
		}
		col.n++
	}
	return cols
}

// series is one plot: a line through the values, markers on the flagged ones, and
// optionally a horizontal threshold line.
type series struct {
	title     string
	xs, ys    []float64 // seconds since the epoch, values
	flagged   []bool    // per point: flagged as an anomaly (the rug, and dots with dots)
	dots      bool      // mark each flagged point with a dot when they are few
	threshold *float64  // a dashed line at this y (the decision's 0)
	yfmt      func(float64) string
}

// svgPlot draws s over the time range [t0, t1] (seconds) with a time axis of
// dated hourly (or finer) ticks.
func svgPlot(s series, t0, t1 float64) template.HTML {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, y := range s.ys {
		lo, hi = math.Min(lo, y), math.Max(hi, y)
	}
	if s.threshold != nil {
		lo, hi = math.Min(lo, *s.threshold), math.Max(hi, *s.threshold)
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if hi == lo {
		lo, hi = lo-1, hi+1
	}
	pad := (hi - lo) * 0.05
	lo, hi = lo-pad, hi+pad
	px := func(x float64) int { return marginL + int(math.Round((x-t0)/math.Max(t1-t0, 1)*float64(plotW-1))) }
	py := func(y float64) int { return marginT + int(math.Round((hi-y)/(hi-lo)*float64(plotH))) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		svgW, svgH, svgW, svgH, template.HTMLEscapeString(s.title))
	// Grid lines in one path (class g), tick labels right- (r) or centre- (c)
	// aligned: the report's stylesheet styles them.
	var grid, labels strings.Builder
	for i := 0; i <= 2; i++ {
		y := lo + pad + (hi-lo-2*pad)*float64(i)/2
		if math.Abs(y) < (hi-lo)*1e-9 {
			y = 0 // not -1e-19 from rounding
		}
		fmt.Fprintf(&grid, "M%d %dh%d", marginL, py(y), plotW)
		fmt.Fprintf(&labels, `<text class="r" x="%d" y="%d">%s</text>`, marginL-4, py(y)+4, template.HTMLEscapeString(s.yfmt(y)))
	}
	// X axis: ticks at round times, the date on the first tick and at each new day.
	step := tickStep(t1 - t0)
	lastDay := ""
	for t := math.Ceil(t0/step) * step; t <= t1; t += step {
		tt := time.Unix(int64(t), 0).UTC()
		x := px(t)
		fmt.Fprintf(&grid, "M%d %dv%d", x, marginT, plotH+4)
		fmt.Fprintf(&labels, `<text class="c" x="%d" y="%d">%s</text>`, x, marginT+plotH+16, tt.Format("15:04"))
		if day := tt.Format("2006-01-02"); day != lastDay {
			fmt.Fprintf(&labels, `<text class="c" x="%d" y="%d">%s</text>`, x, marginT+plotH+30, day)
			lastDay = day
		}
	}
	fmt.Fprintf(&b, `<path class="g" d="%s"/>%s`, grid.String(), labels.String())
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`, marginL, marginT, plotW, plotH)
	if s.threshold != nil {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-dasharray="4 3"/><text x="%d" y="%d" class="thr">threshold %s</text>`,
			marginL, marginL+plotW, py(*s.threshold), py(*s.threshold), thresholdColor, marginL+4, py(*s.threshold)-3, s.yfmt(*s.threshold))
	}
	// The series: min/max per pixel column, drawn as one thin path (a vertical
	// stroke within a column, then on to the next column).
	cols := minMaxColumns(s.xs, s.ys, t0, t1)
	var d pen
	for c, col := range cols {
		if col.n > 0 {
			d.to('l', marginL+c, py(col.min))
			if py(col.max) != py(col.min) {
				d.vertical(py(col.max))
			}
		}
	}
	fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1"/>`, d.String(), lineColor)
	// Flagged points: a red rug along the bottom of the plot under every pixel
	// column that holds one (runs of columns merged into one stroke), and, where
	// they are few (at most maxDots columns) and s.dots is set, a dot on each,
	// also min/max per column: a zero-length segment with a round cap is a dot.
	var fx, fy []float64
	for i, f := range s.flagged {
		if f {
			fx, fy = append(fx, s.xs[i]), append(fy, s.ys[i])
		}
	}
	if len(fx) > 0 {
		fcols := minMaxColumns(fx, fy, t0, t1)
		var rug strings.Builder
		used := 0
		for c := 0; c < len(fcols); c++ {
			if fcols[c].n == 0 {
				continue
			}
			start := c
			for c+1 < len(fcols) && fcols[c+1].n > 0 {
				c++
			}
			used += c - start + 1
			fmt.Fprintf(&rug, "M%d %dh%d", marginL+start, marginT+plotH-2, c-start+1)
		}
		fmt.Fprintf(&b, `<path d="%s" stroke="%s" stroke-width="4"/>`, rug.String(), anomalyColor)
		if s.dots && used <= maxDots {
			var m pen
			for c, col := range fcols {
				if col.n == 0 {
					continue
				}
				m.to('m', marginL+c, py(col.min))
				m.WriteString("h0")
				if py(col.max) != py(col.min) {
					m.to('m', marginL+c, py(col.max))
					m.WriteString("h0")
				}
			}
			fmt.Fprintf(&b, `<path d="%s" stroke="%s" stroke-width="5" stroke-linecap="round"/>`, m.String(), anomalyColor)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// tickStep picks the spacing of the time axis ticks (seconds) for a span: at most
// 8 ticks of 1 to 30 minutes, else hourly up to 18 hours, then coarser.
func tickStep(span float64) float64 {
	for _, s := range []float64{60, 300, 900, 1800} {
		if span <= s*8 {
			return s
		}
	}
	for _, s := range []float64{3600, 3 * 3600, 6 * 3600, 12 * 3600} {
		if span <= s*18 {
			return s
		}
	}
	return 86400 * math.Ceil(span/86400/10)
}

// shortFloat formats an axis value in at most 3 significant digits.
func shortFloat(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// signed writes a path number after another one: a negative number needs no
// separator (its minus sign is one), a positive one a space.
func signed(v int) string {
	if v < 0 {
		return strconv.Itoa(v)
	}
	return " " + strconv.Itoa(v)
}

// pen writes an SVG path with relative commands after the first point: "M x y",
// then cmd dx dy (cmd 'l' draws to the point, 'm' moves to it).
type pen struct {
	strings.Builder
	x, y    int
	started bool
}

func (p *pen) to(cmd byte, x, y int) {
	if !p.started {
		fmt.Fprintf(p, "M%d %d", x, y)
		p.started = true
	} else {
		fmt.Fprintf(p, "%c%d%s", cmd, x-p.x, signed(y-p.y))
	}
	p.x, p.y = x, y
}

func (p *pen) vertical(y int) {
	fmt.Fprintf(p, "v%d", y-p.y)
	p.y = y
}
