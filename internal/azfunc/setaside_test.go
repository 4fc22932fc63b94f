package azfunc

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

type putRecorder struct {
	blobs map[string]string
	err   error
}

func (p *putRecorder) Put(_ context.Context, container, name string, data []byte, contentType string) error {
	if p.err != nil {
		return p.err
	}
	if contentType != "application/json" {
		return errors.New("content type " + contentType)
	}
	p.blobs[container+"/"+name] = string(data)
	return nil
}

// TestPutSetAside: one JSON line per record, only the fields of what was set
// aside (an invocation or a queue message); a failed write names the blob.
func TestPutSetAside(t *testing.T) {
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		rec  SetAsideRecord
		want string
	}{
		{"invocation", SetAsideRecord{Function: "ingest", Reason: "no partition", Invocation: json.RawMessage(`{"Data":{}}`)},
			`{"function":"ingest","reason":"no partition","invocation":{"Data":{}}}` + "\n"},
		{"queue message", SetAsideRecord{Function: "score-poison", Reason: "decode job", ID: "m1", DequeueCount: 5, InsertionTime: at,
			Queue: "score-jobs-poison", Body: "not a job"},
			`{"function":"score-poison","reason":"decode job","id":"m1","dequeue_count":5,"insertion_time":"2024-05-01T10:00:00Z","queue":"score-jobs-poison","body":"not a job"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &putRecorder{blobs: map[string]string{}}
			if err := PutSetAside(t.Context(), p, "rejects", "x.json", tc.rec); err != nil {
				t.Fatal(err)
			}
			if got := p.blobs["rejects/x.json"]; got != tc.want {
				t.Errorf("blob\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	err := PutSetAside(t.Context(), &putRecorder{err: errors.New("storage down")}, "rejects", "x.json", SetAsideRecord{})
	if err == nil || !strings.Contains(err.Error(), "rejects/x.json: storage down") {
		t.Errorf("err = %v, want one naming the blob and the cause", err)
	}
}
