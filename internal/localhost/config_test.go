package localhost

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseTimeSpan(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "00:00:00", want: 0},
		{in: "00:00:30", want: 30 * time.Second},
		{in: "00:10:00", want: 10 * time.Minute},
		{in: "01:02:03", want: time.Hour + 2*time.Minute + 3*time.Second},
		{in: "00:00:00.250", want: 250 * time.Millisecond},
		{in: "1.00:00:00", want: 24 * time.Hour},
		{in: "10", wantErr: true},
		{in: "00:61:00", wantErr: true},
		{in: "aa:00:00", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseTimeSpan(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseTimeSpan(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseTimeSpan(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestLoadApp(t *testing.T) {
	settings := map[string]string{"RECORD_FILE": "/tmp/rec", "TICK_SCHEDULE": "*/5 * * * * *", "WORK_QUEUE": "work-items"}
	hc, fns, err := LoadApp("testdata/app", settings)
	if err != nil {
		t.Fatal(err)
	}
	wantHost := HostConfig{
		Executable:      "handler",
		Arguments:       []string{"-record", "/tmp/rec"},
		FunctionTimeout: time.Minute,
		Queues: QueueOptions{BatchSize: 4, NewBatchThreshold: 2, MaxDequeueCount: 3, MessageEncoding: "base64",
			MaxPollingInterval: 500 * time.Millisecond},
		EventHubs: EventHubOptions{MaxEventBatchSize: 100},
	}
	if diff := cmp.Diff(wantHost, hc); diff != "" {
		t.Errorf("host config (-want +got):\n%s", diff)
	}
	var names []string
	for _, f := range fns {
		names = append(names, f.Name)
	}
	if diff := cmp.Diff([]string{"events", "hello", "send", "tick", "work"}, names); diff != "" {
		t.Errorf("functions (-want +got):\n%s", diff)
	}
	if out := fns[2].Bindings[2]; out.Type != "queue" || out.QueueName != "work-items" {
		t.Errorf("send's queue output %+v, want queueName the resolved %%WORK_QUEUE%%", out)
	}
	tick, _ := fns[3].Trigger()
	if tick.Schedule != "*/5 * * * * *" {
		t.Errorf("tick schedule = %q, want the resolved %%TICK_SCHEDULE%%", tick.Schedule)
	}
	wantRetry := &RetryPolicy{Strategy: "fixedDelay", MaxRetryCount: 3, DelayInterval: 50 * time.Millisecond}
	if diff := cmp.Diff(wantRetry, fns[0].Retry); diff != "" {
		t.Errorf("events retry (-want +got):\n%s", diff)
	}
}

func TestLoadAppErrors(t *testing.T) {
	tests := []struct {
		name     string
		host     string
		fn       string
		settings map[string]string
		wantErr  string
	}{
		{name: "missing setting", host: `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"h"}}}`,
			fn: `{"bindings":[{"name":"t","type":"timerTrigger","direction":"in","schedule":"%NOPE%"}]}`, wantErr: `"NOPE" is not set`},
		{name: "old version", host: `{"version":"1.0","customHandler":{"description":{"defaultExecutablePath":"h"}}}`,
			fn: `{"bindings":[]}`, wantErr: "version"},
		{name: "no executable", host: `{"version":"2.0"}`, fn: `{"bindings":[]}`, wantErr: "defaultExecutablePath"},
		{name: "bad encoding", host: `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"h"}},"extensions":{"queues":{"messageEncoding":"utf8"}}}`,
			fn: `{"bindings":[]}`, wantErr: "messageEncoding"},
		{name: "batch too big", host: `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"h"}},"extensions":{"queues":{"batchSize":64}}}`,
			fn: `{"bindings":[]}`, wantErr: "batchSize"},
		{name: "no trigger", host: `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"h"}}}`,
			fn: `{"bindings":[{"name":"b","type":"blob","direction":"in"}]}`, wantErr: "no trigger"},
		{name: "bad retry", host: `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"h"}}}`,
			fn: `{"bindings":[{"name":"t","type":"timerTrigger","direction":"in","schedule":"0 * * * * *"}],"retry":{"strategy":"often"}}`, wantErr: "retry strategy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "host.json"), tt.host)
			write(t, filepath.Join(dir, "fn", "function.json"), tt.fn)
			_, _, err := LoadApp(dir, tt.settings)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadApp error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// Unset queue options take the extension's defaults; newBatchThreshold's is
// (batchSize/2) times the processor count, as in the host.
func TestQueueDefaults(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "host.json"), `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"h"}},"extensions":{"queues":{"batchSize":8}}}`)
	write(t, filepath.Join(dir, "fn", "function.json"), `{"bindings":[{"name":"m","type":"queueTrigger","direction":"in","queueName":"q"}]}`)
	hc, _, err := LoadApp(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := QueueOptions{BatchSize: 8, NewBatchThreshold: 4 * runtime.NumCPU(), MaxDequeueCount: 5, MessageEncoding: "base64", MaxPollingInterval: time.Minute}
	if diff := cmp.Diff(want, hc.Queues); diff != "" {
		t.Errorf("queue options (-want +got):\n%s", diff)
	}
}

func TestRetryDelay(t *testing.T) {
	exp := RetryPolicy{Strategy: "exponentialBackoff", MinimumInterval: time.Second, MaximumInterval: 5 * time.Second}
	var got []time.Duration
	for n := range 5 {
		got = append(got, exp.delay(n))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("exponential delays (-want +got):\n%s", diff)
	}
	fixed := RetryPolicy{Strategy: "fixedDelay", DelayInterval: 3 * time.Second}
	if d := fixed.delay(4); d != 3*time.Second {
		t.Errorf("fixed delay = %v, want 3s", d)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
