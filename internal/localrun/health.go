package localrun

import (
	"fmt"
	"io"

	"github.com/batchscore/batchscore/internal/health"
)

// maxHealthLines bounds the sensors printHealth names.
const maxHealthLines = 20

// printHealth says in words which sensors' models need attention
// (internal/health), or that none does: a model that flags every row looks
// like a bug in the pipeline to a reader who is not told otherwise.
func printHealth(w io.Writer, rs []SensorResult) {
	var bad []SensorResult
	judged := 0
	for _, r := range rs {
		if r.Health.Status == "" {
			continue
		}
		judged++
		if !r.Health.Healthy() {
			bad = append(bad, r)
		}
	}
	if judged == 0 {
		return
	}
	if len(bad) == 0 {
		fmt.Fprintf(w, "model health: all %s scored sensors' models look sound (none flags every row or none)\n", Thousands(judged))
		return
	}
	counts := map[health.Status]int{}
	for _, r := range bad {
		counts[r.Health.Status]++
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
	fmt.Fprintf(w, "model health: %s of %s scored sensors' models need attention (%s); the pipeline scored them correctly, the models themselves are off:\n",
		Thousands(len(bad)), Thousands(judged), detail)
	for i, r := range bad {
		if i == maxHealthLines {
			fmt.Fprintf(w, "  ... and %s more\n", Thousands(len(bad)-maxHealthLines))
			break
		}
		fmt.Fprintf(w, "  sensor %s: %s\n", r.Key, r.Health.Reason)
	}
}
