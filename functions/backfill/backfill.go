// Package backfill is the core of the backfill function: an HTTP POST that
// fans out an explicit scoring window, for windows the timer missed or for
// re-scoring after a model change.
//
// Trigger: httpTrigger, POST, with the http output binding "res" (the host
// wraps the request; internal/azfunc decodes it into azfunc.HTTPRequest). The
// body is
//
//	{"start":"2018-08-28T23:00:00Z","end":"2018-08-29T03:15:00Z"}
//
// with RFC 3339 times (a zone is required; fractions are kept to the
// millisecond in the run id). The window (start, end] must be non-empty, end
// may not lie in the future, and the window may be at most Config.MaxWindow
// long. The answer is 202 Accepted with {"run","window","sensors","messages"}:
// the jobs are queued, and run-status follows their progress.
//
// Idempotency: the run id is the window's (sensor.Window.RunID), and the
// messages are byte-identical for the same window and models, so posting the
// same window twice re-scores it into the same blobs. Invalid requests are
// permanent errors (the handler answers 400 with the reason); a failing
// listing, run registration or enqueue is transient (500: post again).
package backfill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	timerfanout "github.com/batchscore/batchscore/functions/timer-fanout"
	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
)

// FanOut registers and enqueues the run of a window (timerfanout.Function).
type FanOut interface {
	RunWindow(ctx context.Context, w sensor.Window) (timerfanout.Result, error)
}

// Config is the function's configuration.
type Config struct {
	MaxWindow time.Duration // longest window accepted, default 31 days
	// Now is the clock that rejects future windows; nil means time.Now.
	Now func() time.Time
}

// Function answers backfill requests. It is safe for concurrent use.
type Function struct {
	cfg Config
	fan FanOut
}

// New returns the function.
func New(cfg Config, fan FanOut) *Function {
	if cfg.MaxWindow <= 0 {
		cfg.MaxWindow = 31 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Function{cfg: cfg, fan: fan}
}

// Request is the body of a backfill POST.
type Request struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Response is the body of a successful answer.
type Response struct {
	Run      string        `json:"run"`
	Window   sensor.Window `json:"window"`
	Sensors  int           `json:"sensors"`
	Messages int           `json:"messages"`
}

// maxBody bounds the request body: it holds two timestamps.
const maxBody = 4 << 10

// Run validates the request, fans the window out and answers 202 with a
// Response, and with the run's wake-up message for the queue output binding
// (timerfanout.Result.WakeMessage; "" when no job was enqueued). Invalid
// requests give permanent errors (400).
func (f *Function) Run(ctx context.Context, req azfunc.HTTPRequest) (resp azfunc.HTTPResponse, wake string, err error) {
	if req.Method != http.MethodPost {
		resp, err = azfunc.JSONHTTPResponse(http.StatusMethodNotAllowed, map[string]string{"error": "use POST with {\"start\":RFC3339,\"end\":RFC3339}"})
		return resp, "", err
	}
	w, err := f.ParseWindow(req.Body)
	if err != nil {
		return azfunc.HTTPResponse{}, "", azfunc.Permanent(err)
	}
	res, err := f.fan.RunWindow(ctx, w)
	if err != nil {
		return azfunc.HTTPResponse{}, "", fmt.Errorf("backfill %s: %w", w.RunID(), err)
	}
	if inv := azfunc.FromContext(ctx); inv != nil && inv.Logger != nil {
		inv.Logger.Info("backfill queued", "run", res.Run, "sensors", res.Sensors, "messages", res.Messages)
	}
	resp, err = azfunc.JSONHTTPResponse(http.StatusAccepted, Response{Run: res.Run, Window: res.Window, Sensors: res.Sensors, Messages: res.Messages})
	if err != nil {
		return resp, "", err
	}
	return resp, res.WakeMessage(), nil
}

// ParseWindow decodes and validates a request body.
func (f *Function) ParseWindow(body []byte) (sensor.Window, error) {
	if len(body) > maxBody {
		return sensor.Window{}, fmt.Errorf("body of %d bytes is larger than %d", len(body), maxBody)
	}
	var r Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return sensor.Window{}, fmt.Errorf(`body must be {"start":RFC3339,"end":RFC3339}: %w`, err)
	}
	if dec.More() {
		return sensor.Window{}, errors.New("trailing data after the JSON object")
	}
	var w sensor.Window
	for _, p := range []struct {
		name, v string
		dst     *time.Time
	}{{"start", r.Start, &w.Start}, {"end", r.End, &w.End}} {
		if p.v == "" {
			return sensor.Window{}, fmt.Errorf("missing %s", p.name)
		}
		t, err := time.Parse(time.RFC3339, p.v)
		if err != nil {
			return sensor.Window{}, fmt.Errorf("%s %q is not an RFC 3339 time with a zone", p.name, p.v)
		}
		*p.dst = t.UTC().Truncate(time.Millisecond)
	}
	if err := w.Validate(); err != nil {
		return sensor.Window{}, err
	}
	if d := w.End.Sub(w.Start); d > f.cfg.MaxWindow {
		return sensor.Window{}, fmt.Errorf("window of %s is longer than %s", d, f.cfg.MaxWindow)
	}
	if now := f.cfg.Now(); w.End.After(now) {
		return sensor.Window{}, fmt.Errorf("end %s is in the future", w.End.Format(time.RFC3339Nano))
	}
	return w, nil
}
