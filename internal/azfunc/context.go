package azfunc

import (
	"context"
	"log/slog"
)

type invocationKey struct{}

// FromContext returns the invocation [Handle] stored in the context it passes
// to the run function, or nil.
func FromContext(ctx context.Context) *Invocation {
	inv, _ := ctx.Value(invocationKey{}).(*Invocation)
	return inv
}

func withInvocation(ctx context.Context, inv *Invocation) context.Context {
	return context.WithValue(ctx, invocationKey{}, inv)
}

// ContextLogger wraps base so that records logged with a context that carries
// an invocation (the *Context methods, LogAttrs, called with the ctx given to
// the run function) go through that invocation's logger: they get its
// invocation_id and function attributes and are collected into Response.Logs.
// Records without such a context go to base unchanged. Function cores that
// are built once and shared by all invocations take this logger.
func ContextLogger(base *slog.Logger) *slog.Logger {
	return slog.New(&ctxHandler{base: base.Handler()})
}

type ctxHandler struct {
	base slog.Handler
	ops  []func(slog.Handler) slog.Handler // WithAttrs/WithGroup, in order
}

func (h *ctxHandler) target(ctx context.Context) slog.Handler {
	t := h.base
	if ctx != nil {
		if inv := FromContext(ctx); inv != nil && inv.Logger != nil {
			t = inv.Logger.Handler()
		}
	}
	for _, op := range h.ops {
		t = op(t)
	}
	return t
}

func (h *ctxHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.target(ctx).Enabled(ctx, l)
}

func (h *ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.target(ctx).Handle(ctx, r)
}

func (h *ctxHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &ctxHandler{base: h.base, ops: append(h.ops[:len(h.ops):len(h.ops)], func(t slog.Handler) slog.Handler { return t.WithAttrs(as) })}
}

func (h *ctxHandler) WithGroup(name string) slog.Handler {
	return &ctxHandler{base: h.base, ops: append(h.ops[:len(h.ops):len(h.ops)], func(t slog.Handler) slog.Handler { return t.WithGroup(name) })}
}

// MetricSink receives measurements (internal/telemetry's Client is one).
type MetricSink interface {
	Metric(ctx context.Context, name string, value float64, dims []slog.Attr)
}

// Metric records one measurement of the invocation in ctx, with its
// invocation_id and function (and traceparent, when the host sent one) and
// dims as dimensions. Without an invocation in ctx, or without
// Options.Metrics, it does nothing: the same figures are in the lines.
func Metric(ctx context.Context, name string, value float64, dims ...slog.Attr) {
	inv := FromContext(ctx)
	if inv == nil || inv.metrics == nil {
		return
	}
	all := make([]slog.Attr, 0, len(inv.attrs)+len(dims))
	inv.metrics.Metric(ctx, name, value, append(append(all, inv.attrs...), dims...))
}
