package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Scope is the Entra ID token scope of the ingestion API.
const Scope = "https://monitor.azure.com//.default"

// Target is what a connection string names: the instrumentation key and the
// ingestion endpoint.
type Target struct {
	IKey     string
	Endpoint string // https://<region>.in.applicationinsights.azure.com/, no trailing slash
}

// ParseConnectionString reads InstrumentationKey and IngestionEndpoint from
// an Application Insights connection string ("Key=Value;..."). A missing
// IngestionEndpoint means the global one, https://dc.services.visualstudio.com.
func ParseConnectionString(s string) (Target, error) {
	var t Target
	for part := range strings.SplitSeq(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "instrumentationkey":
			t.IKey = strings.TrimSpace(v)
		case "ingestionendpoint":
			t.Endpoint = strings.TrimRight(strings.TrimSpace(v), "/")
		}
	}
	if t.IKey == "" {
		return Target{}, errors.New("connection string has no InstrumentationKey")
	}
	if t.Endpoint == "" {
		t.Endpoint = "https://dc.services.visualstudio.com"
	}
	if !strings.HasPrefix(t.Endpoint, "https://") && !strings.HasPrefix(t.Endpoint, "http://") {
		return Target{}, fmt.Errorf("IngestionEndpoint %q is not an http(s) URL", t.Endpoint)
	}
	return t, nil
}

// Options configure a [Client].
type Options struct {
	Target Target
	// Credential, when set, adds an Entra ID bearer token (Scope) to each post.
	Credential azcore.TokenCredential
	// Role and RoleInstance become the ai.cloud.role and ai.cloud.roleInstance
	// tags (cloud_RoleName, cloud_RoleInstance in the tables).
	Role, RoleInstance string
	// MaxQueue bounds the items waiting to be sent; default 8192.
	MaxQueue int
	// MaxBatch bounds the items of one post; default 500.
	MaxBatch int
	// FlushInterval is the longest an item waits for a batch to fill; default 2 s.
	FlushInterval time.Duration
	// RetryDelay is the wait before the one retry of a failed batch; default 2 s.
	RetryDelay time.Duration
	// HTTPClient posts the batches; default a client with a 30 s timeout.
	HTTPClient *http.Client
	// OnError receives export problems (never the queue's own items); nil ignores them.
	OnError func(error)
}

// Stats count the items by fate.
type Stats struct {
	Queued   int64 // accepted into the queue
	Sent     int64 // accepted by the endpoint
	Dropped  int64 // refused: the queue was full
	Failed   int64 // refused by the endpoint or lost to a failed post
	Rejected int64 // of Failed: refused item by item in a partial answer
}

// Client queues telemetry items and posts them in batches. It is safe for
// concurrent use.
type Client struct {
	o     Options
	url   string
	items chan []byte
	flush chan chan struct{}
	kick  chan struct{}
	done  chan struct{}
	stop  chan struct{}
	once  sync.Once

	queued, sent, dropped, failed, rejected atomic.Int64

	tokMu  sync.Mutex
	tok    azcore.AccessToken
	closed atomic.Bool
}

// New returns a client and starts its sender.
func New(o Options) *Client {
	if o.MaxQueue <= 0 {
		o.MaxQueue = 8192
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 500
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 2 * time.Second
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 2 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	c := &Client{
		o:     o,
		url:   o.Target.Endpoint + "/v2.1/track",
		items: make(chan []byte, o.MaxQueue),
		flush: make(chan chan struct{}),
		kick:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		stop:  make(chan struct{}),
	}
	go c.loop()
	return c
}

// Stats returns the counts so far.
func (c *Client) Stats() Stats {
	return Stats{Queued: c.queued.Load(), Sent: c.sent.Load(), Dropped: c.dropped.Load(),
		Failed: c.failed.Load(), Rejected: c.rejected.Load()}
}

// enqueue adds one encoded envelope without blocking.
func (c *Client) enqueue(e *envelope) {
	if c.closed.Load() {
		c.dropped.Add(1)
		return
	}
	e.IKey = c.o.Target.IKey
	if c.o.Role != "" {
		e.Tags["ai.cloud.role"] = c.o.Role
	}
	if c.o.RoleInstance != "" {
		e.Tags["ai.cloud.roleInstance"] = c.o.RoleInstance
	}
	b, err := json.Marshal(e)
	if err != nil {
		c.dropped.Add(1)
		c.report(fmt.Errorf("telemetry: encode %s: %w", e.Name, err))
		return
	}
	select {
	case c.items <- b:
		c.queued.Add(1)
	default:
		c.dropped.Add(1)
	}
}

// Flush sends what is queued now and returns when it was posted (or dropped)
// or ctx ends.
func (c *Client) Flush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case c.flush <- ack:
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Kick asks the sender to post what is queued now, without waiting for it.
// The handler kicks after each invocation: the Functions host kills a worker
// process it disposes of (WorkerProcess.Dispose), so items left queued then
// are lost; kicking bounds that loss to what was logged since the last
// invocation ended.
func (c *Client) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Close stops accepting items, sends what is queued and returns when done or
// when ctx ends (the rest is then lost and counted as dropped).
func (c *Client) Close(ctx context.Context) error {
	c.once.Do(func() {
		c.closed.Store(true)
		close(c.stop)
	})
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("telemetry: close: %w (%d items not sent)", ctx.Err(), len(c.items))
	}
}

func (c *Client) loop() {
	defer close(c.done)
	t := time.NewTicker(c.o.FlushInterval)
	defer t.Stop()
	batch := make([][]byte, 0, c.o.MaxBatch)
	send := func() {
		if len(batch) > 0 {
			c.post(batch)
			batch = batch[:0]
		}
	}
	add := func(b []byte) {
		batch = append(batch, b)
		if len(batch) == c.o.MaxBatch {
			send()
		}
	}
	drain := func() {
		for {
			select {
			case b := <-c.items:
				add(b)
			default:
				send()
				return
			}
		}
	}
	var reported int64
	for {
		select {
		case b := <-c.items:
			add(b)
		case <-t.C:
			send()
			if d := c.dropped.Load(); d > reported {
				c.report(fmt.Errorf("telemetry: %d items dropped: the queue of %d was full", d-reported, c.o.MaxQueue))
				reported = d
			}
		case ack := <-c.flush:
			drain()
			close(ack)
		case <-c.kick:
			drain()
		case <-c.stop:
			drain()
			return
		}
	}
}

// trackResponse is the ingestion API's answer.
type trackResponse struct {
	ItemsReceived int `json:"itemsReceived"`
	ItemsAccepted int `json:"itemsAccepted"`
	Errors        []struct {
		Index      int    `json:"index"`
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
	} `json:"errors"`
}

// post sends one batch, retrying once on a retriable failure.
func (c *Client) post(batch [][]byte) {
	body := make([]byte, 0, 64*len(batch))
	body = append(body, '[')
	for i, b := range batch {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, b...)
	}
	body = append(body, ']')
	n := int64(len(batch))
	for attempt := 1; ; attempt++ {
		status, resp, err := c.send(body)
		switch {
		case err == nil && status == http.StatusOK:
			c.sent.Add(n)
			return
		case err == nil && status == http.StatusPartialContent:
			bad := int64(len(resp.Errors))
			c.sent.Add(n - bad)
			c.failed.Add(bad)
			c.rejected.Add(bad)
			msg := ""
			if len(resp.Errors) > 0 {
				msg = fmt.Sprintf(": item %d: %d %s", resp.Errors[0].Index, resp.Errors[0].StatusCode, resp.Errors[0].Message)
			}
			c.report(fmt.Errorf("telemetry: %d of %d items refused%s", bad, n, msg))
			return
		}
		if err == nil {
			err = fmt.Errorf("status %d", status)
		}
		if attempt == 1 && (status == 0 || retriable(status)) {
			select {
			case <-time.After(c.o.RetryDelay):
				continue
			case <-c.stop:
				// Shutting down: one immediate retry instead of waiting.
				continue
			}
		}
		c.failed.Add(n)
		c.report(fmt.Errorf("telemetry: post %d items to %s: %w", n, c.url, err))
		return
	}
}

func retriable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

func (c *Client) send(body []byte) (int, trackResponse, error) {
	var resp trackResponse
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return 0, resp, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.o.Credential != nil {
		tok, err := c.token(ctx)
		if err != nil {
			return 0, resp, fmt.Errorf("token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	r, err := c.o.HTTPClient.Do(req)
	if err != nil {
		return 0, resp, err
	}
	defer r.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if r.StatusCode == http.StatusOK || r.StatusCode == http.StatusPartialContent {
		_ = json.Unmarshal(data, &resp)
		return r.StatusCode, resp, nil
	}
	return r.StatusCode, resp, fmt.Errorf("status %d: %s", r.StatusCode, bytes.TrimSpace(data))
}

// token returns a cached token, renewed five minutes before it expires.
func (c *Client) token(ctx context.Context) (string, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.tok.Token != "" && time.Until(c.tok.ExpiresOn) > 5*time.Minute {
		return c.tok.Token, nil
	}
	tok, err := c.o.Credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{Scope}})
	if err != nil {
		return "", err
	}
	c.tok = tok
	return tok.Token, nil
}

func (c *Client) report(err error) {
	if c.o.OnError != nil {
		c.o.OnError(err)
	}
}
