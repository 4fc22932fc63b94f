package localrun

import (
	"fmt"
	"io"

	"github.com/batchscore/batchscore/internal/health"
	"github.com/batchscore/batchscore/internal/sensor"
)

// maxHealthLines bounds the sensors printHealth names.
const maxHealthLines = 20

// printHealth says in words which sensors' models need attention
// (internal/health), or that none does: a model that flags every row looks
// like a bug in the pipeline to a reader who is not told otherwise.
func printHealth(w io.Writer, rs []SensorResult) {
	type judged struct {
		SensorResult
		v health.Verdict
	}
	var bad []judged
	n := 0
	for _, r := range rs {
		if r.Status != sensor.StatusDone {
			continue
		}
		n++
		if v := health.Default.Judge(r.Rows, r.Anomalies, nil); !v.Healthy() {
			bad = append(bad, judged{r, v})
		}
	}
	if n == 0 {
		return
	}
	if len(bad) == 0 {
		fmt.Fprintf(w, "model health: all %s scored sensors' models look sound (none flags every row or none)\n", Thousands(n))
		return
	}
	counts := map[health.Status]int{}
	for _, r := range bad {
		counts[r.v.Status]++
	}
	detail := ""
	for _, s := range []health.Status{health.FlagsAll, health.FlagsNone, health.Jump} {
		if counts[s] > 0 {
			if detail != "" {
				detail += ", "
			}
			detail += fmt.Sprintf("%s %s", Thousands(counts[s]), s)
		}
	}
	fmt.Fprintf(w, "model health: %s of %s scored sensors' models need attention (%s); the pipeline scored them correctly, the models themselves are off (the report gives each one's likely cause):\n",
		Thousands(len(bad)), Thousands(n), detail)
	for i, r := range bad {
		if i == maxHealthLines {
			fmt.Fprintf(w, "  ... and %s more\n", Thousands(len(bad)-maxHealthLines))
			break
		}
		fmt.Fprintf(w, "  sensor %s: %s\n", r.Key, r.v.Reason)
	}
}
