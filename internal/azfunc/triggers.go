package azfunc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sys is Metadata.sys, which the host adds to every invocation.
type Sys struct {
	MethodName string
	UtcNow     time.Time
	RandGuid   string
}

// Sys decodes Metadata.sys. A payload without it gives the zero Sys and ErrNoBinding.
func (r *Request) Sys() (Sys, error) {
	raw, err := r.RawMetadata("sys")
	if err != nil {
		return Sys{}, err
	}
	var w struct {
		MethodName string
		UtcNow     string
		RandGuid   string
	}
	if err := unwrapJSON(raw, &w); err != nil {
		return Sys{}, fmt.Errorf("metadata sys: %w", err)
	}
	s := Sys{MethodName: w.MethodName, RandGuid: w.RandGuid}
	if w.UtcNow != "" {
		t, err := ParseTime(w.UtcNow)
		if err != nil {
			return Sys{}, fmt.Errorf("metadata sys.UtcNow: %w", err)
		}
		s.UtcNow = t.UTC()
	}
	return s, nil
}

// RetryContext is Metadata.RetryContext, present when the function has a retry
// policy. RetryCount starts at 0 for the first attempt. Exception is the
// previous attempt's exception as the host serialized it.
type RetryContext struct {
	RetryCount    int
	MaxRetryCount int
	Exception     json.RawMessage `json:",omitempty"`
}

// RetryContext decodes Metadata.RetryContext; nil when absent.
func (r *Request) RetryContext() (*RetryContext, error) {
	raw, ok := lookup(r.Metadata, "RetryContext")
	if !ok || isNull(raw) {
		return nil, nil
	}
	var rc RetryContext
	if err := unwrapJSON(raw, &rc); err != nil {
		return nil, fmt.Errorf("metadata RetryContext: %w", err)
	}
	return &rc, nil
}

// TimerInfo is the value of a timerTrigger binding.
type TimerInfo struct {
	Schedule Schedule
	// ScheduleStatus is nil when the trigger has "useMonitor": false. On the
	// first run Last and LastUpdated hold a sentinel date.
	ScheduleStatus *ScheduleStatus
	// IsPastDue is true when this invocation catches up a missed occurrence.
	IsPastDue bool
}

// Schedule is the serialized TimerSchedule; the host only exposes AdjustForDST.
type Schedule struct {
	AdjustForDST bool
}

// ScheduleStatus is the timer monitor's record. Times are host-local (UTC in
// Azure unless WEBSITE_TIME_ZONE is set) and keep the offset they were sent with.
type ScheduleStatus struct {
	Last        time.Time
	Next        time.Time
	LastUpdated time.Time
}

// Timer decodes the timerTrigger binding name.
func (r *Request) Timer(name string) (TimerInfo, error) {
	raw, err := r.Raw(name)
	if err != nil {
		return TimerInfo{}, err
	}
	var w struct {
		Schedule       *Schedule
		ScheduleStatus *struct{ Last, Next, LastUpdated string }
		IsPastDue      json.RawMessage
	}
	if err := unwrapJSON(raw, &w); err != nil {
		return TimerInfo{}, fmt.Errorf("timer %q: %w", name, err)
	}
	var ti TimerInfo
	if w.Schedule != nil {
		ti.Schedule = *w.Schedule
	}
	if len(w.IsPastDue) > 0 {
		b, err := Unwrap(w.IsPastDue)
		if err != nil {
			return TimerInfo{}, fmt.Errorf("timer %q IsPastDue: %w", name, err)
		}
		if b != nil {
			if ti.IsPastDue, err = strconv.ParseBool(strings.ToLower(string(b))); err != nil {
				return TimerInfo{}, fmt.Errorf("timer %q IsPastDue: %w", name, err)
			}
		}
	}
	if s := w.ScheduleStatus; s != nil {
		ss := &ScheduleStatus{}
		for _, f := range []struct {
			name string
			v    string
			dst  *time.Time
		}{{"Last", s.Last, &ss.Last}, {"Next", s.Next, &ss.Next}, {"LastUpdated", s.LastUpdated, &ss.LastUpdated}} {
			if f.v == "" {
				continue
			}
			t, err := ParseTime(f.v)
			if err != nil {
				return TimerInfo{}, fmt.Errorf("timer %q ScheduleStatus.%s: %w", name, f.name, err)
			}
			*f.dst = t
		}
		ti.ScheduleStatus = ss
	}
	return ti, nil
}

// QueueMessage is the value and metadata of a queueTrigger binding.
type QueueMessage struct {
	ID              string
	PopReceipt      string
	DequeueCount    int64
	InsertionTime   time.Time
	ExpirationTime  time.Time
	NextVisibleTime time.Time
	// Body is the message text after the host's base64 decoding
	// (extensions.queues.messageEncoding).
	Body []byte
}

// Queue decodes the queueTrigger binding name (default dataType: the message
// arrives as a double-encoded string).
func (r *Request) Queue(name string) (QueueMessage, error) {
	body, err := r.Text(name)
	if err != nil {
		return QueueMessage{}, err
	}
	return r.queueMetadata(name, body)
}

// QueueBinary decodes a queueTrigger binding declared with "dataType": "binary".
func (r *Request) QueueBinary(name string) (QueueMessage, error) {
	body, err := r.Binary(name)
	if err != nil {
		return QueueMessage{}, err
	}
	return r.queueMetadata(name, body)
}

func (r *Request) queueMetadata(name string, body []byte) (QueueMessage, error) {
	if body == nil {
		body = []byte{}
	}
	m := QueueMessage{Body: body}
	var err error
	if m.ID, err = r.metaString("Id"); err != nil {
		return QueueMessage{}, fmt.Errorf("queue %q: %w", name, err)
	}
	if m.PopReceipt, err = r.metaString("PopReceipt"); err != nil {
		return QueueMessage{}, fmt.Errorf("queue %q: %w", name, err)
	}
	if b, err := r.MetadataText("DequeueCount"); err == nil {
		if m.DequeueCount, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err != nil {
			return QueueMessage{}, fmt.Errorf("queue %q DequeueCount: %w", name, err)
		}
	} else if !errors.Is(err, ErrNoBinding) {
		return QueueMessage{}, fmt.Errorf("queue %q: %w", name, err)
	}
	for _, f := range []struct {
		key string
		dst *time.Time
	}{{"InsertionTime", &m.InsertionTime}, {"ExpirationTime", &m.ExpirationTime}, {"NextVisibleTime", &m.NextVisibleTime}} {
		s, err := r.metaString(f.key)
		if err != nil {
			return QueueMessage{}, fmt.Errorf("queue %q: %w", name, err)
		}
		if s == "" {
			continue
		}
		if *f.dst, err = ParseTime(s); err != nil {
			return QueueMessage{}, fmt.Errorf("queue %q %s: %w", name, f.key, err)
		}
	}
	return m, nil
}

// metaString returns a string metadata value ("" when absent), with stray
// quotes of a double encoding removed.
func (r *Request) metaString(key string) (string, error) {
	b, err := r.MetadataText(key)
	if errors.Is(err, ErrNoBinding) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.Trim(string(b), `"`), nil
}

// PartitionContext is Metadata.PartitionContext of an Event Hubs trigger.
type PartitionContext struct {
	FullyQualifiedNamespace string
	EventHubName            string
	ConsumerGroup           string
	PartitionId             string
}

// Event is one event of an Event Hubs batch.
type Event struct {
	Body           []byte
	SequenceNumber int64
	Offset         string
	// EnqueuedTime is in UTC (the host sends it without a zone designator).
	EnqueuedTime time.Time
	PartitionKey *string
	Properties   map[string]any
}

// EventBatch is the value of an eventHubTrigger binding with cardinality many.
type EventBatch struct {
	Partition    PartitionContext
	Events       []Event
	RetryContext *RetryContext
}

// EventHub decodes the eventHubTrigger binding name (cardinality many). Event
// bodies are the strings of dataType "string"; object elements (no dataType)
// are kept as their JSON text. Per-event metadata comes from the *Array
// metadata keys, which must have one element per event when present;
// SequenceNumberArray is required.
func (r *Request) EventHub(name string) (EventBatch, error) {
	raw, err := r.Raw(name)
	if err != nil {
		return EventBatch{}, err
	}
	bodies, err := eventBodies(raw)
	if err != nil {
		return EventBatch{}, fmt.Errorf("eventhub %q %w", name, err)
	}
	elems := bodies // one per event, for the metadata lengths below
	b := EventBatch{Events: make([]Event, len(bodies))}
	for i, body := range bodies {
		if body == nil {
			body = []byte{}
		}
		b.Events[i].Body = body
	}
	if pc, ok := lookup(r.Metadata, "PartitionContext"); ok && !isNull(pc) {
		if err := unwrapJSON(pc, &b.Partition); err != nil {
			return EventBatch{}, fmt.Errorf("eventhub %q PartitionContext: %w", name, err)
		}
	}
	if b.RetryContext, err = r.RetryContext(); err != nil {
		return EventBatch{}, fmt.Errorf("eventhub %q: %w", name, err)
	}

	var seqs []int64
	if err := r.metaArray("SequenceNumberArray", len(elems), true, &seqs); err != nil {
		return EventBatch{}, fmt.Errorf("eventhub %q: %w", name, err)
	}
	var offsets []json.RawMessage
	if err := r.metaArray("OffsetArray", len(elems), false, &offsets); err != nil {
		return EventBatch{}, fmt.Errorf("eventhub %q: %w", name, err)
	}
	var times []string
	if err := r.metaArray("EnqueuedTimeUtcArray", len(elems), false, &times); err != nil {
		return EventBatch{}, fmt.Errorf("eventhub %q: %w", name, err)
	}
	var keys []*string
	if err := r.metaArray("PartitionKeyArray", len(elems), false, &keys); err != nil {
		return EventBatch{}, fmt.Errorf("eventhub %q: %w", name, err)
	}
	props, err := r.propertiesArray(len(elems))
	if err != nil {
		return EventBatch{}, fmt.Errorf("eventhub %q: %w", name, err)
	}
	for i := range b.Events {
		e := &b.Events[i]
		e.SequenceNumber = seqs[i]
		if offsets != nil {
			if e.Offset, err = scalarText(offsets[i]); err != nil {
				return EventBatch{}, fmt.Errorf("eventhub %q OffsetArray[%d]: %w", name, i, err)
			}
		}
		if times != nil {
			t, err := ParseTime(times[i])
			if err != nil {
				return EventBatch{}, fmt.Errorf("eventhub %q EnqueuedTimeUtcArray[%d]: %w", name, i, err)
			}
			e.EnqueuedTime = t.UTC()
		}
		if keys != nil {
			e.PartitionKey = keys[i]
		}
		if props != nil && len(props[i]) > 0 {
			e.Properties = props[i]
		}
	}
	return b, nil
}

// eventBodies unwraps the events of an Event Hubs binding, each as Unwrap
// gives it. The common case, an array of strings (dataType "string"), is
// decoded in one pass; any other element (objects) takes the general path.
func eventBodies(raw json.RawMessage) ([][]byte, error) {
	b, err := Unwrap(raw)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	if b == nil {
		return nil, nil
	}
	if out, ok := stringArray(b); ok {
		return out, nil
	}
	var strs []*string
	if json.Unmarshal(b, &strs) == nil {
		out := make([][]byte, len(strs))
		for i, s := range strs {
			if s != nil { // null gives nil, as Unwrap does
				out[i] = unwrapUnquoted([]byte(*s))
			}
		}
		return out, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(b, &elems); err != nil {
		return nil, fmt.Errorf("events: azfunc: decode value: %w", err)
	}
	out := make([][]byte, len(elems))
	for i, e := range elems {
		if out[i], err = Unwrap(e); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
	}
	return out, nil
}

// propertiesArray decodes Metadata.PropertiesArray, the events' application
// properties. The usual array, n empty objects (events sent without
// properties, which leave Event.Properties nil), is only counted, not decoded
// into n maps; any other array takes metaArray.
func (r *Request) propertiesArray(n int) ([]map[string]any, error) {
	const key = "PropertiesArray"
	if raw, ok := lookup(r.Metadata, key); ok && !isNull(raw) {
		if b, err := Unwrap(raw); err == nil && emptyObjects(b) == n {
			return nil, nil
		}
	}
	var props []map[string]any
	err := r.metaArray(key, n, false, &props)
	return props, err
}

// emptyObjects returns the length of b when it is a JSON array of empty
// objects and nulls only, otherwise -1.
func emptyObjects(b []byte) int {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return -1
	}
	n := 0
	if i = skipWS(b, i+1); i < len(b) && b[i] == ']' {
		return endOrFail(b, i+1, n)
	}
	for {
		switch {
		case i < len(b) && b[i] == '{':
			if i = skipWS(b, i+1); i >= len(b) || b[i] != '}' {
				return -1
			}
			i++
		case len(b)-i >= 4 && string(b[i:i+4]) == "null":
			i += 4
		default:
			return -1
		}
		n++
		if i = skipWS(b, i); i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return endOrFail(b, i+1, n)
		default:
			return -1
		}
	}
}

// endOrFail returns n when only whitespace follows b[i:], otherwise -1.
func endOrFail(b []byte, i, n int) int {
	if skipWS(b, i) != len(b) {
		return -1
	}
	return n
}

// metaArray decodes a metadata array (sent as a string holding a JSON array)
// and checks its length. An absent optional key leaves dst nil.
func (r *Request) metaArray(key string, n int, required bool, dst any) error {
	raw, ok := lookup(r.Metadata, key)
	if !ok || isNull(raw) {
		if required && n > 0 {
			return fmt.Errorf("metadata %q: %w", key, ErrNoBinding)
		}
		return nil
	}
	if err := unwrapJSON(raw, dst); err != nil {
		return fmt.Errorf("metadata %q: %w", key, err)
	}
	var got int
	switch v := dst.(type) {
	case *[]int64:
		got = len(*v)
	case *[]json.RawMessage:
		got = len(*v)
	case *[]string:
		got = len(*v)
	case *[]*string:
		got = len(*v)
	case *[]map[string]any:
		got = len(*v)
	}
	if got != n {
		return fmt.Errorf("metadata %q has %d elements for %d events", key, got, n)
	}
	return nil
}

// scalarText returns a JSON string's value or a number's text.
func scalarText(raw json.RawMessage) (string, error) {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '"' {
		if s, ok := unquote(t); ok { // one per event for OffsetArray
			return string(s), nil
		}
		var s string
		err := json.Unmarshal(t, &s) // its error
		return s, err
	}
	if isNull(t) {
		return "", nil
	}
	var n json.Number
	if err := json.Unmarshal(t, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}

// HTTPRequest is the value of an httpTrigger binding when the host wraps the
// request (enableForwardingHttpRequest false): Data.req = {Url, Method, Query,
// Headers, Params, Identities, Body}.
type HTTPRequest struct {
	Method  string
	URL     string
	Query   map[string]string // multi-valued parameters are joined with ","
	Headers http.Header       // canonical keys
	Params  map[string]string // route parameters
	// Identities are the caller's claims identities (the host sends
	// HttpContext.User.Identities: one per authentication, e.g. the function key's).
	Identities []Identity
	// Body is the request body: the host sends text as is and, for
	// application/octet-stream and multipart bodies, base64 of the bytes. The
	// host sends no Body field for a request without a body.
	Body []byte
}

// Identity is one claims identity of an HTTP request, as the host serializes a
// .NET ClaimsIdentity (only the fields a function may act on).
type Identity struct {
	AuthenticationType string // "WebJobsAuthLevel" for a function or host key
	IsAuthenticated    bool
	Claims             []Claim
}

// Claim is one claim of an Identity, e.g. Type
// "http://schemas.microsoft.com/2017/07/functions/claims/authlevel", Value "Function".
type Claim struct {
	Type  string
	Value string
}

// HTTP decodes the httpTrigger binding name.
func (r *Request) HTTP(name string) (HTTPRequest, error) {
	raw, err := r.Raw(name)
	if err != nil {
		return HTTPRequest{}, err
	}
	var w struct {
		Url        string
		Method     string
		Query      json.RawMessage
		Headers    map[string]json.RawMessage
		Params     map[string]json.RawMessage
		Identities []Identity
		Body       json.RawMessage
	}
	if err := unwrapJSON(raw, &w); err != nil {
		return HTTPRequest{}, fmt.Errorf("http %q: %w", name, err)
	}
	h := HTTPRequest{Method: strings.ToUpper(w.Method), URL: w.Url, Headers: http.Header{}, Identities: w.Identities}
	if len(w.Query) > 0 && !isNull(w.Query) {
		// Newer hosts send an object, older ones a string holding one.
		var q map[string]json.RawMessage
		if err := unwrapJSON(w.Query, &q); err != nil {
			return HTTPRequest{}, fmt.Errorf("http %q Query: %w", name, err)
		}
		if len(q) > 0 {
			h.Query = make(map[string]string, len(q))
			for k, v := range q {
				if h.Query[k], err = scalarText(v); err != nil {
					return HTTPRequest{}, fmt.Errorf("http %q Query %q: %w", name, k, err)
				}
			}
		}
	}
	for k, v := range w.Headers {
		var vals []string
		if err := json.Unmarshal(v, &vals); err != nil {
			s, err := scalarText(v)
			if err != nil {
				return HTTPRequest{}, fmt.Errorf("http %q header %q: %w", name, k, err)
			}
			vals = []string{s}
		}
		for _, s := range vals {
			h.Headers.Add(k, s)
		}
	}
	if len(w.Params) > 0 {
		h.Params = make(map[string]string, len(w.Params))
		for k, v := range w.Params {
			if h.Params[k], err = scalarText(v); err != nil {
				return HTTPRequest{}, fmt.Errorf("http %q Params %q: %w", name, k, err)
			}
		}
	}
	if len(w.Body) > 0 && !isNull(w.Body) {
		if bytes.TrimSpace(w.Body)[0] != '"' {
			// A JSON body the host passed through as a value.
			h.Body = bytes.TrimSpace(w.Body)
		} else {
			var s string
			if err := json.Unmarshal(w.Body, &s); err != nil {
				return HTTPRequest{}, fmt.Errorf("http %q Body: %w", name, err)
			}
			h.Body = []byte(s)
			if isBinaryMedia(h.Headers.Get("Content-Type")) {
				if h.Body, err = base64.StdEncoding.DecodeString(s); err != nil {
					return HTTPRequest{}, fmt.Errorf("http %q Body: binary body is not base64: %w", name, err)
				}
			}
		}
	}
	return h, nil
}

// isBinaryMedia mirrors the host's IsMediaTypeOctetOrMultipart.
func isBinaryMedia(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.EqualFold(mt, "application/octet-stream") || strings.Contains(strings.ToLower(mt), "multipart/")
}

// Decoder constructors for [Handle].

// TimerTrigger returns a decoder of the timerTrigger binding name.
func TimerTrigger(name string) func(*Request) (TimerInfo, error) {
	return func(r *Request) (TimerInfo, error) { return r.Timer(name) }
}

// QueueTrigger returns a decoder of the queueTrigger binding name.
func QueueTrigger(name string) func(*Request) (QueueMessage, error) {
	return func(r *Request) (QueueMessage, error) { return r.Queue(name) }
}

// EventHubTrigger returns a decoder of the eventHubTrigger binding name.
func EventHubTrigger(name string) func(*Request) (EventBatch, error) {
	return func(r *Request) (EventBatch, error) { return r.EventHub(name) }
}

// HTTPTrigger returns a decoder of the httpTrigger binding name.
func HTTPTrigger(name string) func(*Request) (HTTPRequest, error) {
	return func(r *Request) (HTTPRequest, error) { return r.HTTP(name) }
}
