package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"
)

// ErrNotFound is wrapped by errors for a blob, container, queue or message that
// does not exist, and for a message whose pop receipt is stale (another receiver
// holds it now, or it was deleted); test with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrTooLarge is wrapped by errors for a blob larger than the caller's limit.
var ErrTooLarge = errors.New("blob too large")

// notFound returns err as one line (see serviceError) and adds ErrNotFound
// when the service said the resource is missing.
func notFound(err error) error {
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		err = &serviceError{re: re}
	}
	if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound, bloberror.ResourceNotFound) ||
		queueerror.HasCode(err, queueerror.QueueNotFound, queueerror.MessageNotFound, queueerror.ResourceNotFound,
			queueerror.PopReceiptMismatch) ||
		re != nil && re.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// serviceError is an SDK response error told in one line,
// "GET https://acct.blob.core.windows.net/models/model_1_2: 404 Not Found (BlobNotFound)",
// instead of the SDK's multi-line dump with the response body, which would
// otherwise end up in log lines, outcome rows and run-status answers. It
// wraps the SDK error, so bloberror.HasCode, queueerror.HasCode and
// errors.As(*azcore.ResponseError) still work.
type serviceError struct{ re *azcore.ResponseError }

func (e *serviceError) Error() string {
	var b strings.Builder
	if r := e.re.RawResponse; r != nil && r.Request != nil && r.Request.URL != nil {
		u := *r.Request.URL
		u.RawQuery, u.User = "", nil // no SAS tokens or credentials
		fmt.Fprintf(&b, "%s %s: ", r.Request.Method, u.String())
	}
	fmt.Fprintf(&b, "%d %s", e.re.StatusCode, http.StatusText(e.re.StatusCode))
	if e.re.ErrorCode != "" {
		fmt.Fprintf(&b, " (%s)", e.re.ErrorCode)
	}
	return b.String()
}

func (e *serviceError) Unwrap() error { return e.re }

// IsTransient reports whether retrying the operation later may succeed: network
// errors (refused, reset, timeouts, unexpected EOF), per-try deadlines, and
// service answers 408, 429 and 5xx. A cancelled context is not transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode == http.StatusRequestTimeout || re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ETIMEDOUT) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}
