package azfunc

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from the request builders")

func ptr[T any](v T) *T { return &v }

func call(fn string) Call {
	return Call{
		Function:     fn,
		InvocationID: "0f0e5a43-6c3b-4d2c-9a55-2f1de0a6b7c1",
		UtcNow:       time.Date(2024, 5, 1, 11, 0, 0, 123456700, time.UTC),
		RandGuid:     "4e773554-f6b7-4ea2-b07d-4c5fd5aba741",
	}
}

const jobBody = `{"run":"20240501T100000Z-20240501T110000Z","window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"},"sensors":[{"device":"1","sensor":"2","model":"model_1_2"}]}`

var (
	timerValue = TimerInfo{
		Schedule: Schedule{AdjustForDST: true},
		ScheduleStatus: &ScheduleStatus{
			Last:        time.Date(2024, 5, 1, 10, 0, 0, 31000, time.UTC),
			Next:        time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
			LastUpdated: time.Date(2024, 5, 1, 10, 0, 0, 31000, time.UTC),
		},
		IsPastDue: true,
	}
	queueValue = QueueMessage{
		ID:              "5b2f1c7e-29b5-4f6e-8d0b-0d6c1e3c9a11",
		PopReceipt:      "AgAAAAMAAAAAAAAAAgtnj8x+1QE=",
		DequeueCount:    2,
		InsertionTime:   time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC),
		ExpirationTime:  time.Date(2024, 5, 8, 11, 0, 0, 0, time.UTC),
		NextVisibleTime: time.Date(2024, 5, 1, 11, 10, 0, 0, time.UTC),
		Body:            []byte(jobBody),
	}
	partitionValue = PartitionContext{
		FullyQualifiedNamespace: "ns.servicebus.windows.net",
		EventHubName:            "readings",
		ConsumerGroup:           "$Default",
		PartitionId:             "0",
	}
	eventsValue = []Event{
		{
			Body:           []byte(`{"TS":"2018-08-28 23:00:00.000","Device":1,"Sensor":1,"Value":10.16}`),
			SequenceNumber: 101,
			Offset:         "4294967296",
			EnqueuedTime:   time.Date(2024, 5, 1, 11, 0, 0, 123000000, time.UTC),
		},
		{
			Body:           []byte("[{\"TS\":\"2018-08-28T23:00:05Z\",\"Device\":\"1\",\"Tag\":\"2\",\"Value\":-0.5},\n {\"note\":\"<&> \u2028\"}]"),
			SequenceNumber: 102,
			Offset:         "4294967400",
			EnqueuedTime:   time.Date(2024, 5, 1, 11, 0, 0, 456000000, time.UTC),
			PartitionKey:   ptr("device-1"),
			Properties:     map[string]any{"source": "sim", "batch": float64(3)},
		},
	}
	httpValue = HTTPRequest{
		Method:  "POST",
		URL:     "https://app.azurewebsites.net/api/backfill?code=k",
		Query:   map[string]string{"code": "k"},
		Headers: http.Header{"Content-Type": {"application/json"}, "X-Forwarded-For": {"10.0.0.1", "10.0.0.2"}},
		Identities: []Identity{{AuthenticationType: "WebJobsAuthLevel", IsAuthenticated: true, Claims: []Claim{
			{Type: "http://schemas.microsoft.com/2017/07/functions/claims/authlevel", Value: "Function"},
			{Type: "http://schemas.microsoft.com/2017/07/functions/claims/invoke", Value: "true"},
			{Type: "http://schemas.microsoft.com/2017/07/functions/claims/keyid", Value: "default"},
		}}},
		Body: []byte(`{"start":"2024-05-01T00:00:00Z","end":"2024-05-01T06:00:00Z"}`),
	}
)

// Each golden file is the exact output of a builder, and decodes back to the
// value it was built from.
func TestGoldenBuilders(t *testing.T) {
	for _, test := range []struct {
		file   string
		build  func() ([]byte, http.Header, error)
		decode func(*Request) (any, error)
		want   any
	}{
		{
			file:   "timer.json",
			build:  func() ([]byte, http.Header, error) { return NewTimerRequest("timer", timerValue, call("timer-fanout")) },
			decode: func(r *Request) (any, error) { return r.Timer("timer") },
			want:   timerValue,
		},
		{
			file:   "queue.json",
			build:  func() ([]byte, http.Header, error) { return NewQueueRequest("job", queueValue, call("score-sensor")) },
			decode: func(r *Request) (any, error) { return r.Queue("job") },
			want:   queueValue,
		},
		{
			file: "eventhub.json",
			build: func() ([]byte, http.Header, error) {
				c := call("ingest")
				c.Retry = &RetryContext{RetryCount: 1, MaxRetryCount: -1}
				return NewEventHubRequest("events", partitionValue, eventsValue, c)
			},
			decode: func(r *Request) (any, error) { return r.EventHub("events") },
			want: EventBatch{
				Partition:    partitionValue,
				Events:       eventsValue,
				RetryContext: &RetryContext{RetryCount: 1, MaxRetryCount: -1},
			},
		},
		{
			file:   "http.json",
			build:  func() ([]byte, http.Header, error) { return NewHTTPRequest("req", httpValue, call("backfill")) },
			decode: func(r *Request) (any, error) { return r.HTTP("req") },
			want:   httpValue,
		},
	} {
		t.Run(test.file, func(t *testing.T) {
			path := filepath.Join("testdata", test.file)
			got, header, err := test.build()
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(golden, got) {
				t.Errorf("builder output differs from %s (run with -update after checking):\n%s", path, cmp.Diff(string(golden), string(got)))
			}
			if got, want := header.Get(HeaderInvocationID), "0f0e5a43-6c3b-4d2c-9a55-2f1de0a6b7c1"; got != want {
				t.Errorf("invocation id header = %q, want %q", got, want)
			}
			if got, want := header.Get("Content-Type"), "application/json; charset=utf-8"; got != want {
				t.Errorf("content type = %q, want %q", got, want)
			}
			req, err := ParseRequest(golden)
			if err != nil {
				t.Fatal(err)
			}
			v, err := test.decode(req)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(test.want, v); diff != "" {
				t.Errorf("decoded value (-want +got):\n%s", diff)
			}
			sys, err := req.Sys()
			if err != nil {
				t.Fatal(err)
			}
			c := call(sys.MethodName)
			if diff := cmp.Diff(Sys{MethodName: c.Function, UtcNow: c.UtcNow, RandGuid: c.RandGuid}, sys); diff != "" {
				t.Errorf("sys (-want +got):\n%s", diff)
			}
		})
	}
}

// The docs' examples (single encoding, numbers as numbers, Query as a string)
// decode to the same kinds of values.
func TestGoldenDocsVariants(t *testing.T) {
	for _, test := range []struct {
		file   string
		decode func(*Request) (any, error)
		want   any
	}{
		{
			file:   "timer_docs.json",
			decode: func(r *Request) (any, error) { return r.Timer("myTimer") },
			want: TimerInfo{ScheduleStatus: &ScheduleStatus{
				Last:        time.Date(2016, 10, 4, 10, 15, 0, 0, time.UTC),
				Next:        time.Date(2016, 10, 4, 10, 20, 0, 0, time.UTC),
				LastUpdated: time.Date(2016, 10, 4, 10, 16, 0, 0, time.UTC),
			}},
		},
		{
			file:   "timer_nomonitor.json",
			decode: func(r *Request) (any, error) { return r.Timer("timer") },
			want:   TimerInfo{Schedule: Schedule{AdjustForDST: true}},
		},
		{
			file:   "queue_docs.json",
			decode: func(r *Request) (any, error) { return r.Queue("myQueueItem") },
			want: QueueMessage{
				ID:              "800ae4b3-bdd2-4c08-badd-f08e5a34b865",
				PopReceipt:      "AgAAAAMAAAAAAAAAAgtnj8x+1QE=",
				DequeueCount:    1,
				InsertionTime:   time.Date(2019, 10, 9, 17, 58, 31, 0, time.UTC),
				ExpirationTime:  time.Date(2019, 10, 16, 17, 58, 31, 0, time.UTC),
				NextVisibleTime: time.Date(2019, 10, 9, 18, 8, 32, 0, time.UTC),
				Body:            []byte(`{ message: "Message sent" }`),
			},
		},
		{
			file:   "queue_binary.json",
			decode: func(r *Request) (any, error) { return r.QueueBinary("job") },
			want: QueueMessage{
				ID: "5b2f1c7e", PopReceipt: "pop", DequeueCount: 5,
				Body: []byte{0, 1, 2, 0xff},
			},
		},
		{
			file:   "eventhub_single.json",
			decode: func(r *Request) (any, error) { return r.EventHub("events") },
			want: EventBatch{
				Partition: PartitionContext{EventHubName: "readings", ConsumerGroup: "$Default", PartitionId: "3"},
				Events: []Event{
					{Body: []byte(`{"Device":1}`), SequenceNumber: 7, Offset: "100", EnqueuedTime: time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)},
					{Body: []byte(`{"Device":2}`), SequenceNumber: 8, Offset: "200", EnqueuedTime: time.Date(2024, 5, 1, 11, 0, 1, 0, time.UTC), PartitionKey: ptr("k")},
				},
			},
		},
		{
			file:   "http_docs.json",
			decode: func(r *Request) (any, error) { return r.HTTP("req") },
			want: HTTPRequest{
				Method:  "GET",
				URL:     "http://localhost:7071/api/run-status?run=r1",
				Query:   map[string]string{"run": "r1"},
				Headers: http.Header{"Accept": {"application/json"}},
			},
		},
	} {
		t.Run(test.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", test.file))
			if err != nil {
				t.Fatal(err)
			}
			req, err := ParseRequest(b)
			if err != nil {
				t.Fatal(err)
			}
			v, err := test.decode(req)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(test.want, v); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
