package localrun

import (
	"strings"
	"testing"
)

// Downsampling keeps each pixel column's minimum and maximum, so a one-point
// spike among 5,000 points still reaches its height in the plot.
func TestMinMaxColumnsKeepsSpikes(t *testing.T) {
	n := 5000
	xs, ys := make([]float64, n), make([]float64, n)
	for i := range n {
		xs[i], ys[i] = float64(i), float64(i%7)
	}
	ys[2345] = 100
	cols := minMaxColumns(xs, ys, 0, float64(n-1))
	if len(cols) != plotW {
		t.Fatalf("%d columns, want %d", len(cols), plotW)
	}
	total, top := 0, 0.0
	for _, c := range cols {
		total += c.n
		top = max(top, c.max)
	}
	if total != n || top != 100 {
		t.Errorf("columns hold %d points with top %v, want %d and the spike 100", total, top, n)
	}
	svg := string(svgPlot(series{title: "s", xs: xs, ys: ys, yfmt: shortFloat}, 0, float64(n-1)))
	path := svg[strings.Index(svg, `<path d="M`)+len(`<path d="`):]
	path = path[:strings.Index(path, `"`)]
	if k := strings.Count(path, "l") + strings.Count(path, "v") + 1; k > 2*plotW {
		t.Errorf("path has %d points, want at most two per column (%d)", k, 2*plotW)
	}
}

func TestTickStep(t *testing.T) {
	for span, want := range map[float64]float64{300: 60, 3600: 900, 15120: 3600, 3 * 86400: 6 * 3600, 60 * 86400: 6 * 86400} {
		if got := tickStep(span); got != want {
			t.Errorf("tickStep(%v) = %v, want %v", span, got, want)
		}
	}
}
