// Package sensor holds the domain types shared by the functions and the adapters:
// readings, sensor keys, scoring windows, scoring jobs and their outcomes.
//
// It has no dependencies beyond the standard library; the function packages
// declare the interfaces they consume, the adapters implement them using these types.
package sensor

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Key identifies one sensor of one device. Both parts are kept as text: the
// reference uses small integers ("1", "2"), other fleets use names.
// Neither part may contain '_' (the model blob naming uses it as separator),
// '/' or whitespace.
type Key struct {
	Device string `json:"device"`
	Sensor string `json:"sensor"`
}

// String returns "device/sensor".
func (k Key) String() string { return k.Device + "/" + k.Sensor }

// Validate reports whether both parts are non-empty and use only allowed characters.
func (k Key) Validate() error {
	for _, p := range []struct{ name, v string }{{"device", k.Device}, {"sensor", k.Sensor}} {
		if p.v == "" {
			return fmt.Errorf("empty %s id", p.name)
		}
		if len(p.v) > 64 {
			return fmt.Errorf("%s id longer than 64 characters", p.name)
		}
		if strings.ContainsAny(p.v, "_/\\ \t\r\n,\"") {
			return fmt.Errorf("%s id %q contains one of _ / \\ , \" or whitespace", p.name, p.v)
		}
	}
	return nil
}

// ModelPrefix is the blob-name prefix of a sensor's model: model_{device}_{sensor}[.ext].
const ModelPrefix = "model_"

// ModelName returns the reference blob name of the key's model, model_{device}_{sensor}.
func (k Key) ModelName() string { return ModelPrefix + k.Device + "_" + k.Sensor }

// ParseModelName reads a sensor key from a model blob name, model_{device}_{sensor}
// with an optional extension (.pkl, .pickle, .joblib, .json, .model, .txt). It splits
// at the last '_' so that the sensor part never contains one.
func ParseModelName(name string) (Key, bool) {
	if strings.Contains(name, "/") || !strings.HasPrefix(name, ModelPrefix) {
		return Key{}, false
	}
	rest := strings.TrimPrefix(name, ModelPrefix)
	for _, ext := range []string{".pkl", ".pickle", ".joblib", ".json", ".model", ".txt"} {
		rest = strings.TrimSuffix(rest, ext)
	}
	i := strings.LastIndexByte(rest, '_')
	if i <= 0 || i == len(rest)-1 {
		return Key{}, false
	}
	k := Key{Device: rest[:i], Sensor: rest[i+1:]}
	if k.Validate() != nil {
		return Key{}, false
	}
	return k, true
}

// Reading is one measurement as a device sent it.
type Reading struct {
	TS    time.Time
	Key   Key
	Value float64
}

// StoredReading is a valid reading with the identity of the event that carried it,
// which makes storing it idempotent: (Source, Sequence, Index) is unique.
type StoredReading struct {
	Reading
	Source   string // "{eventHubName}/{partitionId}"
	Sequence int64  // the event's sequence number in its partition
	Index    int    // position of the reading inside the event body (0 for a single object)
}

// Point is one aggregated value: the average of the readings of one sensor in the
// tumbling window (End-width, End].
type Point struct {
	End   time.Time
	Value float64
	Count int
}

// WindowEnd returns the end of the tumbling window of the given width that holds ts.
// Windows are open at the start and closed at the end, (T-width, T], and aligned to
// the Unix epoch (so to midnight UTC for widths dividing a day), as Azure Stream
// Analytics' TumblingWindow does: a reading at exactly T belongs to the window ending at T.
func WindowEnd(ts time.Time, width time.Duration) time.Time {
	w := width.Milliseconds()
	if w <= 0 {
		panic("sensor: non-positive window width")
	}
	ms := ts.UnixMilli()
	end := ms / w * w
	if end < ms {
		end += w
	}
	return time.UnixMilli(end).UTC()
}

// Window is a scoring window (Start, End]: it holds the aggregated points whose
// window end lies after Start and at or before End.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Validate checks that End is after Start.
func (w Window) Validate() error {
	if w.Start.IsZero() || w.End.IsZero() {
		return errors.New("window start and end are required")
	}
	if !w.End.After(w.Start) {
		return fmt.Errorf("window end %s is not after start %s", w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
	}
	return nil
}

// RunID derives the deterministic run id of a window: the same window always gives
// the same id, so a duplicated timer run produces the same messages and outputs.
// Format: 20180828T230000Z-20180829T031500Z (sub-second parts are kept when present).
func (w Window) RunID() string {
	f := func(t time.Time) string {
		t = t.UTC()
		s := t.Format("20060102T150405")
		if ms := t.Nanosecond() / 1e6; ms != 0 {
			s += fmt.Sprintf(".%03d", ms)
		}
		return s + "Z"
	}
	return f(w.Start) + "-" + f(w.End)
}

// Job is the body of one score-jobs queue message: score these sensors over
// this window. A wake-up message (Wake) carries no work: fan-out returns one
// through the queue output binding only so that the host's queue listener polls
// at once (see WakeMessage); it names the run and lists no sensors.
type Job struct {
	Run     string     `json:"run"`
	Window  Window     `json:"window"`
	Sensors []JobEntry `json:"sensors"`
	Wake    bool       `json:"wake,omitempty"`
}

// WakeMessage is the text of the wake-up message of a run: {"run":...,"wake":true}.
func WakeMessage(run string) string {
	b, _ := json.Marshal(struct {
		Run  string `json:"run"`
		Wake bool   `json:"wake"`
	}{run, true}) // a string and a bool always encode
	return string(b)
}

// JobEntry names one sensor of a job and the model blob that fan-out found for it.
type JobEntry struct {
	Key
	Model string `json:"model"`
	// ModelETag is the model blob's ETag when fan-out listed it (empty when
	// unknown): score-sensor uses a cached model of exactly that version
	// without asking Blob storage again.
	ModelETag string `json:"modelEtag,omitempty"`
}

// Outcome statuses of one (run, sensor).
const (
	StatusRunning  = "running"
	StatusDone     = "done"
	StatusEmpty    = "empty"    // no readings in the window; nothing to score
	StatusFailed   = "failed"   // this attempt failed; the host will retry
	StatusPoisoned = "poisoned" // the last attempt failed; the message goes to the poison queue
)

// Outcome is the record of scoring one sensor in one run.
type Outcome struct {
	Run       string
	Key       Key
	Status    string
	Rows      int
	Anomalies int
	Attempts  int
	Duration  time.Duration
	Blob      string // predictions blob name, when written
	ModelETag string // ETag of the model blob version that scored it (HTTP form, quoted), once read
	Error     string
	Updated   time.Time
}

// Run is a scoring run as fan-out registered it.
type Run struct {
	ID      string
	Window  Window
	Sensors int // how many sensors were enqueued
	Created time.Time
	// Scheduled marks a run of the timer (a backfill's is false): the
	// timer catches up from the latest scheduled run fanned out.
	Scheduled bool
	// FannedOut is when every message of the run was enqueued; zero until
	// then (a fan-out that failed half-way).
	FannedOut time.Time
	// Ingest is how far ingest had got when the run was fanned out.
	Ingest IngestMark
}

// TrainRunPrefix starts the id of a run of the train function
// ("train-{window}"): its outcomes are model fits, not scores.
const TrainRunPrefix = "train-"

// Train reports whether r is a run of the train function (by its id).
func (r Run) Train() bool { return strings.HasPrefix(r.ID, TrainRunPrefix) }

// IngestMark is how far ingest had got: for each Event Hubs partition it has
// stored a batch of within the last day, the latest enqueued time stored;
// Oldest and Newest are the earliest and the latest of those. Every such
// partition had been stored up to Oldest (a partition that receives little
// holds it back). Zero when nothing was ingested within the last day.
type IngestMark struct {
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
}
