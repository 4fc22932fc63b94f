package localrun

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// modelDigest lists the models' blob names with the SHA-256 of their bytes.
func modelDigest(models map[string][]byte) string {
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s %x\n", n, sha256.Sum256(models[n]))
	}
	return b.String()
}

// The synthetic models are the same bytes whatever the number of fitting
// workers, and the same as the one-worker fit recorded in the golden file.
func TestSyntheticModelsDeterministic(t *testing.T) {
	s := Synthetic{Devices: 3, Sensors: 4, Rows: 100, Noise: 0.05, AnomalyRate: 0.01, Seed: 1}
	one, err := s.models(1)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "synthetic-models-3x4.golden"), []byte(modelDigest(one)), *update)
	for _, workers := range []int{2, 5, 12} {
		t.Run(fmt.Sprint(workers, " workers"), func(t *testing.T) {
			got, err := s.models(workers)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := modelDigest(got), modelDigest(one); g != w {
				t.Errorf("models differ from the one-worker fit:\n got %s\nwant %s", g, w)
			}
		})
	}
}

// EventBodies of a fleet large enough to be formatted on several goroutines
// gives the bytes and times the sequential code gave (the golden file).
func TestEventBodiesFleet(t *testing.T) {
	s := Synthetic{Devices: 7, Sensors: 3, Rows: 800, Noise: 0.05, AnomalyRate: 0.01, Seed: 2}
	bodies, times := EventBodies(s.Readings())
	if len(bodies) != 7*800 || len(times) != len(bodies) {
		t.Fatalf("%d bodies, %d times; want %d", len(bodies), len(times), 7*800)
	}
	h := sha256.New()
	for i, b := range bodies {
		fmt.Fprintf(h, "%d %s %s\n", i, times[i].Format(time.RFC3339Nano), b)
	}
	got := fmt.Sprintf("%d events, first %s\nlast %s\nsha256 %x\n", len(bodies), bodies[0], bodies[len(bodies)-1], h.Sum(nil))
	golden.Check(t, filepath.Join("testdata", "event-bodies-7x3.golden"), []byte(got), *update)
}
