package localrun

import (
	"bytes"
	"testing"

	"github.com/batchscore/batchscore/internal/sensor"
)

func TestPrintHealth(t *testing.T) {
	done := func(dev string, rows, anom int) SensorResult {
		return SensorResult{Key: sensor.Key{Device: dev, Sensor: "1"}, Status: sensor.StatusDone, Rows: rows, Anomalies: anom}
	}
	for _, test := range []struct {
		name string
		rs   []SensorResult
		want string
	}{
		{"nothing scored", []SensorResult{{Status: sensor.StatusEmpty}}, ""},
		{"all sound", []SensorResult{done("1", 1000, 30), done("2", 10, 10)},
			"model health: all 2 scored sensors' models look sound (none flags every row or none)\n"},
		{"two off", []SensorResult{done("1", 1184, 1184), done("2", 1000, 30), done("3", 500, 0)},
			"model health: 2 of 3 scored sensors' models need attention (1 flags-all, 1 flags-none); the pipeline scored them correctly, the models themselves are off (the report gives each one's likely cause):\n" +
				"  sensor 1/1: the model flags 100 % of 1184 rows as anomalies: a model that flags everything says nothing about this sensor (a degenerate boundary, such as nu times the training rows below 1, or readings unlike its training data); check the model before trusting its predictions\n" +
				"  sensor 3/1: the model flags none of 500 rows: its boundary encloses everything this sensor sends, so it would miss real anomalies too; check nu and gamma\n"},
	} {
		var b bytes.Buffer
		printHealth(&b, test.rs)
		if b.String() != test.want {
			t.Errorf("%s:\n%s\nwant:\n%s", test.name, b.String(), test.want)
		}
	}
}
