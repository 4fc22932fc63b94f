package reference

import (
	"testing"

	"github.com/batchscore/batchscore/internal/sensor"
)

// ForTest returns the in-repository reference data, found from the test's
// working directory, and its sensor_data.csv readings; it fails the test when
// either cannot be read.
func ForTest(t testing.TB) (Files, []sensor.Reading) {
	t.Helper()
	ref, err := Find(".")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Readings(ref.Data)
	if err != nil {
		t.Fatal(err)
	}
	return ref, rs
}
