package localhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/storage"
)

// queuedMessage is one dequeued message: the queue trigger's value (with Body
// after messageEncoding is applied) and the message as stored.
type queuedMessage struct {
	azfunc.QueueMessage
	stored storage.Message
}

// queueListener polls one queue for one queueTrigger function, with the Storage
// Queues extension's semantics. It applies messageEncoding itself to the stored
// text (storage.Message.Text), as the host does.
type queueListener struct {
	h      *Host
	fn     Function
	b      Binding
	opts   QueueOptions
	q      *storage.Queue
	poison *storage.Queue // nil when the queue has no poison queue
	lease  time.Duration  // visibility while a message is being processed
	poke   chan struct{}

	mu       sync.Mutex
	inFlight int
}

func newQueueListener(ctx context.Context, h *Host, fn Function, b Binding) (*queueListener, error) {
	if b.QueueName == "" {
		return nil, fmt.Errorf("%s: queueTrigger without queueName", fn.Name)
	}
	acct, err := h.storageAccount(fn, b)
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(b.QueueName)
	l := &queueListener{
		h: h, fn: fn, b: b, opts: h.cfg.Queues,
		q:     acct.Queue(name),
		lease: 10 * time.Minute,
		poke:  make(chan struct{}, 1),
	}
	if h.cfg.Queues.Lease > 0 {
		l.lease = h.cfg.Queues.Lease
	}
	// The host creates the trigger queue if it is missing; the poison queue exists
	// unless the name already ends in -poison or would be too long (63).
	if err := l.q.Ensure(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", fn.Name, err)
	}
	if p := PoisonQueue(name); p != "" {
		l.poison = acct.Queue(p)
	}
	return l, nil
}

// storageAccount is the account of a queue binding's connection setting
// (default AzureWebJobsStorage).
func (h *Host) storageAccount(fn Function, b Binding) (*storage.Account, error) {
	conn := b.Connection
	if conn == "" {
		conn = "AzureWebJobsStorage"
	}
	cs, ok := h.settings[conn]
	if !ok || cs == "" {
		return nil, fmt.Errorf("%s: connection setting %q is not set", fn.Name, conn)
	}
	acct, err := storage.New(storage.Config{ConnectionString: cs})
	if err != nil {
		return nil, fmt.Errorf("%s: queue connection %s: %w", fn.Name, conn, err)
	}
	return acct, nil
}

// PoisonQueue returns the name of the poison queue of a queue, or "" if it has none.
func PoisonQueue(queue string) string {
	queue = strings.ToLower(queue)
	if strings.HasSuffix(queue, "-poison") || len(queue)+len("-poison") > 63 {
		return ""
	}
	return queue + "-poison"
}

func (l *queueListener) start() {
	l.h.wg.Add(1)
	go func() {
		defer l.h.wg.Done()
		l.loop(l.h.ctx)
	}()
}

// loop is the host's QueueListener: fetch up to batchSize messages when the number
// in flight is at or below newBatchThreshold; back off exponentially from 100 ms to
// maxPollingInterval while the queue is empty. A poke resets the back-off, as the
// host's SharedQueueWatcher does when a queue output binding of the same host
// writes to the queue (writeOutputs); messages enqueued with the Storage SDK
// (fan-out's jobs) wake no listener.
func (l *queueListener) loop(ctx context.Context) {
	const minInterval = 100 * time.Millisecond
	interval := minInterval
	done := make(chan struct{}, l.opts.BatchSize*2+1)
	var work sync.WaitGroup
	defer work.Wait()
	for {
		l.mu.Lock()
		n := l.inFlight
		l.mu.Unlock()
		if n <= l.opts.NewBatchThreshold {
			msgs, err := l.receive(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				l.h.log.Error("queue receive failed", "function", l.fn.Name, "queue", l.b.QueueName, "err", err)
			}
			for _, m := range msgs {
				l.mu.Lock()
				l.inFlight++
				l.mu.Unlock()
				work.Add(1)
				go func(m queuedMessage) {
					defer work.Done()
					l.process(ctx, m)
					l.mu.Lock()
					l.inFlight--
					l.mu.Unlock()
					select {
					case done <- struct{}{}:
					default:
					}
				}(m)
			}
			if len(msgs) > 0 {
				interval = minInterval
				continue
			}
			if err == nil {
				l.h.stats.queueEmpty(l.fn.Name)
			}
		}
		wait := interval
		if n > l.opts.NewBatchThreshold {
			wait = l.opts.MaxPollingInterval
		} else if interval *= 2; interval > l.opts.MaxPollingInterval {
			interval = l.opts.MaxPollingInterval
		}
		select {
		case <-ctx.Done():
			return
		case <-l.poke:
			interval = minInterval
		case <-done:
		case <-time.After(wait):
		}
	}
}

func (l *queueListener) receive(ctx context.Context) ([]queuedMessage, error) {
	msgs, err := l.q.Receive(ctx, l.opts.BatchSize, l.lease)
	if err != nil {
		return nil, err
	}
	out := make([]queuedMessage, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, queuedMessage{QueueMessage: azfunc.QueueMessage{
			ID:              m.ID,
			PopReceipt:      m.PopReceipt,
			DequeueCount:    m.DequeueCount,
			InsertionTime:   m.InsertionTime,
			ExpirationTime:  m.ExpirationTime,
			NextVisibleTime: m.NextVisibleTime,
			Body:            []byte(m.Text), // messageEncoding none: the text as stored
		}, stored: m})
	}
	l.h.stats.received(l.fn.Name, len(out))
	return out, nil
}

// process invokes the function with one message and completes it the host's way
// (QueueProcessor): success deletes it; a failure at DequeueCount >= maxDequeueCount
// copies the message text to <queue>-poison and deletes it; any other failure makes
// it visible again after visibilityTimeout. A message that is already past
// maxDequeueCount, or whose text is not valid base64 under messageEncoding base64,
// is poisoned without an invocation.
func (l *queueListener) process(ctx context.Context, m queuedMessage) {
	log := l.h.log.With("function", l.fn.Name, "message", m.ID, "dequeueCount", m.DequeueCount)
	if m.DequeueCount > int64(l.opts.MaxDequeueCount) {
		l.toPoison(ctx, m, "dequeue count above maxDequeueCount")
		return
	}
	if l.opts.MessageEncoding == "base64" {
		if m.stored.BadEncoding {
			// The host's trigger binding fails with "The input is not a valid Base-64 string"
			// before the function runs; the message is retried like any failure.
			err := errors.New("the input is not a valid Base-64 string (messageEncoding base64)")
			log.Error("queue message is not valid base64", "err", err)
			l.failed(ctx, m, err)
			return
		}
		m.Body = m.stored.Body
	}
	payload, hdr, err := queuePayload(l.fn.Name, l.b, m.QueueMessage)
	if err != nil {
		log.Error("build queue request", "err", err)
		l.failed(ctx, m, err)
		return
	}
	_, err = l.h.Invoke(ctx, l.fn.Name, payload, hdr)
	if ctx.Err() != nil {
		return // stopping: the message becomes visible again after its lease
	}
	if err != nil {
		l.failed(ctx, m, err)
		return
	}
	if err := l.q.Delete(ctx, m.ID, m.PopReceipt); err != nil {
		log.Error("delete processed message", "err", err)
		return
	}
	l.h.stats.deleted(l.fn.Name)
}

func (l *queueListener) failed(ctx context.Context, m queuedMessage, cause error) {
	if l.poison != nil && m.DequeueCount >= int64(l.opts.MaxDequeueCount) {
		l.toPoison(ctx, m, cause.Error())
		return
	}
	if _, err := l.q.UpdateVisibility(ctx, m.stored, l.opts.VisibilityTimeout); err != nil {
		l.h.log.Error("release failed message", "function", l.fn.Name, "message", m.ID, "err", err)
	}
	l.h.stats.released(l.fn.Name)
}

func (l *queueListener) toPoison(ctx context.Context, m queuedMessage, why string) {
	log := l.h.log.With("function", l.fn.Name, "message", m.ID, "dequeueCount", m.DequeueCount)
	if l.poison == nil {
		log.Error("message failed maxDequeueCount times; queue has no poison queue", "reason", why)
		return
	}
	if err := l.poison.Ensure(ctx); err != nil {
		log.Error("create poison queue", "err", err)
		return
	}
	if err := l.poison.EnqueueText(ctx, m.stored.Text); err != nil {
		log.Error("copy message to poison queue", "err", err)
		return
	}
	if err := l.q.Delete(ctx, m.ID, m.PopReceipt); err != nil {
		log.Error("delete poisoned message", "err", err)
	}
	l.h.stats.poisoned(l.fn.Name)
	log.Warn("message moved to the poison queue", "queue", PoisonQueue(l.b.QueueName), "reason", why)
}

// length is the queue's approximate message count (visible and invisible).
func (l *queueListener) length(ctx context.Context) (int, error) {
	return l.q.Count(ctx)
}

func (l *queueListener) busy() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}

// pokeQueue makes the listeners of the queue named queue poll now: the host's
// SharedQueueWatcher.Notify(queue name) after a queue output binding's write.
func (h *Host) pokeQueue(queue string) {
	for _, q := range h.queues {
		if q.q.Name() == queue {
			q.wake()
		}
	}
}

func (l *queueListener) wake() {
	select {
	case l.poke <- struct{}{}:
	default:
	}
}

var errNoQueue = errors.New("no queueTrigger function of that name")

// QueueLength returns the approximate number of messages (visible or not) in the
// trigger queue of the queueTrigger function fn.
func (h *Host) QueueLength(ctx context.Context, fn string) (int, error) {
	q, ok := h.queues[fn]
	if !ok {
		return 0, fmt.Errorf("queue length of %s: %w", fn, errNoQueue)
	}
	return q.length(ctx)
}
