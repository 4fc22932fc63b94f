// Package timerfanout is the core of the timer-fanout function: at each
// occurrence of its schedule it registers a scoring run for the schedule
// interval that just ended and enqueues one score-jobs message per chunk of
// sensors that have a model.
//
// Trigger: timerTrigger with schedule %FANOUT_SCHEDULE% (6-field NCRONTAB,
// {second} {minute} {hour} {day} {month} {day-of-week}, UTC). No output
// bindings: messages go through JobQueue (internal/storage, base64 bodies as
// the queue trigger expects), the run through RunStore (internal/sqlstore).
//
// # Window
//
// The window of an invocation is (start, end]: end is the schedule
// occurrence the host fired for, start the occurrence before it (found by
// stepping the schedule backwards: NCRONTAB intervals may be irregular, e.g.
// "0 0 9,17 * * *" alternates 8 and 16 hours), both moved Config.Lag
// (FANOUT_LAG) earlier, so that readings ingest stores up to Lag after their
// time are in the window when it is scored. The occurrence is, in order of
// preference:
//
//  1. TimerInfo.ScheduleStatus.Next, when it is set, is an occurrence of the
//     schedule, is not after now+Config.Lateness and the run is not past
//     due: while an invocation runs, the host's status still holds the
//     occurrence being fired as Next (it moves it on afterwards), which keeps
//     the window stable across function-level retries;
//  2. otherwise the latest occurrence at or before now+Config.Lateness (the
//     host may fire up to about a second early through clock skew, and now is
//     the time the invocation started, sys.UtcNow or the handler's clock).
//
// # Catch-up
//
// After downtime the host fires one past-due run, whatever the number of
// occurrences missed. So Run first fans out every window that ends after the
// latest scheduled run whose fan-out finished (RunStore.LastScheduledRun; with
// none, after the window of ScheduleStatus.Last), oldest first, each under its
// own run id, and then its own: at most Config.MaxCatchUp windows in all.
// Older missed windows are logged and returned as Result.NotFannedOut, for the
// backfill function. Each run records the ingest mark at its fan-out
// (RunStore.IngestMark); a warning is logged when the oldest partition's mark
// is before the window end.
//
// # Retention
//
// With Config.Retention (READINGS_RETENTION) set, each timer run, after its
// fan-out, deletes through Config.Pruner the readings older than Retention
// before now, in bounded batches; a failure is logged and left to the next
// run. Backfills (RunWindow) do not prune. The cutoff never passes the start
// of the oldest window the run fanned out (its jobs are queued, not scored,
// when the prune runs), nor of a run registered within the retention whose
// sensors are not all scored (RunStore.OldestUnscoredRun), less
// max(one window, RetryMargin). Config.MinRetention
// is the retention below which that cap would bite on every catch-up.
//
// # Messages
//
// RunWindow lists the models container, keeps the blobs named
// model_{device}_{sensor}[.ext] (sensor.ParseModelName; other blobs are
// skipped with a log line; when one sensor has several model blobs, e.g.
// model_1_1 and model_1_1.pkl, the lexicographically smallest name wins and
// a warning is logged), sorts the sensors by (device, sensor), cuts them into
// chunks of Config.ChunkSize and encodes one sensor.Job per chunk with the run
// id window.RunID(). A chunk whose base64 text would exceed the queue's 64 KiB
// message limit (MaxMessageBytes) is cut short, and the next message goes on
// from there. The run is registered (RunStore.PutRun, with the sensor
// count) before anything is enqueued, so run-status can count pending sensors
// from the first message on. Messages are enqueued with Config.Parallelism
// requests in flight; then RunStore.FinishFanOut records that the fan-out
// finished.
//
// # Idempotency and failures
//
// The run id and the message bytes depend only on the window and the model
// names and versions (each entry carries its blob's ETag as listed), so a duplicated timer run registers the same run and enqueues
// byte-identical messages; score-sensor then rewrites the same blobs. A
// failure to list, register or enqueue fails the invocation; function.json
// sets a fixedDelay retry policy (3 retries, 30 s apart), and since a retry
// gets the same TimerInfo (ScheduleStatus.Next names the fired occurrence) it
// fans out the same window again. Messages enqueued before a failure stay
// queued, so a retry enqueues some jobs twice: harmless, score-sensor is
// idempotent. When the retries are exhausted the run is left without its
// fan-out time, and the next invocation catches the window up (see Catch-up).
package timerfanout
