package proccpu

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       time.Duration
		err        bool
	}{
		{"plain", "1234 (node) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 36 0 0 20 0 11 0 5000 1000000 5000", 2860 * time.Millisecond, false},
		{"name with spaces and parentheses", "77 (my (odd) proc) R 1 77 77 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1", 100 * time.Millisecond, false},
		{"no name", "77 node R 1", 0, true},
		{"cut short", "77 (node) R 1 2 3", 0, true},
		{"not a number", "77 (node) R 1 77 77 0 -1 0 0 0 0 0 x 3 0", 0, true},
	} {
		got, err := parseStat([]byte(tc.line))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%s: parseStat = %v, %v; want %v, error %t", tc.name, got, err, tc.want, tc.err)
		}
	}
}

// TestOf reads this test process's own CPU time, which grows as it works.
func TestOf(t *testing.T) {
	before, err := Of(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := Of(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("CPU time %v after spinning 50 ms, %v before", after, before)
	}
	if _, err := Of(-1); err == nil {
		t.Error("Of(-1) succeeded")
	}
}
