// Package telemetry sends the handler's log records and metrics straight to
// Application Insights, each once, with its severity and dimensions.
//
// Why direct: a custom handler has two ways into Application Insights through
// the Functions host, and neither keeps what monitoring needs. The response's
// Logs array is logged by the host at Information for every line
// (DefaultHttpWorkerService.ProcessLogsFromHttpResponse, azure-functions-host
// issue #6608) and dropped on a non-2xx answer; the worker's stdout and stderr
// are logged under Host.Function.Console without the invocation's scope, at a
// level guessed from the text (WorkerProcess.ParseErrorMessageAndLog: "warn"
// anywhere gives Warning, other stderr lines Error). Neither carries metrics.
// See docs/monitoring.md.
//
// What: a [Client] holds a bounded queue of envelopes (the ingestion API's
// TelemetryItem: MessageData for traces, MetricData for metrics) and one
// goroutine that posts them in batches, as a JSON array, to
// {IngestionEndpoint}/v2.1/track of the connection string, with an Entra ID
// bearer token for the scope https://monitor.azure.com//.default when a
// credential is given (the component has local authentication disabled).
//
// Bounds: Trace and Metric never block: a full queue drops the item and
// counts it ([Stats].Dropped). A batch that fails with a retriable status
// (408, 429, 5xx) or a transport error is tried once more after RetryDelay,
// then dropped and counted. [Client.Close] flushes what is queued within its
// context's deadline. Export problems are reported through Options.OnError
// (the handler writes them to stderr, at most one line per flush), never
// back into the queue.
//
// There is no maintained Go SDK for this: microsoft/ApplicationInsights-Go is
// marked "NOT currently maintained or supported by Microsoft" in its README
// and has no Entra ID authentication, and Azure Monitor's OpenTelemetry
// exporters exist for .NET, Java, Node.js and Python only
// (Azure/azure-sdk-for-go issue #24900). The envelope format is the one those
// exporters send (their generated TelemetryItem, MessageData, MetricsData).
package telemetry
