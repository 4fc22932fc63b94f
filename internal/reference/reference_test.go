package reference

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
)

func TestFindAndReadTheInRepoCopy(t *testing.T) {
	ref, err := Find(".")
	if err != nil {
		t.Fatal(err)
	}
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "internal", "svm", "testdata", "reference", "sensor_data.csv"); ref.Data != want {
		t.Errorf("Data = %s, want the in-repository copy %s", ref.Data, want)
	}
	rs, err := Readings(ref.Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 17768 {
		t.Fatalf("%d readings, want 17,768", len(rs))
	}
	first := sensor.Reading{TS: time.Date(2018, 8, 28, 23, 0, 5, 0, time.UTC), Key: sensor.Key{Device: "1", Sensor: "1"}, Value: 10.16}
	if rs[0] != first {
		t.Errorf("first reading %+v, want %+v", rs[0], first)
	}
}

func TestReadReadings(t *testing.T) {
	ts := time.Date(2018, 8, 28, 23, 0, 5, 0, time.UTC)
	tests := []struct {
		name    string
		csv     string
		want    []sensor.Reading
		wantErr string
	}{
		{"reference layout", "TS,Device,Sensor,Value\n2018-08-28 23:00:05.000,1,2,3.5\n",
			[]sensor.Reading{{TS: ts, Key: sensor.Key{Device: "1", Sensor: "2"}, Value: 3.5}}, ""},
		{"columns by name, BOM, RFC 3339 with zone", "\ufeffValue, sensor ,Device,TS\n3.5,2,1,2018-08-29T00:00:05+01:00\n",
			[]sensor.Reading{{TS: ts, Key: sensor.Key{Device: "1", Sensor: "2"}, Value: 3.5}}, ""},
		{"no milliseconds", "TS,Device,Sensor,Value\n2018-08-28 23:00:05,1,2,3.5\n",
			[]sensor.Reading{{TS: ts, Key: sensor.Key{Device: "1", Sensor: "2"}, Value: 3.5}}, ""},
		{"missing column", "TS,Device,Value\n", nil, "no Sensor column"},
		{"bad time", "TS,Device,Sensor,Value\nyesterday,1,2,3\n", nil, "line 2: timestamp \"yesterday\""},
		{"bad value", "TS,Device,Sensor,Value\n2018-08-28 23:00:05.000,1,2,x\n", nil, "line 2: value"},
		{"bad key", "TS,Device,Sensor,Value\n2018-08-28 23:00:05.000,1_1,2,3\n", nil, "line 2: device id"},
		{"empty", "", nil, "read header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadReadings(strings.NewReader(tt.csv))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if !got[i].TS.Equal(tt.want[i].TS) || got[i].Key != tt.want[i].Key || got[i].Value != tt.want[i].Value {
					t.Errorf("reading %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
