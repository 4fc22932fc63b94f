package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
)

// RawSink writes the raw and rejects blobs.
type RawSink interface {
	Put(ctx context.Context, container, name string, data []byte, contentType string) error
}

// ReadingStore stores readings idempotently.
type ReadingStore interface {
	// InsertReadings stores the readings whose (Source, Sequence, Index) is
	// new and returns how many it inserted.
	InsertReadings(ctx context.Context, rs []sensor.StoredReading) (int, error)
	// RecordIngest records that the events of source were stored up to the
	// enqueued time enqueued (it never moves backwards): fan-out records it
	// on each run as the ingest mark.
	RecordIngest(ctx context.Context, source string, enqueued time.Time) error
}

// Config is the function's configuration.
type Config struct {
	RawContainer        string        // RAW_CONTAINER, default "raw"
	RejectsContainer    string        // REJECTS_CONTAINER, default "rejects"
	MaxSkew             time.Duration // INGEST_MAX_SKEW, default 24h
	MaxEventBytes       int           // INGEST_MAX_EVENT_BYTES, default 1 MiB
	MaxReadingsPerEvent int           // default 10,000
	// UnknownRetries is the retry after which a batch failing with an error
	// that is neither permanent nor known to be transient is set aside (see
	// ShouldSetAside); default DefaultUnknownRetries.
	UnknownRetries int
	// Logger receives the lines, logged with the invocation's context (see
	// azfunc.ContextLogger); nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.RawContainer == "" {
		c.RawContainer = "raw"
	}
	if c.RejectsContainer == "" {
		c.RejectsContainer = "rejects"
	}
	if c.MaxSkew <= 0 {
		c.MaxSkew = 24 * time.Hour
	}
	if c.MaxEventBytes <= 0 {
		c.MaxEventBytes = 1 << 20
	}
	if c.MaxReadingsPerEvent <= 0 {
		c.MaxReadingsPerEvent = 10000
	}
	if c.UnknownRetries <= 0 {
		c.UnknownRetries = DefaultUnknownRetries
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Function ingests Event Hubs batches. It is safe for concurrent use.
type Function struct {
	cfg   Config
	raw   RawSink
	store ReadingStore
}

// New returns the function. Zero Config fields take the defaults listed there.
func New(cfg Config, raw RawSink, store ReadingStore) *Function {
	return &Function{cfg: cfg.withDefaults(), raw: raw, store: store}
}

// Result counts what one invocation did.
type Result struct {
	Events      int    `json:"events"`
	Readings    int    `json:"readings"`   // valid readings
	Rejected    int    `json:"rejected"`   // rejects lines: whole events and single readings
	Inserted    int    `json:"inserted"`   // new rows in SQL
	Duplicates  int    `json:"duplicates"` // valid readings already stored
	RawBlob     string `json:"raw_blob,omitempty"`
	RejectsBlob string `json:"rejects_blob,omitempty"`
}

// Run ingests one batch. See the package documentation.
func (f *Function) Run(ctx context.Context, batch azfunc.EventBatch) (Result, error) {
	res := Result{Events: len(batch.Events)}
	if len(batch.Events) == 0 {
		return res, nil
	}
	source, err := Source(batch.Partition)
	if err != nil {
		return res, err
	}
	name := BlobName(source, batch.Events)

	var raw, rejects bytes.Buffer
	var readings []sensor.StoredReading
	var firstReject *rejectLine
	for _, ev := range batch.Events {
		appendRawLine(&raw, ev)
		rs, rejs := f.decodeEvent(ev)
		for _, r := range rejs {
			appendLine(&rejects, r)
		}
		if len(rejs) > 0 && firstReject == nil {
			firstReject = &rejs[0]
		}
		res.Rejected += len(rejs)
		for i, r := range rs {
			if r.Key.Device == "" {
				continue // rejected
			}
			readings = append(readings, sensor.StoredReading{Reading: r, Source: source, Sequence: ev.SequenceNumber, Index: i})
		}
	}
	res.Readings = len(readings)

	if err := f.raw.Put(ctx, f.cfg.RawContainer, name, raw.Bytes(), jsonlType); err != nil {
		return res, fmt.Errorf("write raw blob %s: %w", name, err)
	}
	res.RawBlob = name
	if rejects.Len() > 0 {
		if err := f.raw.Put(ctx, f.cfg.RejectsContainer, name, rejects.Bytes(), jsonlType); err != nil {
			return res, fmt.Errorf("write rejects blob %s: %w", name, err)
		}
		res.RejectsBlob = name
	}
	if len(readings) > 0 {
		n, err := f.store.InsertReadings(ctx, readings)
		if err != nil {
			return res, fmt.Errorf("insert %d readings: %w", len(readings), err)
		}
		res.Inserted, res.Duplicates = n, len(readings)-n
	}
	if err := f.store.RecordIngest(ctx, source, latestEnqueued(batch.Events)); err != nil {
		return res, fmt.Errorf("record ingest progress: %w", err)
	}
	log := f.cfg.Logger
	if firstReject != nil {
		log.WarnContext(ctx, "rejected events or readings", "source", source, "rejected", res.Rejected, "blob", f.cfg.RejectsContainer+"/"+name,
			"first_seq", firstReject.Seq, "first_index", firstReject.Index, "first_reason", firstReject.Reason)
	}
	log.InfoContext(ctx, "ingested", "source", source, "events", res.Events, "readings", res.Readings,
		"rejected", res.Rejected, "inserted", res.Inserted, "duplicates", res.Duplicates, "blob", name)
	observe(ctx, source, res, batch.Events)
	return res, nil
}

// Source returns the identity of a batch's partition,
// "{namespace}/{eventHub}/{partition}": readings are stored under it with
// their event's sequence number and position. A batch without a namespace,
// hub or partition has no identity; the error is permanent (see Run).
func Source(p azfunc.PartitionContext) (string, error) {
	if p.FullyQualifiedNamespace == "" || p.EventHubName == "" || p.PartitionId == "" {
		return "", azfunc.Permanent(fmt.Errorf("batch without partition context (namespace %q, event hub %q, partition %q): its readings have no identity to be stored under",
			p.FullyQualifiedNamespace, p.EventHubName, p.PartitionId))
	}
	return pathPart(p.FullyQualifiedNamespace) + "/" + pathPart(p.EventHubName) + "/" + pathPart(p.PartitionId), nil
}

// BlobName returns the raw (and rejects) blob name of a batch:
// {yyyy}/{mm}/{dd}/{HH}/{namespace}/{eventHub}/{partition}/{firstSeq:020d}-{lastSeq:020d}.jsonl,
// where source is the batch's Source and the time is the enqueued time (UTC)
// of the event with the lowest sequence number. events must not be empty.
func BlobName(source string, events []azfunc.Event) string {
	first, last := events[0], events[0]
	for _, ev := range events[1:] {
		if ev.SequenceNumber < first.SequenceNumber {
			first = ev
		}
		if ev.SequenceNumber > last.SequenceNumber {
			last = ev
		}
	}
	return fmt.Sprintf("%s/%s/%020d-%020d.jsonl",
		first.EnqueuedTime.UTC().Format("2006/01/02/15"), source, first.SequenceNumber, last.SequenceNumber)
}

// latestEnqueued returns the latest enqueued time of events.
func latestEnqueued(events []azfunc.Event) time.Time {
	var t time.Time
	for _, ev := range events {
		if ev.EnqueuedTime.After(t) {
			t = ev.EnqueuedTime
		}
	}
	return t
}

// pathPart keeps a namespace, hub or partition name usable as one blob path
// segment. It is only called with non-empty names.
func pathPart(s string) string {
	if s == "." || s == ".." {
		return strings.Repeat("-", len(s))
	}
	b := []byte(s)
	for i, c := range b {
		if c == '/' || c == '\\' || c < ' ' {
			b[i] = '-'
		}
	}
	return string(b)
}

// jsonlType is the content type of the raw and rejects blobs.
const jsonlType = "application/x-ndjson"

type rawLine struct {
	Seq      int64     `json:"seq"`
	Offset   string    `json:"offset"`
	Enqueued time.Time `json:"enqueued"`
	Body     string    `json:"body"`
}

type rejectLine struct {
	Seq    int64  `json:"seq"`
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	Body   string `json:"body"`
}

func appendLine(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	// The values are plain structs of strings, numbers and times: encoding
	// cannot fail.
	if err := enc.Encode(v); err != nil {
		panic("ingest: encode line: " + err.Error())
	}
}

// decodeEvent returns the readings of one event, indexed by their position in
// the body (a zero Reading where that element was rejected), and the reject
// lines.
func (f *Function) decodeEvent(ev azfunc.Event) ([]sensor.Reading, []rejectLine) {
	reject := func(reason string) ([]sensor.Reading, []rejectLine) { return rejectEvent(ev, reason) }
	if len(ev.Body) > f.cfg.MaxEventBytes {
		return reject(fmt.Sprintf("event of %d bytes exceeds the limit of %d", len(ev.Body), f.cfg.MaxEventBytes))
	}
	body := bytes.TrimSpace(ev.Body)
	if len(body) == 0 {
		return reject("empty body")
	}
	if !utf8.Valid(body) {
		return reject("body is not valid UTF-8")
	}
	if rs, ok := decodeFast(body, ev.EnqueuedTime, f.cfg.MaxReadingsPerEvent, f.checkTime); ok {
		return rs, nil
	}
	return f.decodeGeneral(ev, body)
}

// rejectEvent rejects a whole event.
func rejectEvent(ev azfunc.Event, reason string) ([]sensor.Reading, []rejectLine) {
	return nil, []rejectLine{{Seq: ev.SequenceNumber, Index: -1, Reason: reason, Body: string(ev.Body)}}
}

// decodeGeneral is decodeEvent for every accepted form, with a reason for
// every rejection; body is the trimmed, valid UTF-8 body.
func (f *Function) decodeGeneral(ev azfunc.Event, body []byte) ([]sensor.Reading, []rejectLine) {
	reject := func(reason string) ([]sensor.Reading, []rejectLine) { return rejectEvent(ev, reason) }
	if !json.Valid(body) {
		return reject("body is not valid JSON")
	}
	var elems []json.RawMessage
	switch body[0] {
	case '{':
		elems = []json.RawMessage{body}
	case '[':
		if err := json.Unmarshal(body, &elems); err != nil {
			return reject("body is not valid JSON: " + err.Error())
		}
		if len(elems) == 0 {
			return reject("empty array")
		}
		if len(elems) > f.cfg.MaxReadingsPerEvent {
			return reject(fmt.Sprintf("%d readings exceed the limit of %d per event", len(elems), f.cfg.MaxReadingsPerEvent))
		}
	default:
		return reject("body is neither a JSON object nor an array")
	}
	readings := make([]sensor.Reading, len(elems))
	var rejects []rejectLine
	for i, el := range elems {
		r, err := ParseReading(el)
		if err == nil {
			err = f.checkTime(r.TS, ev.EnqueuedTime)
		}
		if err != nil {
			rejects = append(rejects, rejectLine{Seq: ev.SequenceNumber, Index: i, Reason: err.Error(), Body: string(el)})
			continue
		}
		readings[i] = r
	}
	return readings, rejects
}

func (f *Function) checkTime(ts, enqueued time.Time) error {
	if ts.UnixMilli() <= 0 {
		return fmt.Errorf("TS %s is not after the Unix epoch", ts.Format(time.RFC3339Nano))
	}
	if enqueued.IsZero() {
		return nil
	}
	if d := ts.Sub(enqueued); d > f.cfg.MaxSkew || d < -f.cfg.MaxSkew {
		return fmt.Errorf("TS %s is %s from the enqueued time %s (limit %s)",
			ts.Format(time.RFC3339Nano), d.Round(time.Second), enqueued.UTC().Format(time.RFC3339Nano), f.cfg.MaxSkew)
	}
	return nil
}

// ParseReading decodes one reading object (see the package documentation for
// the accepted forms).
func ParseReading(data []byte) (sensor.Reading, error) {
	var in struct {
		TS, Device, Sensor, Tag, Value json.RawMessage
	}
	if err := json.Unmarshal(data, &in); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return sensor.Reading{}, errors.New("reading is not a JSON object")
		}
		return sensor.Reading{}, fmt.Errorf("reading is not valid JSON: %w", err)
	}
	var r sensor.Reading
	var err error
	if r.TS, err = parseTS(in.TS); err != nil {
		return sensor.Reading{}, err
	}
	if r.Key.Device, err = parseID("Device", in.Device); err != nil {
		return sensor.Reading{}, err
	}
	sensorField, sensorName := in.Sensor, "Sensor"
	if isMissing(sensorField) {
		sensorField, sensorName = in.Tag, "Sensor (or Tag)"
	}
	if r.Key.Sensor, err = parseID(sensorName, sensorField); err != nil {
		return sensor.Reading{}, err
	}
	if err := r.Key.Validate(); err != nil {
		return sensor.Reading{}, fmt.Errorf("invalid sensor key: %w", err)
	}
	if r.Value, err = parseValue(in.Value); err != nil {
		return sensor.Reading{}, err
	}
	return r, nil
}

func isMissing(v json.RawMessage) bool { return len(v) == 0 || string(v) == "null" }

// tsLayouts are tried in order; zone-less layouts are read as UTC. A
// fractional second is accepted after the seconds by every layout.
var tsLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
}

// tsLayoutsSpace is tsLayouts with the space-separated layouts first.
var tsLayoutsSpace = []string{tsLayouts[3], tsLayouts[2], tsLayouts[0], tsLayouts[1]}

func parseTS(v json.RawMessage) (time.Time, error) {
	if isMissing(v) {
		return time.Time{}, errors.New("missing TS")
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return time.Time{}, fmt.Errorf("TS must be a string, got %s", clip(v))
	}
	return parseTSText(s)
}

// parseTSText parses the text of a TS string. A text matches at most one of
// tsLayouts, so the layouts with a space after the date (the devices' own form)
// are tried first when the text has one.
func parseTSText(s string) (time.Time, error) {
	layouts := tsLayouts
	if len(s) > 10 && s[10] == ' ' {
		layouts = tsLayoutsSpace
	}
	for _, layout := range layouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("TS %q is neither RFC 3339 nor 2006-01-02 15:04:05.000", clip([]byte(s)))
}

func parseID(name string, v json.RawMessage) (string, error) {
	if isMissing(v) {
		return "", fmt.Errorf("missing %s", name)
	}
	switch c := v[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return s, nil
	case c == '-' || c >= '0' && c <= '9':
		if _, err := strconv.ParseInt(string(v), 10, 64); err != nil {
			return "", fmt.Errorf("%s %s is not an integer", name, clip(v))
		}
		return string(v), nil
	}
	return "", fmt.Errorf("%s must be a string or an integer, got %s", name, clip(v))
}

func parseValue(v json.RawMessage) (float64, error) {
	if isMissing(v) {
		return 0, errors.New("missing Value")
	}
	if c := v[0]; c != '-' && (c < '0' || c > '9') {
		return 0, fmt.Errorf("Value must be a number, got %s", clip(v))
	}
	x, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, fmt.Errorf("Value %s is not a finite float64", clip(v))
	}
	if x != 0 && math.Abs(x) < minNormal {
		// SQL Server's float holds 0 and magnitudes 2.23e-308 ... 1.79e+308
		// only; such a reading would fail every retry of the batch there.
		return 0, fmt.Errorf("Value %s is too close to zero (below 2.2250738585072014e-308, the smallest SQL float)", clip(v))
	}
	return x, nil
}

// minNormal is the smallest positive normal float64; SQL Server cannot store
// the subnormal values below it.
const minNormal = 0x1p-1022

// clip shortens a value quoted in a reason.
func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}

// Metric names of one batch (customMetrics), each with the dimension source
// (the partition) and InvocationId, function.
const (
	MetricEvents     = "ingest_events"
	MetricReadings   = "ingest_readings"   // valid readings
	MetricRejected   = "ingest_rejected"   // rejects lines
	MetricDuplicates = "ingest_duplicates" // valid readings already stored
	MetricLag        = "ingest_lag_s"      // oldest event's enqueued time to the batch stored
)

// observe records a stored batch's metrics.
func observe(ctx context.Context, source string, res Result, events []azfunc.Event) {
	dim := slog.String("source", source)
	azfunc.Metric(ctx, MetricEvents, float64(res.Events), dim)
	azfunc.Metric(ctx, MetricReadings, float64(res.Readings), dim)
	azfunc.Metric(ctx, MetricRejected, float64(res.Rejected), dim)
	azfunc.Metric(ctx, MetricDuplicates, float64(res.Duplicates), dim)
	var oldest time.Time
	for _, ev := range events {
		if !ev.EnqueuedTime.IsZero() && (oldest.IsZero() || ev.EnqueuedTime.Before(oldest)) {
			oldest = ev.EnqueuedTime
		}
	}
	if !oldest.IsZero() {
		azfunc.Metric(ctx, MetricLag, time.Since(oldest).Seconds(), dim)
	}
}
