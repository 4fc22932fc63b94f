package simulate

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/go-amqp"
)

// Hub is the Sender on an Event Hubs producer client.
type Hub struct{ Producer *azeventhubs.ProducerClient }

// NewBatch starts a batch for the partition key. The SDK sizes it to the
// hub's maximum message size, which it reads from the AMQP sender link, so
// this opens the connection (and retries per the client's RetryOptions).
func (h Hub) NewBatch(ctx context.Context, partitionKey string) (Batch, error) {
	key := partitionKey
	b, err := h.Producer.NewEventDataBatch(ctx, &azeventhubs.EventDataBatchOptions{PartitionKey: &key})
	if err != nil {
		return nil, err
	}
	return hubBatch{b: b, key: key}, nil
}

// Send sends the batch; the hub's "server busy" is returned wrapping ErrThrottled.
func (h Hub) Send(ctx context.Context, b Batch) error {
	hb, ok := b.(hubBatch)
	if !ok {
		return fmt.Errorf("simulate: Hub.Send got a %T, not a batch of its own", b)
	}
	err := h.Producer.SendEventDataBatch(ctx, hb.b, nil)
	if throttled(err) {
		return fmt.Errorf("%w: %w", ErrThrottled, err)
	}
	return err
}

// serverBusy is the AMQP error condition of Event Hubs' throttling, which the
// SDK retries as a transient error (azeventhubs internal/errors.go) and
// returns unchanged once its retries are spent.
const serverBusy amqp.ErrCond = "com.microsoft:server-busy"

func throttled(err error) bool {
	var ae *amqp.Error
	return errors.As(err, &ae) && ae.Condition == serverBusy
}

type hubBatch struct {
	b   *azeventhubs.EventDataBatch
	key string
}

var contentType = "application/json"

func (b hubBatch) Add(body []byte) error {
	return b.b.AddEventData(&azeventhubs.EventData{Body: body, ContentType: &contentType}, nil)
}
func (b hubBatch) Len() int      { return int(b.b.NumEvents()) }
func (b hubBatch) Bytes() uint64 { return b.b.NumBytes() }
func (b hubBatch) Key() string   { return b.key }

// NewProducer opens a producer client on a hub: with a connection string
// when one is given (a SAS policy with Send rights; the string may carry the
// hub as EntityPath, then hub must be empty), else with namespace (the fully
// qualified name, NAME.servicebus.windows.net) and DefaultAzureCredential,
// whose identity needs the Azure Event Hubs Data Sender role.
func NewProducer(namespace, hub, connectionString string, retry azeventhubs.RetryOptions) (*azeventhubs.ProducerClient, error) {
	opts := &azeventhubs.ProducerClientOptions{ApplicationID: "batchscore-simulate", RetryOptions: retry}
	if connectionString != "" {
		return azeventhubs.NewProducerClientFromConnectionString(connectionString, hub, opts)
	}
	if namespace == "" || hub == "" {
		return nil, errors.New("simulate: give the namespace and hub, or a connection string")
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("simulate: credential: %w", err)
	}
	return azeventhubs.NewProducerClient(namespace, hub, cred, opts)
}
