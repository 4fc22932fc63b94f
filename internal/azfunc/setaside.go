package azfunc

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// SetAsideRecord is the document a function keeps in the rejects container
// for what it will not process, so that an operator finds what was received,
// why, and by which function: ingest keeps a whole invocation (Invocation,
// through Options.SetAside), score-poison a queue message (ID to Body).
type SetAsideRecord struct {
	Function string `json:"function"`
	Reason   string `json:"reason"`
	// Invocation is the invocation request body: JSON, or a JSON string
	// when the body was not JSON.
	Invocation json.RawMessage `json:"invocation,omitzero"`
	// The queue message, for a message set aside.
	ID            string    `json:"id,omitzero"`
	DequeueCount  int64     `json:"dequeue_count,omitzero"`
	InsertionTime time.Time `json:"insertion_time,omitzero"`
	Queue         string    `json:"queue,omitzero"`
	Body          string    `json:"body,omitzero"`
}

// BlobPutter writes a blob (storage.Blobs.Put).
type BlobPutter interface {
	Put(ctx context.Context, container, name string, data []byte, contentType string) error
}

// PutSetAside writes rec as one JSON line to container/name. Writing the
// same name again overwrites it, so retries of one set-aside are idempotent.
func PutSetAside(ctx context.Context, blobs BlobPutter, container, name string, rec SetAsideRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("set aside %s/%s: encode: %w", container, name, err)
	}
	if err := blobs.Put(ctx, container, name, append(data, '\n'), "application/json"); err != nil {
		return fmt.Errorf("set aside %s/%s: %w", container, name, err)
	}
	return nil
}
