package storage

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"
)

// Queue is one storage queue. Bodies are base64-encoded on the wire (the
// Functions host's default messageEncoding), and decoded again on Receive/Peek.
type Queue struct {
	name string
	c    *azqueue.QueueClient
}

// Message is a received (or peeked) queue message.
type Message struct {
	ID              string
	PopReceipt      string // empty for peeked messages
	Text            string // the stored message text (base64 of Body)
	Body            []byte // Text decoded; nil when Text is not valid base64 (see BadEncoding)
	BadEncoding     bool   // Text is not base64: the host would move such a message to the poison queue
	DequeueCount    int64
	InsertionTime   time.Time
	ExpirationTime  time.Time
	NextVisibleTime time.Time
}

// MaxReceive is the largest batch one Receive or Peek call can return (a service limit).
const MaxReceive = 32

// Name returns the queue name.
func (q *Queue) Name() string { return q.name }

// Ensure creates the queue when it does not exist.
func (q *Queue) Ensure(ctx context.Context) error {
	_, err := q.c.Create(ctx, nil)
	if err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
		return fmt.Errorf("create queue %s: %w", q.name, notFound(err))
	}
	return nil
}

// Encode returns the stored text of a message body: standard base64.
func Encode(body []byte) string { return base64.StdEncoding.EncodeToString(body) }

// Enqueue adds one message whose body the host will decode to exactly body.
func (q *Queue) Enqueue(ctx context.Context, body []byte) error {
	if _, err := q.c.EnqueueMessage(ctx, Encode(body), nil); err != nil {
		return fmt.Errorf("enqueue to %s: %w", q.name, notFound(err))
	}
	return nil
}

// EnqueueText adds one message whose stored text is text, as given: for copying
// a received message (Message.Text) to another queue unchanged, as the Functions
// host does when it moves a message to the poison queue.
func (q *Queue) EnqueueText(ctx context.Context, text string) error {
	if _, err := q.c.EnqueueMessage(ctx, text, nil); err != nil {
		return fmt.Errorf("enqueue to %s: %w", q.name, notFound(err))
	}
	return nil
}

// EnqueueMany enqueues bodies with at most parallelism requests in flight
// (parallelism < 1 means 1). It stops starting new requests after the first
// failure and returns how many messages were enqueued and that first error.
// Order is not preserved.
func (q *Queue) EnqueueMany(ctx context.Context, bodies [][]byte, parallelism int) (int, error) {
	if parallelism < 1 {
		parallelism = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		done     atomic.Int64
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for range min(parallelism, len(bodies)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) || ctx.Err() != nil {
					return
				}
				if err := q.Enqueue(ctx, bodies[i]); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil && int(done.Load()) < len(bodies) {
		firstErr = fmt.Errorf("enqueue to %s: %w", q.name, ctx.Err())
	}
	return int(done.Load()), firstErr
}

// Receive dequeues up to limit messages (1..MaxReceive) and hides them for
// visibility (at least one second). It returns an empty slice when the queue is empty.
func (q *Queue) Receive(ctx context.Context, limit int, visibility time.Duration) ([]Message, error) {
	n := int32(min(max(limit, 1), MaxReceive))
	vis := int32(max(visibility.Round(time.Second)/time.Second, 1))
	resp, err := q.c.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{NumberOfMessages: &n, VisibilityTimeout: &vis})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.name, notFound(err))
	}
	out := make([]Message, 0, len(resp.Messages))
	for _, m := range resp.Messages {
		msg := Message{
			ID:              deref(m.MessageID),
			PopReceipt:      deref(m.PopReceipt),
			DequeueCount:    deref(m.DequeueCount),
			InsertionTime:   derefTime(m.InsertionTime),
			ExpirationTime:  derefTime(m.ExpirationTime),
			NextVisibleTime: derefTime(m.TimeNextVisible),
		}
		msg.setText(deref(m.MessageText))
		out = append(out, msg)
	}
	return out, nil
}

// Peek returns up to limit messages (1..MaxReceive) without hiding them; PopReceipt is empty.
func (q *Queue) Peek(ctx context.Context, limit int) ([]Message, error) {
	n := int32(min(max(limit, 1), MaxReceive))
	resp, err := q.c.PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: &n})
	if err != nil {
		return nil, fmt.Errorf("peek %s: %w", q.name, notFound(err))
	}
	out := make([]Message, 0, len(resp.Messages))
	for _, m := range resp.Messages {
		msg := Message{
			ID:             deref(m.MessageID),
			DequeueCount:   deref(m.DequeueCount),
			InsertionTime:  derefTime(m.InsertionTime),
			ExpirationTime: derefTime(m.ExpirationTime),
		}
		msg.setText(deref(m.MessageText))
		out = append(out, msg)
	}
	return out, nil
}

func (m *Message) setText(s string) {
	m.Text = s
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		m.BadEncoding = true
		return
	}
	m.Body = b
}

// Delete removes a received message. A message that is gone or whose pop
// receipt is stale gives an error wrapping ErrNotFound.
func (q *Queue) Delete(ctx context.Context, id, popReceipt string) error {
	if _, err := q.c.DeleteMessage(ctx, id, popReceipt, nil); err != nil {
		return fmt.Errorf("delete message %s from %s: %w", id, q.name, notFound(err))
	}
	return nil
}

// UpdateVisibility makes a received message visible again after d (0 = now) and
// returns its new pop receipt. The message text is kept: the service's update
// call replaces the text, so m.Text is sent back unchanged.
func (q *Queue) UpdateVisibility(ctx context.Context, m Message, d time.Duration) (string, error) {
	vis := int32(max(d.Round(time.Second)/time.Second, 0))
	resp, err := q.c.UpdateMessage(ctx, m.ID, m.PopReceipt, m.Text, &azqueue.UpdateMessageOptions{VisibilityTimeout: &vis})
	if err != nil {
		return "", fmt.Errorf("update visibility of message %s in %s: %w", m.ID, q.name, notFound(err))
	}
	if resp.PopReceipt == nil {
		return "", errors.New("update visibility: no pop receipt in response")
	}
	return *resp.PopReceipt, nil
}

// Count returns the approximate number of messages in the queue.
func (q *Queue) Count(ctx context.Context) (int, error) {
	resp, err := q.c.GetProperties(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("count messages of %s: %w", q.name, notFound(err))
	}
	return int(deref(resp.ApproximateMessagesCount)), nil
}

// Clear deletes every message of the queue.
func (q *Queue) Clear(ctx context.Context) error {
	if _, err := q.c.ClearMessages(ctx, nil); err != nil {
		return fmt.Errorf("clear %s: %w", q.name, notFound(err))
	}
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefTime(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.UTC()
}
