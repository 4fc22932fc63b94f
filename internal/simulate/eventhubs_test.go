package simulate

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
)

// TestHubSend sends a small fleet to a real Event Hub through the azeventhubs
// producer and checks, from the partitions' last sequence numbers, that the
// hub took every event. No Event Hubs emulator runs without Docker, and
// NewEventDataBatch needs the broker (it sizes the batch from the AMQP link's
// maximum message size), so the batching itself is tested with fakeHub.
func TestHubSend(t *testing.T) {
	ns, hub, conn := os.Getenv("EVENTHUB_NAMESPACE"), os.Getenv("EVENTHUB_NAME"), os.Getenv("EVENTHUB_CONNECTION_STRING")
	if conn == "" && (ns == "" || hub == "") {
		t.Skip("needs a real Event Hub: set EVENTHUB_NAMESPACE (NAME.servicebus.windows.net) and EVENTHUB_NAME " +
			"(signed in for DefaultAzureCredential with the Azure Event Hubs Data Sender and Data Receiver roles), or EVENTHUB_CONNECTION_STRING")
	}
	if conn != "" {
		ns = ""
	}
	p, err := NewProducer(ns, hub, conn, azeventhubs.RetryOptions{MaxRetries: 3, RetryDelay: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	defer p.Close(context.WithoutCancel(ctx))
	last := func() int64 {
		t.Helper()
		props, err := p.GetEventHubProperties(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, id := range props.PartitionIDs {
			pp, err := p.GetPartitionProperties(ctx, id, nil)
			if err != nil {
				t.Fatal(err)
			}
			n += pp.LastEnqueuedSequenceNumber
		}
		return n
	}
	before := last()
	f := testFleet(5, 3, 0.05)
	f.Start = time.Now().UTC().Truncate(f.Interval)
	sum, err := Run(ctx, Config{Fleet: f, Ticks: 6, Sender: Hub{Producer: p}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sent != 30 || sum.Batches < 5 {
		t.Errorf("summary %+v: want 30 events sent in at least one batch per device", sum)
	}
	if d := last() - before; d < int64(sum.Sent) {
		t.Errorf("the partitions' sequence numbers grew by %d, want at least %d", d, sum.Sent)
	}
}
