package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/batchscore/batchscore/internal/azfunc"
)

func TestShouldSetAside(t *testing.T) {
	unknown := errors.New("something nobody classified")
	transient := fmt.Errorf("write raw blob: %w", &azcore.ResponseError{StatusCode: http.StatusServiceUnavailable})
	refused := fmt.Errorf("insert readings: %w", syscall.ECONNREFUSED)
	retry := func(n, max int) *azfunc.RetryContext { return &azfunc.RetryContext{RetryCount: n, MaxRetryCount: max} }
	for _, tc := range []struct {
		name  string
		err   error
		retry *azfunc.RetryContext
		want  bool
	}{
		{"permanent, first attempt", azfunc.Permanent(errors.New("decode trigger")), nil, true},
		{"storage unavailable, retried forever", transient, retry(1000, -1), false},
		{"SQL connection refused, retried forever", refused, retry(1000, -1), false},
		{"unknown, first attempt", unknown, nil, false},
		{"unknown, below the bound", unknown, retry(DefaultUnknownRetries-1, -1), false},
		{"unknown, at the bound", unknown, retry(DefaultUnknownRetries, -1), true},
		{"shutting down", fmt.Errorf("insert: %w", context.Canceled), retry(50, -1), false},
		{"transient on the last retry of a finite policy", transient, retry(3, 3), true},
		{"transient before the last retry of a finite policy", transient, retry(2, 3), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := New(Config{}, &memBlobs{}, &memStore{})
			if got := f.ShouldSetAside(tc.err, tc.retry); got != tc.want {
				t.Errorf("ShouldSetAside(%v, %+v) = %v, want %v", tc.err, tc.retry, got, tc.want)
			}
		})
	}
}

// TestSetAside: the invocation goes to the rejects container with its reason
// under a name that depends on the batch only, so the host's retries (other
// RetryContext, other sys) rewrite the same blob.
func TestSetAside(t *testing.T) {
	envelope := func(retry int, now string) []byte {
		return fmt.Appendf(nil, `{"Data":{"events":"[\"{}\"]"},"Metadata":{"PartitionContext":{"EventHubName":"readings"},"SequenceNumberArray":"[7]","RetryContext":{"RetryCount":%d,"MaxRetryCount":-1},"sys":{"UtcNow":%q}}}`, retry, now)
	}
	blobs := &memBlobs{}
	f := New(Config{}, blobs, &memStore{})
	first, err := f.SetAside(t.Context(), envelope(0, "2024-05-01T10:00:00Z"), errors.New("no partition"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.SetAside(t.Context(), envelope(5, "2024-05-01T10:07:00Z"), errors.New("no partition"))
	if err != nil {
		t.Fatal(err)
	}
	if first != again || !strings.HasPrefix(first, "invocations/") || len(blobs.blobs) != 1 {
		t.Errorf("names %s and %s, %d blobs: want one blob under invocations/", first, again, len(blobs.blobs))
	}
	other, err := f.SetAside(t.Context(), []byte(`{"Data":{"events":"[\"{}\"]"},"Metadata":{"SequenceNumberArray":"[8]"}}`), errors.New("no partition"))
	if err != nil || other == first {
		t.Errorf("another batch: %s, %v; want another name", other, err)
	}
	var got struct {
		Reason     string          `json:"reason"`
		Function   string          `json:"function"`
		Invocation json.RawMessage `json:"invocation"`
	}
	if err := json.Unmarshal([]byte(blobs.blobs["rejects/"+first]), &got); err != nil {
		t.Fatal(err)
	}
	if got.Reason != "no partition" || got.Function != "ingest" || !strings.Contains(string(got.Invocation), `"RetryCount":5`) {
		t.Errorf("set-aside blob = %s", blobs.blobs["rejects/"+first])
	}

	// A body that is not JSON at all is kept as a string.
	name, err := f.SetAside(t.Context(), []byte("\xffnot json"), errors.New("decode envelope"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(blobs.blobs["rejects/"+name]), &got); err != nil {
		t.Fatal(err)
	}
	var text string
	if err := json.Unmarshal(got.Invocation, &text); err != nil || !strings.Contains(text, "not json") {
		t.Errorf("invocation = %s (%v), want the body as a string", got.Invocation, err)
	}

	// Storage down: the error comes back, so the invocation fails and is retried.
	blobs.err = errors.New("storage down")
	if _, err := f.SetAside(t.Context(), envelope(0, "x"), errors.New("no partition")); err == nil {
		t.Error("SetAside with storage down: nil error")
	}
}
