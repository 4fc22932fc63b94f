// Package scorepoison is the core of the score-poison function: it makes sure
// that every score-jobs message the host gave up on ends in a record.
//
// Trigger: queueTrigger on %SCORE_QUEUE%-poison (score-jobs-poison), where the
// host moves a score-jobs message after maxDequeueCount failed deliveries
// (azure-sdk-for-net, Microsoft.Azure.WebJobs.Extensions.Storage.Queues,
// QueueProcessor.CompleteProcessingMessageAsync). score-sensor records
// "poisoned" itself on the last delivery, but not when that delivery never
// ran it: the handler was not ready (503), was killed by the host's function
// timeout, or crashed. For every sensor of such a message, Run marks the
// outcome poisoned unless it is already final (done, empty or poisoned),
// keeping the last recorded error (OutcomeStore.MarkPoisoned). Marking twice
// changes nothing, so redeliveries are harmless.
//
// The function must not lose the message itself: the host gives a queue whose
// name ends in -poison no poison queue, and leaves a message that fails there
// invisible, to be tried again later, for ever (same source). So:
//
//   - a body that is not a valid job cannot be marked anywhere: it is set
//     aside as rejects/poison/{queue}/{message id}.json (id, dequeue count,
//     insertion time, reason, body) and answered without an error;
//   - a store error is returned (500) so that the host tries again, except on
//     the last delivery (DequeueCount >= MaxDequeueCount), when the message is
//     set aside with the error as its reason and answered without an error;
//   - only when setting aside fails too is the error returned.
//
// A wake-up message of fan-out ({"run":...,"wake":true}, see score-sensor)
// reaches the poison queue only if every delivery of it failed before
// score-sensor ran; it carries no sensors, so Run answers it without a store
// or blob call.
//
// The message is deleted from the poison queue once handled; its sensors'
// outcomes (with the reason) and rejects/poison/ are where an operator looks.
// A run can be scored again with backfill.
package scorepoison
