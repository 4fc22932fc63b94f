// Package ingest is the core of the ingest function: it keeps every event of an
// Event Hubs batch in Blob storage, sets invalid events and readings aside with
// their reason, and stores the valid readings in SQL with the identity of the
// event that carried them.
//
// Trigger: eventHubTrigger, cardinality many, dataType string (internal/azfunc
// decodes the batch into azfunc.EventBatch). No output bindings: blobs and rows
// go through RawSink and ReadingStore.
//
// # Event bodies
//
// A body is one reading object or a JSON array of them:
//
//	{"TS":"2018-08-28T23:00:05Z","Device":1,"Sensor":1,"Value":10.16}
//	[{"TS":"2018-08-28 23:00:05.000","Device":"pump7","Tag":"rpm","Value":1480}, ...]
//
// Field names match case-insensitively; unknown fields are ignored. Sensor may
// be called Tag, as the reference simulator sent it (Sensor wins when both are
// present). Device and Sensor are JSON strings or integers (an integer is kept
// as its decimal text), and must pass sensor.Key.Validate. Value is a finite
// JSON number, 0 or of magnitude at least 2.2250738585072014e-308 (subnormal
// values are outside SQL Server's float and would fail the batch there on
// every retry). TS is a JSON string in one of
//
//	RFC 3339 / ISO 8601 with a zone:   2018-08-28T23:00:05Z, 2018-08-28T23:00:05.123+02:00
//	ISO 8601 without a zone (UTC):     2018-08-28T23:00:05, 2018-08-28T23:00:05.123
//	the reference CSV form (UTC):      2018-08-28 23:00:05.000, 2018-08-28 23:00:05
//
// Numeric (epoch) timestamps are rejected: seconds and milliseconds cannot be
// told apart safely. TS must lie within Config.MaxSkew of the event's enqueued
// time and after the Unix epoch.
//
// # Blobs
//
// Every event of the batch is written, valid or not, to the raw container as
// one JSON line {"seq","offset","enqueued","body"} in the blob
// {yyyy}/{mm}/{dd}/{HH}/{namespace}/{eventHub}/{partition}/{firstSeq:020d}-{lastSeq:020d}.jsonl
// (time = the first event's enqueued time, UTC). Rejected events and readings
// go to the rejects container under the same name, one line
// {"seq","index","reason","body"} each; index is -1 when the whole event was
// rejected, otherwise the position of the reading in its array (0 for a single
// object). The body is the event's text, or the rejected array element's JSON;
// an event that is not UTF-8 is rejected (its raw line then shows U+FFFD for the bad bytes).
//
// # Idempotency and failures
//
// Readings are stored with (source = "{namespace}/{eventHub}/{partition}",
// sequence number, index) as their identity, and storing an identity again is
// a no-op: a redelivered batch rewrites the same blobs with the same bytes and
// inserts nothing new (it is counted as duplicates). A redelivery cut into
// different batches writes differently named raw blobs holding the same
// events, and still inserts nothing twice. A batch without namespace, hub or
// partition has no identity: Run refuses it with a permanent error before
// writing anything.
//
// A bad event never fails the batch. A failing blob write or SQL insert fails
// the invocation (Run returns the error). The handler then asks
// ShouldSetAside: a transient error is answered 500 and the function's retry
// policy redelivers the batch; a permanent one (and an unclassified one after
// Config.UnknownRetries retries) is kept by SetAside in the rejects container
// and answered 200, so that the partition's checkpoint moves on.
package ingest
