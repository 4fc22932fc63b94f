package localhost

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/robfig/cron/v3"

	"github.com/batchscore/batchscore/internal/azfunc"
)

// The runner's request bodies are the golden payloads of internal/azfunc, the
// files the handler's tests replay: built here from the same inputs, they must
// match field for field (sys holds the invocation's clock and a random GUID).

func goldenJSON(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "azfunc", "testdata", name))
	if err != nil {
		t.Fatalf("golden payload: %v", err)
	}
	return decodePayload(t, b)
}

func decodePayload(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("payload does not parse: %v\n%s", err, b)
	}
	return m
}

// sameAsGolden compares a runner payload with a golden one, after checking that
// the runner's sys names the function and dropping sys from both, and dropping
// the Metadata keys in skip.
func sameAsGolden(t *testing.T, fn string, got []byte, golden map[string]any, skip ...string) {
	t.Helper()
	g := decodePayload(t, got)
	gm, _ := g["Metadata"].(map[string]any)
	sys, _ := gm["sys"].(map[string]any)
	if sys["MethodName"] != fn || sys["UtcNow"] == "" || sys["RandGuid"] == "" {
		t.Errorf("sys = %v, want MethodName %s, UtcNow and RandGuid", sys, fn)
	}
	wm := golden["Metadata"].(map[string]any)
	for _, k := range append(skip, "sys") {
		delete(gm, k)
		delete(wm, k)
	}
	if diff := cmp.Diff(golden, g); diff != "" {
		t.Errorf("runner payload differs from the golden one (-golden +runner):\n%s", diff)
	}
}

func TestQueuePayloadIsGolden(t *testing.T) {
	m := azfunc.QueueMessage{
		ID: "5b2f1c7e-29b5-4f6e-8d0b-0d6c1e3c9a11", PopReceipt: "AgAAAAMAAAAAAAAAAgtnj8x+1QE=", DequeueCount: 2,
		InsertionTime:   time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC),
		ExpirationTime:  time.Date(2024, 5, 8, 11, 0, 0, 0, time.UTC),
		NextVisibleTime: time.Date(2024, 5, 1, 11, 10, 0, 0, time.UTC),
		Body:            []byte(`{"run":"20240501T100000Z-20240501T110000Z","window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"},"sensors":[{"device":"1","sensor":"2","model":"model_1_2"}]}`),
	}
	b, _, err := queuePayload("score-sensor", Binding{Type: "queueTrigger", Name: "job"}, m)
	if err != nil {
		t.Fatal(err)
	}
	sameAsGolden(t, "score-sensor", b, goldenJSON(t, "queue.json"))
}

func TestTimerPayloadIsGolden(t *testing.T) {
	sched, err := cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow).Parse("0 0 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	st := timerState{Schedule: sched, Now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		Status: azfunc.ScheduleStatus{Last: time.Date(2024, 5, 1, 10, 0, 0, 31000, time.UTC), Next: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
			LastUpdated: time.Date(2024, 5, 1, 10, 0, 0, 31000, time.UTC)}, PastDue: true, UseMonitor: true}
	b, _, err := timerPayload("timer-fanout", Binding{Type: "timerTrigger", Name: "timer"}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameAsGolden(t, "timer-fanout", b, goldenJSON(t, "timer.json"))

	st = timerState{Schedule: sched, Now: time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)}
	if b, _, err = timerPayload("timer-fanout", Binding{Type: "timerTrigger", Name: "timer"}, st, nil); err != nil {
		t.Fatal(err)
	}
	sameAsGolden(t, "timer-fanout", b, goldenJSON(t, "timer_nomonitor.json"))
}

// The golden Event Hubs batch also has partition keys and application
// properties, which the local feed does not produce; everything else (bodies
// double-encoded, partition context, sequence numbers, offsets, enqueued times,
// retry context) must be the same.
func TestEventHubPayloadIsGolden(t *testing.T) {
	batch := []Event{
		{Partition: "0", Sequence: 101, Offset: 4294967296, Enqueued: time.Date(2024, 5, 1, 11, 0, 0, 123000000, time.UTC),
			Body: []byte(`{"TS":"2018-08-28 23:00:00.000","Device":1,"Sensor":1,"Value":10.16}`)},
		{Partition: "0", Sequence: 102, Offset: 4294967400, Enqueued: time.Date(2024, 5, 1, 11, 0, 0, 456000000, time.UTC),
			Body: []byte("[{\"TS\":\"2018-08-28T23:00:05Z\",\"Device\":\"1\",\"Tag\":\"2\",\"Value\":-0.5},\n {\"note\":\"<&> \u2028\"}]")},
	}
	b, _, err := eventHubPayload("ingest", Binding{Type: "eventHubTrigger", Name: "events", EventHubName: "readings"}, batch,
		&azfunc.RetryContext{RetryCount: 1, MaxRetryCount: -1})
	if err != nil {
		t.Fatal(err)
	}
	golden := goldenJSON(t, "eventhub.json")
	golden["Metadata"].(map[string]any)["PartitionContext"].(map[string]any)["FullyQualifiedNamespace"] = "localhost.servicebus.windows.net"
	sameAsGolden(t, "ingest", b, golden, "PartitionKeyArray", "PropertiesArray", "SystemPropertiesArray")
}
