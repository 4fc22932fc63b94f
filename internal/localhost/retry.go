package localhost

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
)

// invokeWithRetry invokes fn with the payload build returns, and with a retry
// policy (function.json "retry") invokes again after its delay until success or
// MaxRetryCount retries (-1: forever, until the host stops). Without a policy it
// invokes once. build gets nil on the first attempt when there is no policy.
func (h *Host) invokeWithRetry(ctx context.Context, fn Function, build func(*azfunc.RetryContext) ([]byte, http.Header, error)) (Response, error) {
	p := fn.Retry
	var rc *azfunc.RetryContext
	if p != nil {
		rc = &azfunc.RetryContext{MaxRetryCount: p.MaxRetryCount}
	}
	for {
		payload, hdr, err := build(rc)
		if err != nil {
			return Response{}, fmt.Errorf("build %s request: %w", fn.Name, err)
		}
		resp, err := h.Invoke(ctx, fn.Name, payload, hdr)
		if err == nil || p == nil {
			return resp, err
		}
		if p.MaxRetryCount >= 0 && rc.RetryCount >= p.MaxRetryCount {
			return resp, fmt.Errorf("%w (after %d retries)", err, rc.RetryCount)
		}
		delay := p.delay(rc.RetryCount)
		h.stats.retry(fn.Name)
		h.log.Warn("invocation failed, retrying", "function", fn.Name, "retry", rc.RetryCount+1, "delay", delay, "err", err)
		select {
		case <-ctx.Done():
			return resp, fmt.Errorf("%w (retry abandoned: %w)", err, ctx.Err())
		case <-time.After(delay):
		}
		exc, _ := json.Marshal(map[string]string{"Message": err.Error()})
		rc = &azfunc.RetryContext{MaxRetryCount: p.MaxRetryCount, RetryCount: rc.RetryCount + 1, Exception: exc}
	}
}

// delay is the wait before retry number n+1.
func (p RetryPolicy) delay(n int) time.Duration {
	if p.Strategy == "fixedDelay" {
		return p.DelayInterval
	}
	d := p.MinimumInterval
	for i := 0; i < n && d < p.MaximumInterval; i++ {
		d *= 2
	}
	if p.MaximumInterval > 0 && d > p.MaximumInterval {
		d = p.MaximumInterval
	}
	return d
}
