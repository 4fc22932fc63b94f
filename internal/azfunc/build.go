package azfunc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultHostVersion is the host version the builders report when Call.HostVersion is empty.
const DefaultHostVersion = "4.1037.0.0"

// Call describes one invocation for the request builders: what the host puts
// in headers and Metadata.sys.
type Call struct {
	Function     string    // function (folder) name: the URL path and sys.MethodName
	InvocationID string    // X-Azure-Functions-InvocationId
	UtcNow       time.Time // sys.UtcNow
	RandGuid     string    // sys.RandGuid
	HostVersion  string    // X-Azure-Functions-HostVersion; DefaultHostVersion when empty
	// Retry, when set, is sent as Metadata.RetryContext (functions with a retry policy).
	Retry *RetryContext
}

// NewCall returns a Call for function at now with fresh random ids.
func NewCall(function string, now time.Time) Call {
	return Call{Function: function, InvocationID: newUUID(), UtcNow: now.UTC(), RandGuid: newUUID()}
}

// Header returns the headers the host sends with the invocation request.
func (c Call) Header() http.Header {
	v := c.HostVersion
	if v == "" {
		v = DefaultHostVersion
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	if c.InvocationID != "" {
		h.Set(HeaderInvocationID, c.InvocationID)
	}
	h.Set(HeaderHostVersion, v)
	h.Set("User-Agent", "Azure-Functions-Host/"+v)
	return h
}

// NewRequest returns the POST the host sends to the handler at baseURL
// (http://127.0.0.1:PORT) for this call, with the given body.
func (c Call) NewRequest(ctx context.Context, baseURL string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(baseURL, "/")+"/"+c.Function, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("azfunc: new invocation request: %w", err)
	}
	req.Header = c.Header()
	return req, nil
}

func (c Call) sys() object {
	return object{
		{"MethodName", c.Function},
		{"UtcNow", c.UtcNow.UTC().Format(dotnetUTC)},
		{"RandGuid", c.RandGuid},
	}
}

func (c Call) metadataTail(m object) object {
	m = append(m, member{"sys", c.sys()})
	if c.Retry != nil {
		rc := object{{"RetryCount", c.Retry.RetryCount}, {"MaxRetryCount", c.Retry.MaxRetryCount}}
		if len(c.Retry.Exception) > 0 {
			rc = append(rc, member{"Exception", c.Retry.Exception})
		}
		m = append(m, member{"RetryContext", rc})
	}
	return m
}

func envelope(data, metadata object, c Call) ([]byte, http.Header, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, object{{"Data", data}, {"Metadata", metadata}}); err != nil {
		return nil, nil, err
	}
	return b.Bytes(), c.Header(), nil
}

// NewTimerRequest builds the host's request for a timerTrigger binding: Data
// holds TimerInfo as an object (ScheduleStatus null without useMonitor), Metadata only sys.
func NewTimerRequest(bindingName string, info TimerInfo, call Call) ([]byte, http.Header, error) {
	var status any
	if s := info.ScheduleStatus; s != nil {
		status = object{
			{"Last", s.Last.Format(dotnetOffset)},
			{"Next", s.Next.Format(dotnetOffset)},
			{"LastUpdated", s.LastUpdated.Format(dotnetOffset)},
		}
	}
	data := object{{bindingName, object{
		{"Schedule", object{{"AdjustForDST", info.Schedule.AdjustForDST}}},
		{"ScheduleStatus", status},
		{"IsPastDue", info.IsPastDue},
	}}}
	return envelope(data, call.metadataTail(nil), call)
}

// NewQueueRequest builds the host's request for a queueTrigger binding
// (default dataType). The message text is double-encoded in Data; Metadata
// has DequeueCount, ExpirationTime, Id, InsertionTime, NextVisibleTime,
// PopReceipt (times to the second, as the host's ToString()/Parse round trip
// leaves them) and, when the message is a JSON object, its top-level
// non-array, non-null properties, as the host's Utility.ApplyBindingData adds
// them: scalars as strings (numbers in .NET form, booleans True/False),
// objects as objects; a property whose name matches a trigger key
// case-insensitively replaces that key's value.
func NewQueueRequest(bindingName string, msg QueueMessage, call Call) ([]byte, http.Header, error) {
	if !utf8.Valid(msg.Body) {
		return nil, nil, errors.New("azfunc: queue message body is not UTF-8 text (use dataType binary)")
	}
	text, err := serialize(string(msg.Body))
	if err != nil {
		return nil, nil, err
	}
	str := func(s string) string { t, _ := serialize(s); return t }
	meta := object{
		{"DequeueCount", fmt.Sprint(msg.DequeueCount)}, // SerializeObject(long): the text 1 in a JSON string
		{"ExpirationTime", msg.ExpirationTime.Format(dotnetNoFraction)},
		{"Id", str(msg.ID)},
		{"InsertionTime", msg.InsertionTime.Format(dotnetNoFraction)},
		{"NextVisibleTime", msg.NextVisibleTime.Format(dotnetNoFraction)},
		{"PopReceipt", str(msg.PopReceipt)},
	}
	meta = call.metadataTail(meta)
	props, err := messageProperties(msg.Body)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range props {
		replaced := false
		for i := range meta {
			if strings.EqualFold(meta[i].key, p.key) {
				meta[i].val, replaced = p.val, true
				break
			}
		}
		if !replaced {
			meta = append(meta, p)
		}
	}
	return envelope(object{{bindingName, text}}, meta, call)
}

// messageProperties returns the binding data the host derives from a JSON
// object message, already in their Metadata form. A body that is not a JSON
// object gives none (the host ignores the parse failure).
func messageProperties(body []byte) (object, error) {
	t := bytes.TrimSpace(body)
	if len(t) < 2 || t[0] != '{' || t[len(t)-1] != '}' {
		return nil, nil
	}
	v, err := parseOrdered(t)
	if err != nil {
		return nil, nil
	}
	o, ok := v.(object)
	if !ok {
		return nil, nil
	}
	var out object
	for _, m := range o {
		var val any
		switch x := m.val.(type) {
		case []any:
			continue
		case object:
			val = x
		case nil:
			continue
		default:
			raw, err := serialize(x)
			if err != nil {
				return nil, err
			}
			s, ok := netPropertyString(json.RawMessage(raw))
			if !ok {
				continue
			}
			val, err = serialize(s) // the host's SerializeObject of the string
			if err != nil {
				return nil, err
			}
		}
		// Last one wins for duplicate names, case-insensitively.
		replaced := false
		for i := range out {
			if strings.EqualFold(out[i].key, m.key) {
				out[i].val, replaced = val, true
			}
		}
		if !replaced {
			out = append(out, member{m.key, val})
		}
	}
	return out, nil
}

// parseOrdered decodes JSON keeping object key order; numbers stay json.Number.
func parseOrdered(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := parseValue(d)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("azfunc: trailing data after JSON value")
	}
	return v, nil
}

func parseValue(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var o object
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				v, err := parseValue(d)
				if err != nil {
					return nil, err
				}
				o = append(o, member{k.(string), v})
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
			if o == nil {
				o = object{}
			}
			return o, nil
		case '[':
			a := []any{}
			for d.More() {
				v, err := parseValue(d)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("azfunc: unexpected %v", t)
	case json.Number:
		if strings.ContainsAny(t.String(), ".eE") {
			f, err := t.Float64()
			if err == nil {
				return f, nil
			}
		}
		return t, nil
	default:
		return t, nil // string, bool, nil
	}
}

// NewEventHubRequest builds the host's request for an eventHubTrigger binding
// with cardinality many and dataType string: Data holds a string of a JSON
// array of the event bodies as text; Metadata has PartitionContext and the
// per-event arrays, each a string of JSON, EnqueuedTimeUtcArray without a
// zone designator.
func NewEventHubRequest(bindingName string, partition PartitionContext, events []Event, call Call) ([]byte, http.Header, error) {
	bodies := make([]any, len(events))
	keys := make([]any, len(events))
	offsets := make([]any, len(events))
	seqs := make([]any, len(events))
	times := make([]any, len(events))
	props := make([]any, len(events))
	sysProps := make([]any, len(events))
	for i, e := range events {
		if !utf8.Valid(e.Body) {
			return nil, nil, fmt.Errorf("azfunc: event %d body is not UTF-8 text", i)
		}
		bodies[i] = string(e.Body)
		var key any
		if e.PartitionKey != nil {
			key = *e.PartitionKey
		}
		keys[i] = key
		offsets[i] = e.Offset
		seqs[i] = e.SequenceNumber
		enq := e.EnqueuedTime.UTC()
		times[i] = enq.Format(dotnetUnspecified)
		p := map[string]any{}
		for k, v := range e.Properties {
			p[k] = v
		}
		props[i] = p
		sysProps[i] = object{
			{"x-opt-sequence-number", e.SequenceNumber},
			{"x-opt-offset", e.Offset},
			{"x-opt-enqueued-time", enq.Format(dotnetUTC)},
			{"x-opt-partition-key", key},
			{"SequenceNumber", e.SequenceNumber},
			{"Offset", e.Offset},
			{"PartitionKey", key},
			{"EnqueuedTimeUtc", enq.Format(dotnetUnspecified)},
		}
	}
	ser := func(v any) (string, error) { return serialize(v) }
	var meta object
	meta = append(meta, member{"PartitionContext", object{
		{"FullyQualifiedNamespace", partition.FullyQualifiedNamespace},
		{"EventHubName", partition.EventHubName},
		{"ConsumerGroup", partition.ConsumerGroup},
		{"PartitionId", partition.PartitionId},
	}})
	for _, a := range []struct {
		key string
		v   []any
	}{
		{"PartitionKeyArray", keys}, {"OffsetArray", offsets}, {"SequenceNumberArray", seqs},
		{"EnqueuedTimeUtcArray", times}, {"PropertiesArray", props}, {"SystemPropertiesArray", sysProps},
	} {
		s, err := ser(a.v)
		if err != nil {
			return nil, nil, err
		}
		meta = append(meta, member{a.key, s})
	}
	data, err := ser(bodies)
	if err != nil {
		return nil, nil, err
	}
	return envelope(object{{bindingName, data}}, call.metadataTail(meta), call)
}

// NewHTTPRequest builds the host's request for an httpTrigger binding when the
// request is not forwarded: Data[bindingName] = {Url, Method, Query, Headers,
// Params, Identities, Body} (Body as text, or base64 for application/octet-stream
// and multipart bodies; absent when empty, as the host sends it only when
// ContentLength > 0). Identities are serialized as the host's Newtonsoft
// serialization of a ClaimsIdentity (HttpRequestExtensions.GetRequestAsJObject).
// Metadata has Query, Headers (first value of each), one string entry per query
// parameter, and sys. The JSON-body binding data of a real host is not produced.
func NewHTTPRequest(bindingName string, req HTTPRequest, call Call) ([]byte, http.Header, error) {
	query := map[string]any{}
	for k, v := range req.Query {
		query[k] = v
	}
	headers := map[string]any{}
	firstHeaders := map[string]any{}
	for k, vs := range req.Headers {
		a := make([]any, len(vs))
		for i, v := range vs {
			a[i] = v
		}
		headers[k] = a
		if len(vs) > 0 {
			firstHeaders[k] = vs[0]
		}
	}
	params := map[string]any{}
	for k, v := range req.Params {
		params[k] = v
	}
	r := object{
		{"Url", req.URL},
		{"Method", strings.ToUpper(req.Method)},
		{"Query", query},
		{"Headers", headers},
		{"Params", params},
		{"Identities", identitiesJSON(req.Identities)},
	}
	if len(req.Body) > 0 {
		if isBinaryMedia(req.Headers.Get("Content-Type")) {
			r = append(r, member{"Body", base64.StdEncoding.EncodeToString(req.Body)})
		} else {
			if !utf8.Valid(req.Body) {
				return nil, nil, errors.New("azfunc: http body is not UTF-8 text (use application/octet-stream)")
			}
			r = append(r, member{"Body", string(req.Body)})
		}
	}
	meta := object{{"Query", query}, {"Headers", firstHeaders}}
	for _, k := range slices.Sorted(maps.Keys(req.Query)) {
		s, err := serialize(req.Query[k])
		if err != nil {
			return nil, nil, err
		}
		meta = append(meta, member{k, s})
	}
	return envelope(object{{bindingName, r}}, call.metadataTail(meta), call)
}

// identitiesJSON is the host's serialization of ClaimsIdentity values (Newtonsoft,
// reference loops ignored), in the property order of the .NET type.
func identitiesJSON(ids []Identity) []any {
	const stringType = "http://www.w3.org/2001/XMLSchema#string"
	out := make([]any, len(ids))
	for i, id := range ids {
		claims := make([]any, len(id.Claims))
		for j, c := range id.Claims {
			claims[j] = object{
				{"Issuer", "LOCAL AUTHORITY"}, {"OriginalIssuer", "LOCAL AUTHORITY"}, {"Properties", map[string]any{}},
				{"Type", c.Type}, {"Value", c.Value}, {"ValueType", stringType},
			}
		}
		var authType any
		if id.AuthenticationType != "" {
			authType = id.AuthenticationType
		}
		out[i] = object{
			{"AuthenticationType", authType}, {"IsAuthenticated", id.IsAuthenticated}, {"Actor", nil},
			{"BootstrapContext", nil}, {"Claims", claims}, {"Label", nil}, {"Name", nil},
			{"NameClaimType", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"},
			{"RoleClaimType", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"},
		}
	}
	return out
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
