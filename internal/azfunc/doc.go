// Package azfunc implements the Azure Functions custom-handler protocol as the
// Functions host speaks it (docs: functions-custom-handlers; host source:
// src/WebJobs.Script/Workers/Http): the invocation envelope the host POSTs to
// /{FunctionName}, the typed trigger values decoded from it, the response
// envelope, the single error-to-outcome mapping, a per-invocation logger, and
// request builders that reproduce the host's payloads byte for byte.
//
// # Request envelope
//
// The host sends {"Data": {...}, "Metadata": {...}}. Data holds the trigger and
// input bindings by binding name, Metadata the trigger's binding data (minus
// keys ending in "trigger") plus "sys". The host encodes every value that is
// not an object with JsonConvert.SerializeObject, so a string arrives as a JSON
// string holding JSON text: the queue message {"a":1} arrives as
// "\"{\\\"a\\\":1}\"", DequeueCount 1 as "1", an Event Hubs batch as a string
// holding an array of strings. [Unwrap] removes at most two string layers, so
// both that double encoding and the docs' single-encoded examples decode.
//
// # Outcomes
//
// A run function returns (Response, error). [Handle] maps the result in one
// place: nil -> 200 with the Response; an error -> 500, which makes the host
// fail the invocation (queue: redelivery after visibilityTimeout, poison after
// maxDequeueCount; timer and Event Hubs: the function's retry policy). Errors
// wrapped with [Permanent] are the ones retrying cannot fix; they are logged
// with permanent=true. For HTTP-triggered functions (Options.HTTPOutput set)
// the host call always succeeds and the caller gets Outputs.res with 400 for
// permanent and 500 for transient errors.
//
// The host drops Logs of non-2xx responses, so every failure is also logged
// through the Options.Logger, whose error level goes to stderr (see
// [NewLogger]); the host records stderr lines under Host.Function.Console.
//
// # Builders
//
// [NewTimerRequest], [NewQueueRequest], [NewEventHubRequest] and
// [NewHTTPRequest] produce the body the host would send for a given trigger
// value, including the double encoding, the .NET date formats and the host's
// habit of copying the top-level properties of a JSON queue message into
// Metadata. Tests and the local host stand-in use them; testdata/ holds their
// golden output.
package azfunc
