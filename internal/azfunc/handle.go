package azfunc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Invocation describes one call of a function by the host.
type Invocation struct {
	ID       string // X-Azure-Functions-InvocationId
	Function string
	// Logger writes each line once: with Options.Direct to the process
	// logger (direct telemetry) only; otherwise Info lines into Response.Logs
	// (or, when the answer is not 2xx, the process log) and the others to the
	// process log, with invocation_id and function attributes.
	Logger  *slog.Logger
	Request *Request
	Sys     Sys // Metadata.sys; zero when absent
	// Retry is Metadata.RetryContext, set when the function has a retry
	// policy (timer, Event Hubs); RetryCount 0 is the first attempt. Logger
	// then adds retry_count and max_retry_count to every line.
	Retry *RetryContext

	logs    *collector
	attrs   []slog.Attr // invocation_id, function, traceparent: the dimensions of its metrics
	metrics MetricSink
}

// Now returns Metadata.sys.UtcNow, the host's time of the trigger, or the
// current time when the payload has none.
func (inv *Invocation) Now() time.Time {
	if !inv.Sys.UtcNow.IsZero() {
		return inv.Sys.UtcNow
	}
	return time.Now().UTC()
}

// Logs returns the lines collected so far.
func (inv *Invocation) Logs() []string { return inv.logs.snapshot() }

// Options configure [Handle].
type Options struct {
	// Logger is the process logger (see [NewLogger]); nil discards.
	Logger *slog.Logger
	// Timeout bounds each invocation (context deadline derived from the
	// request's context). Zero means no deadline beyond the request's own.
	Timeout time.Duration
	// HTTPOutput is the name of the "http" output binding of an HTTP-triggered
	// function ("res"). When set, errors are answered to the host with 200 and
	// Outputs[HTTPOutput] = 400 (permanent) or 500 (transient), so the caller
	// receives a JSON error with the invocation id.
	HTTPOutput string
	// MaxBodyBytes bounds the invocation request body; zero means 256 MiB.
	MaxBodyBytes int64
	// Direct says that Logger sends each record to Application Insights
	// itself (internal/telemetry): records then go only there, and
	// Response.Logs carries none of them.
	Direct bool
	// Metrics receives the invocation's measurements (see [Metric]); nil
	// discards them.
	Metrics MetricSink
	// Done, when set, is called after each invocation's answer is written
	// (the handler posts the invocation's telemetry then; see
	// telemetry.Client.Kick). It must not block.
	Done func()
	// SetAside, when set, is offered every failed invocation with its raw
	// request body and error (ctx is detached from the invocation's deadline
	// and cancellation and has a deadline of its own). It returns true when it
	// kept the invocation where an operator finds it, and the answer is then
	// 200, so that the host moves on (an Event Hubs checkpoint advances); false
	// fails the invocation as usual. An error from SetAside fails it too.
	SetAside func(ctx context.Context, inv *Invocation, body []byte, err error) (bool, error)
}

// setAsideTimeout bounds Options.SetAside.
const setAsideTimeout = 30 * time.Second

const defaultMaxBody = 256 << 20

// Handle adapts a typed function core to the host protocol. It is the one
// place that reads the envelope, decodes the trigger, applies the deadline,
// runs the core, maps its error and writes the response:
//
//   - decode error: permanent; run error: as returned.
//   - nil: 200 with the Response, its Logs followed by the collected lines.
//   - error: 500 (host retries or poisons), logged at error level with
//     permanent=true|false to stderr; the host drops Logs of non-2xx
//     responses, so the collected lines go to stdout instead. With
//     Options.HTTPOutput: 200 with Outputs.res 400 or 500.
//   - error that Options.SetAside kept: 200, the error logged as above.
//
// A panic in decode or run is recovered and treated as a transient error.
func Handle[T any](name string, decode func(*Request) (T, error), run func(ctx context.Context, inv *Invocation, in T) (Response, error), opts Options) http.Handler {
	base := opts.Logger
	if base == nil {
		base = slog.New(slog.DiscardHandler)
	}
	maxBody := opts.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = defaultMaxBody
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := r.Context()
		if opts.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
			defer cancel()
		}
		id := r.Header.Get(HeaderInvocationID)
		c := &collector{}
		attrs := []slog.Attr{slog.String("invocation_id", id), slog.String("function", name)}
		if tp := r.Header.Get("traceparent"); tp != "" {
			attrs = append(attrs, slog.String("traceparent", tp))
		}
		inv := &Invocation{
			ID:       id,
			Function: name,
			logs:     c,
			attrs:    attrs,
			metrics:  opts.Metrics,
			Logger: slog.New(&teeHandler{
				next:   base.Handler().WithAttrs(attrs),
				c:      c,
				direct: opts.Direct,
			}),
		}
		ctx = withInvocation(ctx, inv)
		resp, body, err := invoke(ctx, r, inv, maxBody, decode, run)
		if err != nil && opts.SetAside != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), setAsideTimeout)
			kept, serr := opts.SetAside(sctx, inv, body, err)
			cancel()
			switch {
			case serr != nil:
				err = fmt.Errorf("%w (and setting the invocation aside failed: %v)", err, serr)
			case kept:
				err, resp = nil, Response{}
			}
		}
		status := http.StatusOK
		if err != nil {
			permanent := IsPermanent(err)
			inv.Logger.LogAttrs(ctx, slog.LevelError, "invocation failed",
				slog.Bool("permanent", permanent),
				slog.String("err", err.Error()),
				slog.Duration("duration", time.Since(start)))
			resp = Response{}
			if opts.HTTPOutput != "" {
				code, msg := http.StatusInternalServerError, "internal error"
				if permanent {
					code, msg = http.StatusBadRequest, err.Error()
				}
				resp, _ = JSONResponse(opts.HTTPOutput, code, map[string]string{"error": msg, "invocationId": id})
			} else {
				status = http.StatusInternalServerError
			}
		} else {
			inv.Logger.LogAttrs(ctx, slog.LevelDebug, "invocation succeeded", slog.Duration("duration", time.Since(start)))
		}
		if status == http.StatusOK {
			resp.Logs = append(resp.Logs, c.snapshot()...)
		} else {
			c.spill(context.WithoutCancel(ctx))
		}
		if werr := writeResponse(w, status, resp); werr != nil {
			base.LogAttrs(ctx, slog.LevelWarn, "write invocation response",
				slog.String("invocation_id", id), slog.String("function", name), slog.String("err", werr.Error()))
		}
		if opts.Done != nil {
			opts.Done()
		}
	})
}

// invoke reads, decodes and runs one invocation; it returns the request body
// it read (for Options.SetAside) with the outcome.
func invoke[T any](ctx context.Context, r *http.Request, inv *Invocation, maxBody int64, decode func(*Request) (T, error), run func(context.Context, *Invocation, T) (Response, error)) (resp Response, body []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	body, err = readBody(r, maxBody)
	if err != nil {
		return Response{}, body, fmt.Errorf("read invocation request: %w", err)
	}
	if int64(len(body)) > maxBody {
		return Response{}, body, Permanent(fmt.Errorf("invocation request larger than %d bytes", maxBody))
	}
	req, err := ParseRequest(body)
	if err != nil {
		return Response{}, body, Permanent(err)
	}
	inv.Request = req
	if s, err := req.Sys(); err == nil {
		inv.Sys = s
	} else if !errors.Is(err, ErrNoBinding) {
		inv.Logger.LogAttrs(ctx, slog.LevelWarn, "ignoring unreadable Metadata.sys", slog.String("err", err.Error()))
	}
	if rc, err := req.RetryContext(); err != nil {
		inv.Logger.LogAttrs(ctx, slog.LevelWarn, "ignoring unreadable Metadata.RetryContext", slog.String("err", err.Error()))
	} else if rc != nil {
		inv.Retry = rc
		inv.Logger = inv.Logger.With("retry_count", rc.RetryCount, "max_retry_count", rc.MaxRetryCount)
	}
	in, err := decode(req)
	if err != nil {
		return Response{}, body, Permanent(fmt.Errorf("decode trigger: %w", err))
	}
	resp, err = run(ctx, inv, in)
	return resp, body, err
}

// readBody reads at most maxBody+1 bytes of r's body, as io.ReadAll does but
// into a buffer of the Content-Length the host announces (when it is within
// maxBody): an Event Hubs batch is megabytes, which io.ReadAll would reach
// by growing from 512 bytes, copying at each step.
func readBody(r *http.Request, maxBody int64) ([]byte, error) {
	size := int64(512)
	if n := r.ContentLength; n > 0 && n <= maxBody {
		size = n + 1 // the extra byte leaves room to see EOF without growing
	}
	lr := io.LimitReader(r.Body, maxBody+1)
	b := make([]byte, 0, size)
	for { // io.ReadAll's loop
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}
