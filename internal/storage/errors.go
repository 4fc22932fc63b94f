package storage

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"
)

// ErrNotFound is wrapped by errors for a blob, container, queue or message that
// does not exist, and for a message whose pop receipt is stale (another receiver
// holds it now, or it was deleted); test with errors.Is.
var ErrNotFound = errors.New("not found")

// notFound adds ErrNotFound to err when the service said the resource is missing.
func notFound(err error) error {
	if err == nil {
		return nil
	}
	if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound, bloberror.ResourceNotFound) ||
		queueerror.HasCode(err, queueerror.QueueNotFound, queueerror.MessageNotFound, queueerror.ResourceNotFound,
			queueerror.PopReceiptMismatch) {
		return errors.Join(ErrNotFound, err)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		return errors.Join(ErrNotFound, err)
	}
	return err
}

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
