package sensor

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWindowEnd(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse("2006-01-02 15:04:05.000", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		ts    string
		width time.Duration
		want  string
	}{
		{"2018-08-28 23:00:05.000", 5 * time.Second, "2018-08-28 23:00:05.000"}, // closed at the end
		{"2018-08-28 23:00:05.001", 5 * time.Second, "2018-08-28 23:00:10.000"}, // open at the start
		{"2018-08-28 23:00:00.000", 5 * time.Second, "2018-08-28 23:00:00.000"},
		{"2018-08-28 23:00:01.999", 5 * time.Second, "2018-08-28 23:00:05.000"},
		{"2018-08-28 23:59:59.500", time.Minute, "2018-08-29 00:00:00.000"},
		{"2018-08-29 00:00:00.000", time.Hour, "2018-08-29 00:00:00.000"},
	}
	for _, tt := range tests {
		t.Run(tt.ts+"/"+tt.width.String(), func(t *testing.T) {
			got := WindowEnd(at(tt.ts), tt.width)
			if want := at(tt.want); !got.Equal(want) {
				t.Errorf("WindowEnd = %s, want %s", got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
			}
		})
	}
}

func TestParseModelName(t *testing.T) {
	tests := []struct {
		name string
		want Key
		ok   bool
	}{
		{"model_1_1", Key{"1", "1"}, true},
		{"model_3_5", Key{"3", "5"}, true},
		{"model_pump-7_temp.pkl", Key{"pump-7", "temp"}, true},
		{"model_a_b_c.joblib", Key{"a_b", "c"}, false}, // device may not hold '_'
		{"model_1_2.json", Key{"1", "2"}, true},
		{"model_1_", Key{}, false},
		{"model__1", Key{}, false},
		{"model_1", Key{}, false},
		{"models/model_1_1", Key{}, false},
		{"scaler_1_1", Key{}, false},
		{"", Key{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseModelName(tt.name)
			if ok != tt.ok {
				t.Fatalf("ParseModelName(%q) ok = %v, want %v", tt.name, ok, tt.ok)
			}
			if ok {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got)\n%s", diff)
				}
				if back, _ := ParseModelName(got.ModelName()); back != got {
					t.Errorf("ModelName round trip: %v -> %q -> %v", got, got.ModelName(), back)
				}
			}
		})
	}
}

func TestKeyValidate(t *testing.T) {
	tests := []struct {
		key     Key
		wantErr bool
	}{
		{Key{"1", "1"}, false},
		{Key{"dev-1", "temp.c"}, false},
		{Key{"", "1"}, true},
		{Key{"1", ""}, true},
		{Key{"a_b", "1"}, true},
		{Key{"a/b", "1"}, true},
		{Key{"a b", "1"}, true},
		{Key{"1", "x,y"}, true},
		{Key{string(make([]byte, 65)), "1"}, true},
	}
	for _, tt := range tests {
		if err := tt.key.Validate(); (err != nil) != tt.wantErr {
			t.Errorf("Validate(%q) = %v, wantErr %v", tt.key, err, tt.wantErr)
		}
	}
}

func TestWindowRunIDAndValidate(t *testing.T) {
	start := time.Date(2018, 8, 28, 23, 0, 0, 0, time.UTC)
	end := time.Date(2018, 8, 29, 3, 15, 0, 0, time.UTC)
	tests := []struct {
		w       Window
		wantID  string
		wantErr bool
	}{
		{Window{start, end}, "20180828T230000Z-20180829T031500Z", false},
		{Window{start.In(time.FixedZone("x", 3600)), end}, "20180828T230000Z-20180829T031500Z", false},
		{Window{start, end.Add(250 * time.Millisecond)}, "20180828T230000Z-20180829T031500.250Z", false},
		{Window{end, start}, "", true},
		{Window{start, start}, "", true},
		{Window{time.Time{}, end}, "", true},
	}
	for _, tt := range tests {
		err := tt.w.Validate()
		if (err != nil) != tt.wantErr {
			t.Errorf("Validate(%v) = %v, wantErr %v", tt.w, err, tt.wantErr)
		}
		if err == nil && tt.w.RunID() != tt.wantID {
			t.Errorf("RunID = %q, want %q", tt.w.RunID(), tt.wantID)
		}
	}
}

func TestWakeMessage(t *testing.T) {
	for _, run := range []string{"20180828T230000Z-20180829T000000Z", `a"b\c`} {
		text := WakeMessage(run)
		var j Job
		if err := json.Unmarshal([]byte(text), &j); err != nil {
			t.Fatalf("WakeMessage(%q) = %s: %v", run, text, err)
		}
		if j.Run != run || !j.Wake || len(j.Sensors) != 0 || !j.Window.Start.IsZero() {
			t.Errorf("WakeMessage(%q) = %s decodes to %+v", run, text, j)
		}
	}
	if got, want := WakeMessage("r1"), `{"run":"r1","wake":true}`; got != want {
		t.Errorf("WakeMessage = %s, want %s", got, want)
	}
	// A real job's encoding does not change: wake is omitted when false.
	b, err := json.Marshal(Job{Run: "r1", Sensors: []JobEntry{}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "wake") {
		t.Errorf("a job encodes with a wake field: %s", b)
	}
}
