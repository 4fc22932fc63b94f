package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/batchscore/batchscore/functions/backfill"
	"github.com/batchscore/batchscore/functions/ingest"
	runstatus "github.com/batchscore/batchscore/functions/run-status"
	scorepoison "github.com/batchscore/batchscore/functions/score-poison"
	scoresensor "github.com/batchscore/batchscore/functions/score-sensor"
	timerfanout "github.com/batchscore/batchscore/functions/timer-fanout"
	"github.com/batchscore/batchscore/functions/train"
	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/telemetry"
)

// Function names: the folder names of function.json in the app, and so the
// paths the host POSTs to. Binding names are those of each function.json.
const (
	fnIngest      = "ingest"       // eventHubTrigger "events", cardinality many
	fnTimerFanout = "timer-fanout" // timerTrigger "timer", queue output "wake"
	fnScoreSensor = "score-sensor" // queueTrigger "job"
	fnScorePoison = "score-poison" // queueTrigger "job" on the poison queue
	fnBackfill    = "backfill"     // httpTrigger "req" (POST), http output "res", queue output "wake"
	fnRunStatus   = "run-status"   // httpTrigger "req" (GET), http output "res"
	fnTrain       = "train"        // timerTrigger "timer" (disabled by default)
	httpOut       = "res"
	wakeOut       = "wake" // queue output binding on SCORE_QUEUE
)

// wakeOutputs adds a fan-out's wake-up message (timerfanout.Result.WakeMessage;
// none when it is "") to outputs as the queue output binding's value. The value
// is a JSON array of one string: the host writes each string element of an
// array as its text (azure-functions-host, src/WebJobs.Script/Binding/
// FunctionBinding.cs, ReadAsEnumerable and BindAsyncCollectorAsync), whereas
// a string holding JSON would be parsed and written again as indented JSON.
// The write wakes the host's listeners of the queue (see docs/host.md).
func wakeOutputs(outputs map[string]any, wake string) map[string]any {
	if wake == "" {
		return outputs
	}
	if outputs == nil {
		outputs = map[string]any{}
	}
	outputs[wakeOut] = []string{wake}
	return outputs
}

var functionNames = []string{fnIngest, fnTimerFanout, fnScoreSensor, fnScorePoison, fnBackfill, fnRunStatus, fnTrain}

// routes is the handler's whole HTTP surface:
//
//	GET  /              readiness (answered at once, before set-up)
//	POST /ingest        Event Hubs batch -> raw blob, rejects blob, readings in SQL
//	POST /timer-fanout  timer -> one score-jobs message per sensor chunk
//	POST /score-sensor  score-jobs message -> predictions blobs and outcomes
//	POST /score-poison  score-jobs-poison message -> its sensors' outcomes poisoned
//	POST /backfill      HTTP POST {"start","end"} -> fan-out of that window (202)
//	POST /run-status    HTTP GET ?run=ID -> progress of a run
//	POST /train         timer -> every sensor's model refitted, validated, replaced
//
// The HTTP-triggered functions arrive wrapped like the others
// (enableForwardingHttpRequest is false) and answer through Outputs.res.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.readiness)
	for _, name := range functionNames {
		mux.Handle("POST /"+name, a.function(name))
	}
	return mux
}

// newFunctions builds the function handlers on the set-up dependencies. Each
// core is adapted by azfunc.Handle, the one place that decodes the envelope,
// applies INVOCATION_TIMEOUT and maps errors to the host's outcome.
func newFunctions(cfg Config, d deps, logger *slog.Logger, tel *telemetry.Client) map[string]http.Handler {
	// Cores are shared by all invocations; their lines carry the invocation
	// id when they log with the invocation's context.
	coreLog := azfunc.ContextLogger(logger)
	opts := azfunc.Options{Logger: logger, Timeout: cfg.InvocationTimeout}
	if tel != nil {
		opts.Direct, opts.Metrics, opts.Done = true, tel, tel.Kick
	}

	ing := ingest.New(ingest.Config{
		RawContainer:     cfg.RawContainer,
		RejectsContainer: cfg.RejectsContainer,
		MaxSkew:          cfg.IngestMaxSkew,
		MaxEventBytes:    cfg.IngestMaxEventBytes,
		Logger:           coreLog.With("component", fnIngest),
	}, d.blobs, d.store)

	fan := timerfanout.New(timerfanout.Config{
		Schedule:        cfg.FanoutSchedule,
		ChunkSize:       cfg.FanoutChunkSize,
		Parallelism:     cfg.FanoutParallelism,
		Lag:             cfg.FanoutLag,
		MaxCatchUp:      cfg.FanoutMaxCatchUp,
		Retention:       cfg.ReadingsRetention,
		Pruner:          d.store,
		ModelsContainer: cfg.ModelsContainer,
		Logger:          coreLog.With("component", fnTimerFanout),
	}, d.blobs, d.queue, d.store)

	score := scoresensor.New(scoresensor.Config{
		ModelsContainer:      cfg.ModelsContainer,
		PredictionsContainer: cfg.PredictionsContainer,
		Width:                cfg.AggregateWindow,
		MaxDequeueCount:      cfg.MaxDequeueCount,
		CacheBytes:           cfg.ModelCacheBytes,
		Logger:               coreLog.With("component", fnScoreSensor),
	}, d.blobs, d.store, d.blobs, d.store)

	// A batch that can never be stored is kept in the rejects container and
	// answered 200, so that the partition's checkpoint moves on (with
	// maxRetryCount -1 the host would retry it forever); see ingest.ShouldSetAside.
	ingestOpts := opts
	ingestOpts.SetAside = func(ctx context.Context, inv *azfunc.Invocation, body []byte, err error) (bool, error) {
		if !ing.ShouldSetAside(err, inv.Retry) {
			return false, nil
		}
		name, serr := ing.SetAside(ctx, body, err)
		if serr != nil {
			return false, serr
		}
		inv.Logger.WarnContext(ctx, "batch set aside", "blob", cfg.RejectsContainer+"/"+name, "err", err.Error())
		return true, nil
	}

	poison := scorepoison.New(scorepoison.Config{
		Queue:            cfg.ScoreQueue + "-poison",
		RejectsContainer: cfg.RejectsContainer,
		MaxDequeueCount:  cfg.MaxDequeueCount,
		Logger:           coreLog.With("component", fnScorePoison),
	}, d.store, d.blobs)

	tc := cfg.Train
	tc.Logger = coreLog.With("component", fnTrain)
	trainer := train.New(tc, d.store, d.blobs, d.store)

	back := backfill.New(backfill.Config{}, fan)
	status := runstatus.New(d.store)
	httpOpts := opts
	httpOpts.HTTPOutput = httpOut
	httpFn := func(run func(context.Context, azfunc.HTTPRequest) (azfunc.HTTPResponse, error)) func(context.Context, *azfunc.Invocation, azfunc.HTTPRequest) (azfunc.Response, error) {
		return func(ctx context.Context, inv *azfunc.Invocation, r azfunc.HTTPRequest) (azfunc.Response, error) {
			res, err := run(ctx, r)
			if err != nil {
				return azfunc.Response{}, err
			}
			return azfunc.Response{Outputs: map[string]any{httpOut: res}}, nil
		}
	}

	return map[string]http.Handler{
		fnIngest: azfunc.Handle(fnIngest, azfunc.EventHubTrigger("events"),
			func(ctx context.Context, inv *azfunc.Invocation, b azfunc.EventBatch) (azfunc.Response, error) {
				res, err := ing.Run(ctx, b)
				if err != nil {
					return azfunc.Response{}, err
				}
				inv.Logger.InfoContext(ctx, "ingest done", "partition", b.Partition.PartitionId, "result", res)
				return azfunc.Response{}, nil
			}, ingestOpts),

		fnTimerFanout: azfunc.Handle(fnTimerFanout, azfunc.TimerTrigger("timer"),
			func(ctx context.Context, inv *azfunc.Invocation, t azfunc.TimerInfo) (azfunc.Response, error) {
				res, err := fan.Run(ctx, t, inv.Now())
				if err != nil {
					return azfunc.Response{}, err
				}
				inv.Logger.InfoContext(ctx, "fan-out done", "past_due", t.IsPastDue, "result", res)
				return azfunc.Response{Outputs: wakeOutputs(nil, res.WakeMessage())}, nil
			}, opts),

		fnScoreSensor: azfunc.Handle(fnScoreSensor, azfunc.QueueTrigger("job"),
			func(ctx context.Context, inv *azfunc.Invocation, m azfunc.QueueMessage) (azfunc.Response, error) {
				res, err := score.Run(ctx, m)
				if err != nil {
					return azfunc.Response{}, err
				}
				if res.Wake {
					inv.Logger.InfoContext(ctx, "wake-up message: nothing to score", "message", m.ID, "run", res.Run)
					return azfunc.Response{}, nil
				}
				inv.Logger.InfoContext(ctx, "scoring done", "message", m.ID, "dequeue_count", m.DequeueCount, "result", res)
				return azfunc.Response{}, nil
			}, opts),

		fnScorePoison: azfunc.Handle(fnScorePoison, azfunc.QueueTrigger("job"),
			func(ctx context.Context, inv *azfunc.Invocation, m azfunc.QueueMessage) (azfunc.Response, error) {
				res, err := poison.Run(ctx, m)
				if err != nil {
					return azfunc.Response{}, err
				}
				inv.Logger.InfoContext(ctx, "poison message handled", "message", m.ID, "dequeue_count", m.DequeueCount, "result", res)
				return azfunc.Response{}, nil
			}, opts),

		fnTrain: azfunc.Handle(fnTrain, azfunc.TimerTrigger("timer"),
			func(ctx context.Context, inv *azfunc.Invocation, t azfunc.TimerInfo) (azfunc.Response, error) {
				res, err := trainer.Run(ctx, inv.Now())
				if err != nil {
					return azfunc.Response{}, err
				}
				inv.Logger.InfoContext(ctx, "training done", "result", res)
				return azfunc.Response{}, nil
			}, opts),

		fnBackfill: azfunc.Handle(fnBackfill, azfunc.HTTPTrigger("req"),
			func(ctx context.Context, inv *azfunc.Invocation, r azfunc.HTTPRequest) (azfunc.Response, error) {
				res, wake, err := back.Run(ctx, r)
				if err != nil {
					return azfunc.Response{}, err
				}
				return azfunc.Response{Outputs: wakeOutputs(map[string]any{httpOut: res}, wake)}, nil
			}, httpOpts),
		fnRunStatus: azfunc.Handle(fnRunStatus, azfunc.HTTPTrigger("req"), httpFn(status.Run), httpOpts),
	}
}
