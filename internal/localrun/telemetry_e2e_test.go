package localrun

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/reference"
	"github.com/batchscore/batchscore/internal/telemetry/ingestiontest"
)

// TestE2ETelemetry is the reference run with direct telemetry to a local
// endpoint playing the Application Insights ingestion API: what reaches the
// host (the handler's console and Logs) and what reaches the endpoint. Each
// record arrives once, with its severity and dimensions, and the metrics add
// up to the run's figures.
func TestE2ETelemetry(t *testing.T) {
	ing := ingestiontest.Start()
	defer ing.Close()
	res, stdout := runReference(t, 3*time.Minute,
		map[string]string{"APPLICATIONINSIGHTS_CONNECTION_STRING": ing.ConnectionString(), "TELEMETRY": "direct"})
	_, readings := reference.ForTest(t)

	// Nothing of the handler's reaches the host: no console line (the run's
	// handler log), no Logs line (category Function.<name>.User in the host log).
	hostLog, handlerLog := readLogs(t, res)
	if strings.TrimSpace(handlerLog) != "" {
		t.Errorf("the handler wrote to its console as well:\n%s", handlerLog)
	}
	for _, l := range strings.Split(hostLog, "\n") {
		if strings.Contains(l, ".User ") || strings.HasSuffix(l, ".User") {
			t.Errorf("line reached the host as well: %s", l)
		}
	}

	items := ing.Items()
	if p := os.Getenv("BATCHSCORE_TELEMETRY_DUMP"); p != "" {
		// What docs/monitoring.md shows of a reference run.
		b, _ := json.MarshalIndent(items, "", "  ")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type key struct{ msg, inv, dev, sen, t string }
	seen := map[key]bool{}
	traces := map[string]int{}
	var unhealthy []string
	metrics := map[string][]ingestiontest.Item{}
	for _, it := range items {
		p := it.Data.BaseData.Properties
		switch it.Data.BaseType {
		case "MessageData":
			m := it.Data.BaseData.Message
			k := key{m, p["InvocationId"], p["device"], p["sensor"], it.Time.String()}
			if seen[k] {
				t.Errorf("trace twice: %+v", k)
			}
			seen[k] = true
			if strings.HasPrefix(m, "model health: ") {
				m = "model health"
				if it.Data.BaseData.SeverityLevel != "Warning" || p["verdict"] != "flags-all" {
					t.Errorf("model health trace %s %v", it.Data.BaseData.SeverityLevel, p)
				}
				unhealthy = append(unhealthy, p["device"]+"/"+p["sensor"])
			}
			traces[m]++
			if m == "scored sensor" {
				if it.Data.BaseData.SeverityLevel != "Information" || p["run"] != res.RunID || p["device"] == "" || p["sensor"] == "" ||
					p["InvocationId"] == "" || it.Tags["ai.operation.id"] != p["InvocationId"] || it.Tags["ai.operation.name"] != "score-sensor" {
					t.Errorf("scored sensor trace: %s tags %v properties %v", it.Data.BaseData.SeverityLevel, it.Tags, p)
				}
			}
		case "MetricData":
			for _, m := range it.Data.BaseData.Metrics {
				metrics[m.Name] = append(metrics[m.Name], it)
			}
		default:
			t.Errorf("unexpected item %s", it.Data.BaseType)
		}
	}
	sort.Strings(unhealthy)
	t.Logf("%d items; traces %v; unhealthy models %v", len(items), traces, unhealthy)
	if traces["scored sensor"] != 15 || traces["scoring done"] != 15 || traces["model health"] != 4 {
		t.Errorf("traces %v: want 15 scored sensor, 15 scoring done, 4 model health", traces)
	}
	sum := func(name, dim, val string) (float64, int) {
		total, n := 0.0, 0
		for _, it := range metrics[name] {
			if dim != "" && it.Data.BaseData.Properties[dim] != val {
				continue
			}
			total += it.Data.BaseData.Metrics[0].Value
			n++
		}
		return total, n
	}
	for _, c := range []struct {
		name, dim, val string
		want           float64
		wantN          int
	}{
		{"sensor_outcome", "status", "done", 15, 15},
		{"sensor_rows", "", "", 17768, 15},
		{"sensor_anomalies", "", "", 6757, 15},
		{"model_unhealthy", "verdict", "flags-all", 4, 4},
		{"model_unhealthy", "verdict", "ok", 0, 11},
		{"stage_ms", "stage", "score", -1, 15},
		{"model_cache_hit", "", "", 0, 15},
		{"prediction_lag_s", "", "", -1, 15},
		{"ingest_readings", "", "", float64(len(readings)), -1},
		{"ingest_rejected", "", "", 0, -1},
	} {
		got, n := sum(c.name, c.dim, c.val)
		if (c.want >= 0 && got != c.want) || (c.wantN >= 0 && n != c.wantN) {
			t.Errorf("metric %s %s=%s: sum %v over %d items, want %v over %d", c.name, c.dim, c.val, got, n, c.want, c.wantN)
		}
	}
	for _, it := range metrics["sensor_rows"] {
		p := it.Data.BaseData.Properties
		if p["run"] != res.RunID || p["InvocationId"] == "" || p["function"] != "score-sensor" {
			t.Errorf("sensor_rows dimensions %v", p)
		}
	}
	if !strings.Contains(stdout, "model health: 4 of 15 scored sensors' models need attention (4 flags-all)") {
		t.Errorf("the run does not say which models flag every row:\n%s", stdout)
	}
}

// TestE2EHostLogsOnce is the reference run without direct telemetry: every
// line reaches the host once, Info lines through the invocation's Logs
// (category Function.<name>.User), warnings on stderr (Host.Function.Console
// at Warning), and the run says in words which models flag every row.
func TestE2EHostLogsOnce(t *testing.T) {
	res, stdout := runReference(t, 3*time.Minute, map[string]string{"TELEMETRY": "host"})
	// The host log has the Logs lines (category Function.<name>.User), the
	// handler log the console lines as the handler wrote them.
	hostLog, handlerLog := readLogs(t, res)
	counts := map[string]int{}
	for _, l := range strings.Split(hostLog, "\n") {
		if strings.Contains(l, "scored sensor") {
			if !strings.Contains(l, "category=Function.score-sensor.User") {
				t.Errorf("scored sensor line outside the invocation's Logs: %s", l)
			}
			counts["scored sensor"]++
		}
		if strings.Contains(l, "model health: ") {
			t.Errorf("model health line in the invocation's Logs (always Information there): %s", l)
		}
	}
	for _, l := range strings.Split(handlerLog, "\n") {
		switch {
		case strings.Contains(l, "scored sensor"):
			t.Errorf("scored sensor line on the console as well: %s", l)
		case strings.Contains(l, "model health: "):
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil || m["level"] != "WARN" || m["invocation_id"] == nil || m["sensor"] == nil {
				t.Errorf("model health console line is not a JSON warning with invocation_id and sensor: %s", l)
			}
			counts["model health"]++
		}
	}
	if counts["scored sensor"] != 15 || counts["model health"] != 4 {
		t.Errorf("lines reaching the host %v: want each of 15 scored sensor and 4 model health lines once", counts)
	}
	for _, want := range []string{
		"model health: 4 of 15 scored sensors' models need attention (4 flags-all)",
		"  sensor 1/2: the model flags 100 % of ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

// readLogs returns the run's host log and handler log.
func readLogs(t *testing.T, res *Result) (host, handler string) {
	t.Helper()
	h, err := os.ReadFile(res.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := os.ReadFile(res.HandlerLog)
	if err != nil {
		t.Fatal(err)
	}
	return string(h), string(c)
}
