// Package scoresensor is the core of the score-sensor function: it scores the
// sensors of one score-jobs queue message over the message's window and writes
// one predictions CSV per sensor.
//
// Trigger: queueTrigger on SCORE_QUEUE (score-jobs); the body is a JSON
// sensor.Job (base64 on the wire, decoded by internal/azfunc). There are no
// other bindings: models, points, predictions and outcomes go through the
// interfaces below, implemented by internal/storage and internal/sqlstore.
//
// For each sensor of the job, Run
//
//  1. records the attempt (OutcomeStore.StartAttempt: status running, attempts+1);
//  2. gets the model through a Cache: bounded by bytes, least recently used
//     first out, revalidated by ETag on every use, one load per model even
//     when several invocations ask at once;
//  3. reads the aggregated points of the window (PointSource.Points, width
//     Config.Width, the Stream Analytics rule (T-w, T]);
//  4. scores them with DecisionBatch and writes
//     {run}/preds_{device}_{sensor}.csv to the predictions container, with the
//     header TS,Device,Sensor,Val,Prediction,Decision (see WriteCSV). A window
//     without points still gets a CSV holding only the header, and the outcome
//     "empty", so every sensor of a run has exactly one blob;
//  5. records the outcome: done (rows, anomalies, duration, blob) or empty.
//
// Idempotency: the blob name and bytes depend only on the job and the data,
// so a second message of the same job rewrites the same blob with the same
// bytes and upserts the same outcome (attempts counts the invocations). A
// redelivered message (DequeueCount > 1) skips the sensors an earlier
// delivery finished (outcome done or empty; OutcomeStore.Outcome).
//
// Deadlines: sensors are scored with the invocation's context less a reserve
// (scoringContext: RecordTimeout, or a tenth of the time left if that is
// shorter), and outcomes are written with a context detached from the
// invocation's cancellation, bounded by RecordTimeout. So an invocation that
// times out or is cancelled (shutdown) still leaves every sensor of its
// message with a final outcome, and counts the attempt: a sensor reached after
// scoring stopped is recorded as failed ("not scored: ...") without scoring.
//
// Failures: any failure of a sensor is recorded as an outcome "failed", or
// "poisoned" when the message's DequeueCount has reached
// Config.MaxDequeueCount (the host moves the message to score-jobs-poison
// after that attempt), and Run returns an error, so the handler answers 500 and
// the host retries the whole message after visibilityTimeout. The other
// sensors of the message are still scored. A message that is not a valid Job,
// a missing model blob and a model that cannot be loaded or does not take one
// feature are permanent errors (azfunc.Permanent): they follow the same path to
// the poison queue, where the score-poison function (functions/score-poison)
// makes sure every sensor ends poisoned and sets an invalid job aside.
//
// Wake-up messages: after a fan-out that enqueued jobs, the timer-fanout and
// backfill functions also return one {"run":...,"wake":true} message through
// their queue output binding "wake" (sensor.WakeMessage), only because the
// host wakes its queue listeners for writes through an output binding and not
// for the jobs enqueued with the Storage SDK (docs/host.md). Run answers such
// a message with Result.Wake and no error, without a Blob or SQL call; one that
// also lists sensors is malformed (a permanent error, like any invalid job).
package scoresensor
