package telemetry

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/batchscore/batchscore/internal/telemetry/ingestiontest"
)

func start(t *testing.T, in *ingestiontest.Server, o Options) *Client {
	t.Helper()
	t.Cleanup(in.Close)
	tgt, err := ParseConnectionString(in.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	o.Target = tgt
	if o.RetryDelay == 0 {
		o.RetryDelay = 10 * time.Millisecond
	}
	return New(o)
}

func TestParseConnectionString(t *testing.T) {
	for _, test := range []struct {
		in, ikey, endpoint, err string
	}{
		{"InstrumentationKey=k;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;LiveEndpoint=https://x/;ApplicationId=a", "k", "https://westeurope-5.in.applicationinsights.azure.com", ""},
		{"instrumentationkey=k", "k", "https://dc.services.visualstudio.com", ""},
		{"IngestionEndpoint=https://x/", "", "", "connection string has no InstrumentationKey"},
		{"InstrumentationKey=k;IngestionEndpoint=ftp://x", "", "", `IngestionEndpoint "ftp://x" is not an http(s) URL`},
	} {
		got, err := ParseConnectionString(test.in)
		if test.err != "" {
			if err == nil || err.Error() != test.err {
				t.Errorf("%q: err %v, want %q", test.in, err, test.err)
			}
			continue
		}
		if err != nil || got.IKey != test.ikey || got.Endpoint != test.endpoint {
			t.Errorf("%q = %+v, %v", test.in, got, err)
		}
	}
}

// TestHandlerOneTracePerRecord: each record is one MessageData envelope with
// its severity, message and attributes as properties; invocation_id becomes
// InvocationId and the operation id, function the operation name, a
// traceparent the operation and parent ids.
func TestHandlerOneTracePerRecord(t *testing.T) {
	in := ingestiontest.Start()
	c := start(t, in, Options{Role: "func-app", RoleInstance: "i1"})
	log := slog.New(c.Handler(slog.LevelDebug)).With("invocation_id", "inv-1", "function", "score-sensor")
	log.Debug("detail")
	log.Info("scored sensor", "run", "r1", "device", "1", "sensor", "2", "rows", 5, "stages_us", struct {
		Model int `json:"model"`
	}{7})
	log.WithGroup("g").Warn("slow", "ms", 1500)
	log.Error("failed", "err", errors.New("boom"))
	slog.New(c.Handler(slog.LevelInfo)).With("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").Info("traced")
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := in.Items()
	type row struct{ msg, sev, opID, opName string }
	want := []row{
		{"detail", "Verbose", "inv-1", "score-sensor"},
		{"scored sensor", "Information", "inv-1", "score-sensor"},
		{"slow", "Warning", "inv-1", "score-sensor"},
		{"failed", "Error", "inv-1", "score-sensor"},
		{"traced", "Information", "0af7651916cd43dd8448eb211c80319c", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d items, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		bd := g.Data.BaseData
		if g.Name != "Microsoft.ApplicationInsights.Message" || g.Data.BaseType != "MessageData" || bd.Ver != 2 || g.IKey != "00000000-0000-0000-0000-000000000001" {
			t.Errorf("item %d envelope %+v", i, g)
		}
		if bd.Message != w.msg || bd.SeverityLevel != w.sev || g.Tags["ai.operation.id"] != w.opID || g.Tags["ai.operation.name"] != w.opName {
			t.Errorf("item %d = %q %s op %q %q, want %+v", i, bd.Message, bd.SeverityLevel, g.Tags["ai.operation.id"], g.Tags["ai.operation.name"], w)
		}
		if g.Tags["ai.cloud.role"] != "func-app" || g.Tags["ai.cloud.roleInstance"] != "i1" || g.Time.IsZero() {
			t.Errorf("item %d tags %v time %v", i, g.Tags, g.Time)
		}
	}
	p := got[1].Data.BaseData.Properties
	for k, v := range map[string]string{"InvocationId": "inv-1", "function": "score-sensor", "run": "r1", "device": "1", "sensor": "2", "rows": "5", "stages_us": `{"model":7}`} {
		if p[k] != v {
			t.Errorf("properties[%s] = %q, want %q (all %v)", k, p[k], v, p)
		}
	}
	if _, ok := p["invocation_id"]; ok {
		t.Errorf("invocation_id kept as a property: %v", p)
	}
	if got[2].Data.BaseData.Properties["g.ms"] != "1500" || got[3].Data.BaseData.Properties["err"] != "boom" {
		t.Errorf("group/err properties %v %v", got[2].Data.BaseData.Properties, got[3].Data.BaseData.Properties)
	}
	if got[4].Tags["ai.operation.parentId"] != "b7ad6b7169203331" {
		t.Errorf("traceparent tags %v", got[4].Tags)
	}
	if s := c.Stats(); s.Queued != 5 || s.Sent != 5 || s.Dropped != 0 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestMetric(t *testing.T) {
	in := ingestiontest.Start()
	c := start(t, in, Options{})
	c.Metric(t.Context(), "sensor_rows", 1184, []slog.Attr{slog.String("invocation_id", "inv-2"), slog.String("sensor", "3")})
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := in.Items()
	if len(got) != 1 {
		t.Fatalf("items %+v", got)
	}
	g := got[0]
	m := g.Data.BaseData.Metrics
	if g.Name != "Microsoft.ApplicationInsights.Metric" || g.Data.BaseType != "MetricData" || len(m) != 1 ||
		m[0].Name != "sensor_rows" || m[0].Value != 1184 || m[0].Count != 1 ||
		g.Data.BaseData.Properties["sensor"] != "3" || g.Data.BaseData.Properties["InvocationId"] != "inv-2" {
		t.Errorf("metric envelope %+v", g)
	}
	_ = c.Close(t.Context())
}

// TestBounded: a full queue drops items and counts them; nothing blocks.
func TestBounded(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-block
		_, _ = io.WriteString(w, `{"itemsReceived":1,"itemsAccepted":1,"errors":[]}`)
	}))
	defer srv.Close()
	defer close(block)
	c := New(Options{Target: Target{IKey: "k", Endpoint: srv.URL}, MaxQueue: 4, MaxBatch: 1, FlushInterval: time.Hour})
	done := make(chan struct{})
	go func() {
		for i := range 100 {
			c.Trace(time.Now(), slog.LevelInfo, "line", []slog.Attr{slog.Int("i", i)})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Trace blocked on a full queue")
	}
	s := c.Stats()
	if s.Dropped < 100-4-2 || s.Queued+s.Dropped != 100 {
		t.Errorf("stats %+v: want about 95 dropped of 100 with a queue of 4", s)
	}
}

// TestRetryOnceThenDrop: a 503 is retried once; two in a row drop the batch
// and report it; a 400 is not retried.
func TestRetryOnceThenDrop(t *testing.T) {
	for _, test := range []struct {
		name      string
		status    func(int) int
		wantPosts int
		wantSent  int64
		wantErr   bool
	}{
		{"503 then 200", func(n int) int { return map[bool]int{true: 503, false: 200}[n == 1] }, 2, 1, false},
		{"503 twice", func(int) int { return 503 }, 2, 0, true},
		{"400", func(int) int { return 400 }, 1, 0, true},
	} {
		t.Run(test.name, func(t *testing.T) {
			in := ingestiontest.Start()
			in.Status = test.status
			var mu sync.Mutex
			var errs []error
			c := start(t, in, Options{OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }})
			c.Trace(time.Now(), slog.LevelInfo, "x", nil)
			if err := c.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			s := c.Stats()
			posts, _ := in.Posts()
			if posts != test.wantPosts || s.Sent != test.wantSent || (len(errs) > 0) != test.wantErr || s.Sent+s.Failed != 1 {
				t.Errorf("posts %d stats %+v errs %v", posts, s, errs)
			}
		})
	}
}

type fakeCred struct{ calls int }

func (f *fakeCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.calls++
	if len(o.Scopes) != 1 || o.Scopes[0] != Scope {
		return azcore.AccessToken{}, errors.New("wrong scope")
	}
	return azcore.AccessToken{Token: "tok", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestBearerToken: with a credential every post carries a bearer token for
// the ingestion scope, fetched once while it is valid.
func TestBearerToken(t *testing.T) {
	in := ingestiontest.Start()
	cred := &fakeCred{}
	c := start(t, in, Options{Credential: cred})
	for range 2 {
		c.Trace(time.Now(), slog.LevelInfo, "x", nil)
		if err := c.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Close(t.Context())
	if _, auth := in.Posts(); len(auth) != 2 || auth[0] != "Bearer tok" || auth[1] != "Bearer tok" || cred.calls != 1 {
		t.Errorf("auth %q, token calls %d", auth, cred.calls)
	}
}

// TestCloseDeadline: Close returns when its context ends even if the
// endpoint hangs.
func TestCloseDeadline(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	c := New(Options{Target: Target{IKey: "k", Endpoint: srv.URL}})
	c.Trace(time.Now(), slog.LevelInfo, "x", nil)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.Close(ctx); err == nil {
		t.Error("Close = nil with a hanging endpoint")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
}

// TestKick: a kick posts what is queued without waiting for the flush interval.
func TestKick(t *testing.T) {
	in := ingestiontest.Start()
	c := start(t, in, Options{FlushInterval: time.Hour})
	c.Trace(time.Now(), slog.LevelInfo, "x", nil)
	c.Kick()
	deadline := time.Now().Add(5 * time.Second)
	for len(in.Items()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(in.Items()) != 1 {
		t.Errorf("items %d after a kick, want 1", len(in.Items()))
	}
	_ = c.Close(t.Context())
}
