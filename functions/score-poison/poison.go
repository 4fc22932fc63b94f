package scorepoison

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	scoresensor "github.com/batchscore/batchscore/functions/score-sensor"
	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
)

// OutcomeStore marks outcomes poisoned.
type OutcomeStore interface {
	// MarkPoisoned makes the outcome of key in run poisoned with reason unless
	// it is final (done, empty, poisoned); it reports whether it changed.
	MarkPoisoned(ctx context.Context, run string, key sensor.Key, reason string) (bool, error)
}

// BlobSink writes the set-aside messages.
type BlobSink interface {
	Put(ctx context.Context, container, name string, data []byte, contentType string) error
}

// Config is the function's configuration.
type Config struct {
	Queue            string // the poison queue, "%SCORE_QUEUE%-poison"; default "score-jobs-poison"
	RejectsContainer string // REJECTS_CONTAINER, default "rejects"
	MaxDequeueCount  int    // MAX_DEQUEUE_COUNT, default 5
	// Logger receives the lines, logged with the invocation's context; nil discards.
	Logger *slog.Logger
}

// Function handles poison-queue messages. It is safe for concurrent use.
type Function struct {
	cfg      Config
	outcomes OutcomeStore
	rejects  BlobSink
}

// New returns the function. Zero Config fields take the defaults listed there.
func New(cfg Config, outcomes OutcomeStore, rejects BlobSink) *Function {
	if cfg.Queue == "" {
		cfg.Queue = "score-jobs-poison"
	}
	if cfg.RejectsContainer == "" {
		cfg.RejectsContainer = "rejects"
	}
	if cfg.MaxDequeueCount <= 0 {
		cfg.MaxDequeueCount = 5
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Function{cfg: cfg, outcomes: outcomes, rejects: rejects}
}

// Result summarises one invocation, for the logs.
type Result struct {
	Run      string `json:"run,omitempty"`
	Sensors  int    `json:"sensors"`
	Poisoned int    `json:"poisoned"`            // outcomes made poisoned now
	Final    int    `json:"final"`               // outcomes already final, left alone
	SetAside string `json:"set_aside,omitempty"` // blob in the rejects container, when the message was set aside
	Wake     bool   `json:"wake,omitempty"`      // the message was a wake-up message: nothing to mark
}

// Run marks the sensors of the job in msg poisoned, or sets msg aside. See
// the package documentation for the policy.
func (f *Function) Run(ctx context.Context, msg azfunc.QueueMessage) (Result, error) {
	job, err := scoresensor.DecodeJob(msg.Body)
	if err != nil {
		return f.setAside(ctx, Result{}, msg, fmt.Sprintf("not a valid score job: %v", err))
	}
	if job.Wake {
		// A wake-up message of fan-out (sensor.WakeMessage) has no sensors to mark.
		return Result{Run: job.Run, Wake: true}, nil
	}
	res := Result{Run: job.Run, Sensors: len(job.Sensors)}
	reason := fmt.Sprintf("reached %s without a final outcome: every delivery failed, timed out, crashed the handler or found it not ready", f.cfg.Queue)
	var errs []error
	for _, e := range job.Sensors {
		changed, err := f.outcomes.MarkPoisoned(ctx, job.Run, e.Key, reason)
		switch {
		case err != nil:
			errs = append(errs, err)
		case changed:
			res.Poisoned++
			f.cfg.Logger.WarnContext(ctx, "sensor poisoned", "run", job.Run, "device", e.Device, "sensor", e.Sensor)
			azfunc.Metric(ctx, "sensor_outcome", 1, slog.String("run", job.Run), slog.String("device", e.Device),
				slog.String("sensor", e.Sensor), slog.String("status", sensor.StatusPoisoned))
		default:
			res.Final++
		}
	}
	if len(errs) == 0 {
		return res, nil
	}
	err = fmt.Errorf("mark %d of %d sensors of run %s poisoned: %w", len(errs), len(job.Sensors), job.Run, errors.Join(errs...))
	if msg.DequeueCount < int64(f.cfg.MaxDequeueCount) {
		return res, err
	}
	return f.setAside(ctx, res, msg, err.Error())
}

// setAside writes msg with reason to the rejects container and answers
// without an error, so the poison queue's message is deleted; if the write
// fails, the error is returned and the host tries the message again later.
func (f *Function) setAside(ctx context.Context, res Result, msg azfunc.QueueMessage, reason string) (Result, error) {
	name := "poison/" + f.cfg.Queue + "/" + msg.ID + ".json"
	rec := azfunc.SetAsideRecord{Function: "score-poison", Reason: reason, ID: msg.ID, DequeueCount: msg.DequeueCount,
		InsertionTime: msg.InsertionTime, Queue: f.cfg.Queue, Body: string(msg.Body)}
	if err := azfunc.PutSetAside(ctx, f.rejects, f.cfg.RejectsContainer, name, rec); err != nil {
		return res, fmt.Errorf("set aside message %s (%s): %w", msg.ID, reason, err)
	}
	res.SetAside = name
	f.cfg.Logger.ErrorContext(ctx, "poison message set aside", "message", msg.ID, "blob", f.cfg.RejectsContainer+"/"+name, "reason", reason)
	return res, nil
}
