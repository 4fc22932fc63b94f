package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// envelope is the ingestion API's TelemetryItem.
type envelope struct {
	Name string            `json:"name"`
	Time string            `json:"time"`
	IKey string            `json:"iKey"`
	Tags map[string]string `json:"tags"`
	Data envelopeData      `json:"data"`
}

type envelopeData struct {
	BaseType string `json:"baseType"`
	BaseData any    `json:"baseData"`
}

// messageData is a trace (the traces table).
type messageData struct {
	Ver           int               `json:"ver"`
	Message       string            `json:"message"`
	SeverityLevel string            `json:"severityLevel"`
	Properties    map[string]string `json:"properties,omitempty"`
}

// metricsData is one metric value (the customMetrics table).
type metricsData struct {
	Ver        int               `json:"ver"`
	Metrics    []dataPoint       `json:"metrics"`
	Properties map[string]string `json:"properties,omitempty"`
}

type dataPoint struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Count int     `json:"count"`
}

// Severity returns the ingestion API's severity level of a slog level.
func Severity(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "Verbose"
	case l < slog.LevelWarn:
		return "Information"
	case l < slog.LevelError:
		return "Warning"
	case l == slog.LevelError:
		return "Error"
	default:
		return "Critical"
	}
}

// Attribute keys that become envelope tags as well as dimensions.
const (
	KeyInvocationID = "invocation_id" // dimension InvocationId, as the host's requests have it
	KeyFunction     = "function"      // tag ai.operation.name
	KeyTraceParent  = "traceparent"   // W3C header of the invocation request, when the host sends one
)

// props turns attributes into dimensions and tags: keys joined by "." in
// groups, values as text (times RFC 3339, errors their message, structs JSON).
func props(attrs []slog.Attr) (map[string]string, map[string]string) {
	p := make(map[string]string, len(attrs))
	for _, a := range attrs {
		addAttr(p, "", a)
	}
	tags := map[string]string{}
	if id := p[KeyInvocationID]; id != "" {
		delete(p, KeyInvocationID)
		p["InvocationId"] = id
		tags["ai.operation.id"] = id
	}
	if fn := p[KeyFunction]; fn != "" {
		tags["ai.operation.name"] = fn
	}
	if tp, ok := p[KeyTraceParent]; ok {
		delete(p, KeyTraceParent)
		// version-traceid-spanid-flags
		if f := strings.Split(tp, "-"); len(f) == 4 && len(f[1]) == 32 && len(f[2]) == 16 {
			tags["ai.operation.id"] = f[1]
			tags["ai.operation.parentId"] = f[2]
		}
	}
	return p, tags
}

func addAttr(p map[string]string, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	key := prefix + a.Key
	switch a.Value.Kind() {
	case slog.KindGroup:
		pre := prefix
		if a.Key != "" {
			pre = key + "."
		}
		for _, g := range a.Value.Group() {
			addAttr(p, pre, g)
		}
	case slog.KindTime:
		p[key] = a.Value.Time().UTC().Format(time.RFC3339Nano)
	case slog.KindAny:
		switch x := a.Value.Any().(type) {
		case error:
			p[key] = x.Error()
		case fmt.Stringer:
			p[key] = x.String()
		default:
			if b, err := json.Marshal(x); err == nil {
				p[key] = string(b)
			} else {
				p[key] = a.Value.String()
			}
		}
	default:
		p[key] = a.Value.String()
	}
}

// Trace queues one trace.
func (c *Client) Trace(t time.Time, level slog.Level, msg string, attrs []slog.Attr) {
	p, tags := props(attrs)
	c.enqueue(&envelope{
		Name: "Microsoft.ApplicationInsights.Message",
		Time: t.UTC().Format(time.RFC3339Nano),
		Tags: tags,
		Data: envelopeData{BaseType: "MessageData", BaseData: messageData{
			Ver: 2, Message: msg, SeverityLevel: Severity(level), Properties: p}},
	})
}

// Metric queues one metric value with its dimensions.
func (c *Client) Metric(ctx context.Context, name string, value float64, attrs []slog.Attr) {
	p, tags := props(attrs)
	c.enqueue(&envelope{
		Name: "Microsoft.ApplicationInsights.Metric",
		Time: time.Now().UTC().Format(time.RFC3339Nano),
		Tags: tags,
		Data: envelopeData{BaseType: "MetricData", BaseData: metricsData{
			Ver: 2, Metrics: []dataPoint{{Name: name, Value: value, Count: 1}}, Properties: p}},
	})
}

// Handler returns a slog handler that queues every record at or above level
// as one trace on c.
func (c *Client) Handler(level slog.Leveler) slog.Handler {
	return &handler{c: c, level: level}
}

type handler struct {
	c     *Client
	level slog.Leveler
	attrs []slog.Attr
	group string
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	attrs := make([]slog.Attr, 0, len(h.attrs)+r.NumAttrs())
	attrs = append(attrs, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		if h.group != "" {
			a.Key = h.group + "." + a.Key
		}
		attrs = append(attrs, a)
		return true
	})
	h.c.Trace(r.Time, r.Level, r.Message, attrs)
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], as...)
	if h.group != "" {
		for i := len(h.attrs); i < len(n.attrs); i++ {
			n.attrs[i].Key = h.group + "." + n.attrs[i].Key
		}
	}
	return &n
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	if h.group != "" {
		n.group = h.group + "." + name
	} else {
		n.group = name
	}
	return &n
}
