// Package runstatus is the core of the run-status function: an HTTP GET that
// reports the progress of a scoring run from the runs and outcomes tables.
//
// Trigger: httpTrigger, GET, with the http output binding "res".
// GET ?run=ID reports that run; without run (or run=latest) it reports the
// most recently registered scoring run (timer or backfill), and run=latest-train
// the most recent run of the train function (sensor.TrainRunPrefix), so that a
// model refit does not hide the latest scores. The answer is 200 with a Status document:
//
//	{"run":"20180828T230000Z-20180829T031500Z",
//	 "window":{"start":"...","end":"..."},"created":"...",
//	 "scheduled":false,"fanned_out":"...","ingest":{"oldest":"...","newest":"..."},
//	 "total":15,"done":13,"empty":1,"failed":0,"poisoned":1,"running":0,"pending":0,
//	 "complete":true,"rows":17768,"anomalies":6757,
//	 "slowest":[{"device":"1","sensor":"1","status":"done","rows":1279,"anomalies":12,
//	             "attempts":1,"duration_ms":8,"blob":"..."}],
//	 "failures":[{"device":"2","sensor":"3","status":"poisoned","attempts":5,
//	              "error":"model blob models/model_2_3 not found: ..."}]}
//
// total is the number of sensors fan-out enqueued (or the outcomes seen, if
// more); pending counts sensors without any outcome yet; complete is true when
// every sensor reached a final status (done, empty or poisoned); slowest are
// the five slowest done sensors, failures up to MaxFailures failed or poisoned
// ones with their last error. An unknown
// run, or no run at all, answers 404; another method answers 405. A failing
// store is transient (500). The function only reads.
package runstatus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/health"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
)

// SummaryStore reads run progress (sqlstore.Store). Unknown runs give errors
// wrapping sqlstore.ErrNotFound.
type SummaryStore interface {
	RunSummary(ctx context.Context, run string) (sqlstore.Summary, error)
	LatestRun(ctx context.Context, train bool) (sensor.Run, error)
	Outcomes(ctx context.Context, run string) ([]sensor.Outcome, error)
}

// Function answers status requests. It is safe for concurrent use.
type Function struct {
	store SummaryStore
}

// New returns the function.
func New(store SummaryStore) *Function { return &Function{store: store} }

// Status is the answer's body.
type Status struct {
	Run     string        `json:"run"`
	Window  sensor.Window `json:"window"`
	Created time.Time     `json:"created"`
	// Scheduled is true for a run of the timer (false for a backfill).
	Scheduled bool `json:"scheduled"`
	// FannedOut is when every message was enqueued; absent while fan-out
	// has not finished (or failed half-way).
	FannedOut *time.Time `json:"fanned_out,omitempty"`
	// Ingest is how far ingest had got at fan-out: every partition was
	// stored up to ingest.oldest (enqueued time). Readings of the window
	// enqueued after it may be missing when oldest is before the window end.
	Ingest    sensor.IngestMark `json:"ingest,omitzero"`
	Total     int               `json:"total"`
	Done      int               `json:"done"`
	Empty     int               `json:"empty"`
	Failed    int               `json:"failed"`
	Poisoned  int               `json:"poisoned"`
	Running   int               `json:"running"`
	Pending   int               `json:"pending"`
	Complete  bool              `json:"complete"`
	Rows      int               `json:"rows"`
	Anomalies int               `json:"anomalies"`
	Slowest   []Sensor          `json:"slowest"`
	// Failures are up to MaxFailures failed or poisoned sensors with their errors.
	Failures []Sensor `json:"failures"`
	// Unhealthy counts the scored sensors whose model flags (almost) every
	// row or none of many (internal/health); ModelHealth lists up to
	// MaxFailures of them with the verdict in words. A rate that jumps
	// against the sensor's history is judged by score-sensor, which reads
	// that history (a warning line and the model_unhealthy metric).
	Unhealthy   int            `json:"unhealthy"`
	ModelHealth []SensorHealth `json:"model_health"`
}

// SensorHealth is one sensor's model health verdict.
type SensorHealth struct {
	Device string `json:"device"`
	Sensor string `json:"sensor"`
	health.Verdict
}

// MaxFailures bounds Status.Failures.
const MaxFailures = 20

// Sensor is one outcome in Status.Slowest.
type Sensor struct {
	Device     string `json:"device"`
	Sensor     string `json:"sensor"`
	Status     string `json:"status"`
	Rows       int    `json:"rows"`
	Anomalies  int    `json:"anomalies"`
	Attempts   int    `json:"attempts"`
	DurationMs int64  `json:"duration_ms"`
	Blob       string `json:"blob,omitempty"`
	ModelETag  string `json:"model_etag,omitempty"` // the model blob version that scored it
	Error      string `json:"error,omitempty"`
}

// maxRunID bounds the run parameter (run ids are about 35 characters).
const maxRunID = 128

// Run answers one request.
func (f *Function) Run(ctx context.Context, req azfunc.HTTPRequest) (azfunc.HTTPResponse, error) {
	if req.Method != http.MethodGet {
		return azfunc.JSONHTTPResponse(http.StatusMethodNotAllowed, map[string]string{"error": "use GET ?run=ID"})
	}
	id := req.Query["run"]
	if len(id) > maxRunID {
		return azfunc.HTTPResponse{}, azfunc.Permanent(fmt.Errorf("run id longer than %d characters", maxRunID))
	}
	st, err := f.Status(ctx, id)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return azfunc.JSONHTTPResponse(http.StatusNotFound, map[string]string{"error": err.Error()})
	}
	if err != nil {
		return azfunc.HTTPResponse{}, err
	}
	return azfunc.JSONHTTPResponse(http.StatusOK, st)
}

// Latest and LatestTrain are the run ids that name the most recent scoring
// run and the most recent train run.
const (
	Latest      = "latest"
	LatestTrain = "latest-train"
)

// RunID resolves id: "" or Latest is the most recently registered scoring
// run, LatestTrain the most recent train run; any other id is returned as is.
func (f *Function) RunID(ctx context.Context, id string) (string, error) {
	if id != "" && id != Latest && id != LatestTrain {
		return id, nil
	}
	r, err := f.store.LatestRun(ctx, id == LatestTrain)
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// Status returns the progress of run id (see RunID for "", Latest and
// LatestTrain).
func (f *Function) Status(ctx context.Context, id string) (Status, error) {
	id, err := f.RunID(ctx, id)
	if err != nil {
		return Status{}, err
	}
	s, err := f.store.RunSummary(ctx, id)
	if err != nil {
		return Status{}, fmt.Errorf("status of %s: %w", id, err)
	}
	st := Status{
		Run: s.Run.ID, Window: s.Run.Window, Created: s.Run.Created, Scheduled: s.Run.Scheduled, Ingest: s.Run.Ingest,
		Total: s.Total, Done: s.Done, Empty: s.Empty, Failed: s.Failed, Poisoned: s.Poisoned,
		Running: s.Running, Pending: s.Pending, Rows: s.Rows, Anomalies: s.Anomalies,
		Complete: s.Done+s.Empty+s.Poisoned >= s.Total,
		Slowest:  make([]Sensor, 0, len(s.Slowest)),
	}
	if !s.Run.FannedOut.IsZero() {
		st.FannedOut = &s.Run.FannedOut
	}
	for _, o := range s.Slowest {
		st.Slowest = append(st.Slowest, fromOutcome(o))
	}
	st.Failures = []Sensor{}
	st.ModelHealth = []SensorHealth{}
	if s.Failed+s.Poisoned+s.Done > 0 {
		all, err := f.store.Outcomes(ctx, id)
		if err != nil {
			return Status{}, fmt.Errorf("status of %s: %w", id, err)
		}
		for _, o := range all {
			if (o.Status == sensor.StatusFailed || o.Status == sensor.StatusPoisoned) && len(st.Failures) < MaxFailures {
				st.Failures = append(st.Failures, fromOutcome(o))
			}
			if o.Status != sensor.StatusDone {
				continue
			}
			if v := health.Default.Judge(o.Rows, o.Anomalies, nil); !v.Healthy() {
				st.Unhealthy++
				if len(st.ModelHealth) < MaxFailures {
					st.ModelHealth = append(st.ModelHealth, SensorHealth{Device: o.Key.Device, Sensor: o.Key.Sensor, Verdict: v})
				}
			}
		}
	}
	return st, nil
}

func fromOutcome(o sensor.Outcome) Sensor {
	return Sensor{
		Device: o.Key.Device, Sensor: o.Key.Sensor, Status: o.Status, Rows: o.Rows, Anomalies: o.Anomalies,
		Attempts: o.Attempts, DurationMs: o.Duration.Milliseconds(), Blob: o.Blob, ModelETag: o.ModelETag, Error: o.Error,
	}
}
