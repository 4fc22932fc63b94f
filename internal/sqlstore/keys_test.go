package sqlstore

import (
	"slices"
	"testing"

	"github.com/batchscore/batchscore/internal/sensor"
)

func TestKeys(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		const base = 1535497200000
		a, b, c := sensor.Key{Device: uniq + "a", Sensor: "2"}, sensor.Key{Device: uniq + "a", Sensor: "10"}, sensor.Key{Device: uniq + "b", Sensor: "1"}
		rs := []sensor.StoredReading{
			reading(uniq, 1, 0, b, base+1000, 1),
			reading(uniq, 1, 1, a, base+5000, 2), // at the end: inside
			reading(uniq, 1, 2, a, base+2000, 3), // twice: listed once
			reading(uniq, 1, 3, c, base, 4),      // at the start: outside
		}
		if _, err := s.InsertReadings(t.Context(), rs); err != nil {
			t.Fatal(err)
		}
		got, err := s.Keys(t.Context(), sensor.Window{Start: ms(base), End: ms(base + 5000)})
		if err != nil {
			t.Fatal(err)
		}
		var mine []sensor.Key // a shared SQL Server may hold other tests' keys
		for _, k := range got {
			if k == a || k == b || k == c {
				mine = append(mine, k)
			}
		}
		if want := []sensor.Key{b, a}; !slices.Equal(mine, want) {
			t.Errorf("Keys = %v, want %v (ordered by device, then sensor as text)", mine, want)
		}
		if _, err := s.Keys(t.Context(), sensor.Window{Start: ms(base), End: ms(base)}); err == nil {
			t.Error("Keys accepted an empty window")
		}
	})
}
