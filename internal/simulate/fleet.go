package simulate

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
)

// Range is the interval a sensor's normal readings fall in.
type Range struct{ Lo, Hi float64 }

// SensorRange is one sensor id's range, as Ranges derives it.
type SensorRange struct {
	Sensor string
	Range
}

// Ranges derives each sensor id's normal range from readings: the smallest
// and largest value of that sensor over all devices. In the reference data
// every sensor's values are spread evenly over such a range (sensor 1 over
// 10-15, sensor 2 over 30-40, ...), the same on every device. The result is
// ordered by sensor id, numerically when the ids are numbers.
func Ranges(rs []sensor.Reading) ([]SensorRange, error) {
	idx := map[string]int{}
	var out []SensorRange
	for _, r := range rs {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			continue
		}
		i, ok := idx[r.Key.Sensor]
		if !ok {
			idx[r.Key.Sensor] = len(out)
			out = append(out, SensorRange{Sensor: r.Key.Sensor, Range: Range{r.Value, r.Value}})
			continue
		}
		out[i].Lo, out[i].Hi = min(out[i].Lo, r.Value), max(out[i].Hi, r.Value)
	}
	if len(out) == 0 {
		return nil, errors.New("no readings to take sensor ranges from")
	}
	slices.SortFunc(out, func(a, b SensorRange) int { return compareIDs(a.Sensor, b.Sensor) })
	return out, nil
}

// compareIDs orders numeric ids by value, others as text after them.
func compareIDs(a, b string) int {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		return cmp.Compare(x, y)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return cmp.Compare(a, b)
}

// Fleet is a simulated fleet: Devices devices numbered from 1, each with
// Sensors sensors numbered from 1, every sensor reading once per Interval.
// Sensor j takes the range of Ranges[(j-1) % len(Ranges)], so a fleet of the
// reference's shape (3 x 5 with the reference's ranges) has the reference's
// sensor ids and ranges. A reading is uniform over its range, rounded to two
// decimals as the reference's are; with probability SpikeRate it is instead a
// spike outside the range, 0.5 to 1.5 range-widths above or below it.
type Fleet struct {
	Devices   int
	Sensors   int
	Ranges    []SensorRange
	Interval  time.Duration // between two readings of a sensor; 5 s in the reference
	SpikeRate float64
	Start     time.Time // TS of the first tick
	Seed      uint64
}

// Validate checks the fleet.
func (f Fleet) Validate() error {
	switch {
	case f.Devices < 1 || f.Sensors < 1 || f.Devices*f.Sensors > 1_000_000:
		return fmt.Errorf("fleet %dx%d: want 1 to 1,000,000 sensors in all", f.Devices, f.Sensors)
	case len(f.Ranges) == 0:
		return errors.New("fleet: no sensor ranges")
	case f.Interval < time.Millisecond:
		return fmt.Errorf("interval %v: want at least 1ms", f.Interval)
	case !(f.SpikeRate >= 0 && f.SpikeRate <= 1):
		return fmt.Errorf("spike share %v: want 0 to 1", f.SpikeRate)
	case f.Start.IsZero():
		return errors.New("fleet: no start time")
	}
	for _, r := range f.Ranges {
		if !(r.Lo <= r.Hi) || math.IsInf(r.Lo, 0) || math.IsInf(r.Hi, 0) {
			return fmt.Errorf("sensor %s range [%v, %v] is not an interval", r.Sensor, r.Lo, r.Hi)
		}
	}
	return nil
}

// Key returns the key of device d and sensor s (both from 1).
func (f Fleet) Key(d, s int) sensor.Key {
	return sensor.Key{Device: strconv.Itoa(d), Sensor: strconv.Itoa(s)}
}

// Range returns the normal range of sensor s (from 1).
func (f Fleet) Range(s int) Range { return f.Ranges[(s-1)%len(f.Ranges)].Range }

// Generator yields the fleet's readings tick by tick. The readings depend
// only on the fleet (Seed included) and the tick number.
type Generator struct {
	f   Fleet
	rng *rand.Rand
	n   int
}

// NewGenerator returns a generator at tick 0.
func NewGenerator(f Fleet) *Generator {
	return &Generator{f: f, rng: rand.New(rand.NewPCG(f.Seed, 0x51de))}
}

// Next returns the readings of the next tick, device by device and sensor by
// sensor, and how many of them are spikes.
func (g *Generator) Next() (rs []sensor.Reading, spikes int) {
	f := g.f
	ts := f.Start.Add(time.Duration(g.n) * f.Interval).UTC()
	g.n++
	rs = make([]sensor.Reading, 0, f.Devices*f.Sensors)
	for d := 1; d <= f.Devices; d++ {
		for s := 1; s <= f.Sensors; s++ {
			r := f.Range(s)
			v := r.Lo + (r.Hi-r.Lo)*g.rng.Float64()
			if f.SpikeRate > 0 && g.rng.Float64() < f.SpikeRate {
				width := max(r.Hi-r.Lo, 0.1) // a spike stays outside after rounding
				off := width * (0.5 + g.rng.Float64())
				if g.rng.IntN(2) == 0 {
					v = r.Hi + off
				} else {
					v = r.Lo - off
				}
				spikes++
			}
			v = math.Round(v*100) / 100
			rs = append(rs, sensor.Reading{TS: ts, Key: f.Key(d, s), Value: v})
		}
	}
	return rs, spikes
}

// Outside reports whether v lies outside sensor s's range: a spike.
func (f Fleet) Outside(s int, v float64) bool {
	r := f.Range(s)
	return v < r.Lo || v > r.Hi
}
