package localrun

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/svm"
)

// Synthetic describes a generated fleet: Devices x Sensors series of Rows readings
// each, 5 s apart, with Gaussian noise and injected anomalies (spikes of about
// 6-10 standard deviations) at rate AnomalyRate.
type Synthetic struct {
	Devices     int
	Sensors     int
	Rows        int
	Noise       float64 // relative noise: standard deviation / level
	AnomalyRate float64
	Seed        uint64
	Start       time.Time // first TS; zero means 2018-08-28T23:00:05Z
}

var fleetSpec = regexp.MustCompile(`^(\d+)[xX](\d+)$`)

// ParseFleet parses "DEVICESxSENSORS", e.g. "100x10".
func ParseFleet(s string) (devices, sensors int, err error) {
	m := fleetSpec.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, fmt.Errorf("fleet %q: want DEVICESxSENSORS, e.g. 100x10", s)
	}
	devices, _ = strconv.Atoi(m[1])
	sensors, _ = strconv.Atoi(m[2])
	if devices < 1 || sensors < 1 || devices*sensors > 1_000_000 {
		return 0, 0, fmt.Errorf("fleet %q: want 1 to 1,000,000 sensors in all", s)
	}
	return devices, sensors, nil
}

// Validate checks the parameters.
func (s Synthetic) Validate() error {
	switch {
	case s.Devices < 1 || s.Sensors < 1:
		return fmt.Errorf("synthetic fleet %dx%d: want at least one device and sensor", s.Devices, s.Sensors)
	case s.Rows < 10:
		return fmt.Errorf("synthetic rows %d: want at least 10 per sensor", s.Rows)
	case !(s.Noise > 0) || s.Noise > 1:
		return fmt.Errorf("synthetic noise %v: want (0, 1]", s.Noise)
	case s.AnomalyRate < 0 || s.AnomalyRate > 0.5:
		return fmt.Errorf("synthetic anomaly rate %v: want [0, 0.5]", s.AnomalyRate)
	}
	return nil
}

func (s Synthetic) start() time.Time {
	if s.Start.IsZero() {
		return time.Date(2018, 8, 28, 23, 0, 5, 0, time.UTC)
	}
	return s.Start.UTC().Truncate(5 * time.Second)
}

// level is a sensor's normal value and noise.
func (s Synthetic) level(d, k int) (mu, sigma float64) {
	mu = 10 + float64((d*7+k*13)%90)
	return mu, mu * s.Noise
}

// Keys returns the fleet's sensor keys, devices and sensors numbered from 1.
func (s Synthetic) Keys() []sensor.Key {
	keys := make([]sensor.Key, 0, s.Devices*s.Sensors)
	for d := 1; d <= s.Devices; d++ {
		for k := 1; k <= s.Sensors; k++ {
			keys = append(keys, sensor.Key{Device: strconv.Itoa(d), Sensor: strconv.Itoa(k)})
		}
	}
	return keys
}

// Readings generates the readings, ordered by time, then device, then sensor.
// Values are rounded to 2 decimals, as the reference's are.
func (s Synthetic) Readings() []sensor.Reading {
	r := rand.New(rand.NewPCG(s.Seed, 0x5eed))
	t0 := s.start()
	out := make([]sensor.Reading, 0, s.Devices*s.Sensors*s.Rows)
	for i := 0; i < s.Rows; i++ {
		ts := t0.Add(time.Duration(i) * 5 * time.Second)
		for d := 1; d <= s.Devices; d++ {
			for k := 1; k <= s.Sensors; k++ {
				mu, sigma := s.level(d, k)
				v := mu + sigma*r.NormFloat64()
				if r.Float64() < s.AnomalyRate {
					sign := 1.0
					if r.IntN(2) == 0 {
						sign = -1
					}
					v = mu + sign*sigma*(6+4*r.Float64())
				}
				v = math.Round(v*100) / 100
				out = append(out, sensor.Reading{TS: ts, Key: sensor.Key{Device: strconv.Itoa(d), Sensor: strconv.Itoa(k)}, Value: v})
			}
		}
	}
	return out
}

// Models fits one model per sensor, in the project's JSON model format, keyed by
// blob name model_{device}_{sensor}.json, as batchscore train fits them (svm.Fit):
// a standard scaler and an RBF one-class SVM with gamma 0.01 (the reference
// models' gamma) and nu 0.01, fitted on a clean training sample of 1,000
// readings at the sensor's level and noise (rounded like the readings), so that
// about 1 % of normal readings fall outside the boundary and 6-10 sigma spikes
// are anomalies.
func (s Synthetic) Models() (map[string][]byte, error) {
	return s.models(runtime.GOMAXPROCS(0))
}

// models is Models fitting on workers goroutines. The training samples are
// drawn from the one random source first, in sensor order, so the models do not
// depend on workers.
func (s Synthetic) models(workers int) (map[string][]byte, error) {
	r := rand.New(rand.NewPCG(s.Seed^0xabcdef, 7))
	const ntrain = 1000
	keys := s.Keys()
	trains := make([][][]float64, len(keys))
	for i, key := range keys {
		d, _ := strconv.Atoi(key.Device)
		k, _ := strconv.Atoi(key.Sensor)
		mu, sigma := s.level(d, k)
		train := make([][]float64, ntrain)
		for j := range train {
			train[j] = []float64{math.Round((mu+sigma*r.NormFloat64())*100) / 100}
		}
		trains[i] = train
	}
	opts := svm.FitOptions{TrainParams: svm.TrainParams{Kernel: svm.RBF, Nu: 0.01, Workers: 1}, Gamma: "0.01", Scale: true}
	blobs := make([][]byte, len(keys))
	var g errgroup.Group
	g.SetLimit(max(workers, 1))
	for i, key := range keys {
		g.Go(func() error {
			m, _, err := svm.Fit(trains[i], opts)
			if err != nil {
				return fmt.Errorf("model %s: %w", key, err)
			}
			var buf bytes.Buffer
			if err := svm.WriteJSON(&buf, m); err != nil {
				return fmt.Errorf("model %s: %w", key, err)
			}
			blobs[i] = buf.Bytes()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(keys))
	for i, key := range keys {
		out[key.ModelName()+".json"] = blobs[i]
	}
	return out, nil
}
