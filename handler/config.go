package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/kelseyhightower/envconfig"

	"github.com/batchscore/batchscore/functions/ingest"
	timerfanout "github.com/batchscore/batchscore/functions/timer-fanout"
	"github.com/batchscore/batchscore/functions/train"
	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/telemetry"
)

// Config is the handler's configuration: the app settings of docs/design.md
// and the host-owned settings the handler needs.
type Config struct {
	Port string // FUNCTIONS_CUSTOMHANDLER_PORT (legacy FUNCTIONS_HTTPWORKER_PORT)

	Storage storage.Config // AzureWebJobsStorage and its __ settings

	SQLURL               string
	ModelsContainer      string
	RawContainer         string
	RejectsContainer     string
	PredictionsContainer string
	ScoreQueue           string
	FanoutSchedule       string
	FanoutChunkSize      int
	FanoutParallelism    int
	FanoutLag            time.Duration
	FanoutMaxCatchUp     int
	ReadingsRetention    time.Duration
	AggregateWindow      time.Duration
	IngestMaxSkew        time.Duration
	IngestMaxEventBytes  int
	ModelCacheBytes      int64
	MaxDequeueCount      int
	InvocationTimeout    time.Duration
	LogLevel             slog.Level

	// Telemetry is "direct" (records and metrics straight to Application
	// Insights, when AppInsights is set) or "host" (through the Functions
	// host: Logs and the console). See docs/monitoring.md.
	Telemetry         string
	TelemetryMaxQueue int
	// AppInsights is APPLICATIONINSIGHTS_CONNECTION_STRING (zero when unset);
	// AppInsightsAAD and AppInsightsClientID come from
	// APPLICATIONINSIGHTS_AUTHENTICATION_STRING ("Authorization=AAD;ClientId=...").
	AppInsights         telemetry.Target
	AppInsightsAAD      bool
	AppInsightsClientID string
	Train               train.Config // TRAIN_* (see handler/train.go)
}

// spec is what envconfig fills. envconfig upper-cases every key, so only our
// own UPPER_SNAKE settings are read through it; the host's mixed-case names
// (AzureWebJobsStorage...) and the port are read with getenv. Each field
// records its own parse error (see setting), so that one error can list every
// bad setting instead of the first.
type spec struct {
	SQLURL               setting[string]        `envconfig:"SQL_URL" default:"sqlite:batchscore.db"`
	ModelsContainer      setting[string]        `envconfig:"MODELS_CONTAINER" default:"models"`
	RawContainer         setting[string]        `envconfig:"RAW_CONTAINER" default:"raw"`
	RejectsContainer     setting[string]        `envconfig:"REJECTS_CONTAINER" default:"rejects"`
	PredictionsContainer setting[string]        `envconfig:"PREDICTIONS_CONTAINER" default:"preds"`
	ScoreQueue           setting[string]        `envconfig:"SCORE_QUEUE" default:"score-jobs"`
	FanoutSchedule       setting[string]        `envconfig:"FANOUT_SCHEDULE" default:"0 10 * * * *"`
	FanoutChunkSize      setting[int]           `envconfig:"FANOUT_CHUNK_SIZE" default:"1"`
	FanoutParallelism    setting[int]           `envconfig:"FANOUT_PARALLELISM" default:"16"`
	FanoutLag            setting[time.Duration] `envconfig:"FANOUT_LAG" default:"10m"`
	FanoutMaxCatchUp     setting[int]           `envconfig:"FANOUT_MAX_CATCHUP" default:"24"`
	ReadingsRetention    setting[time.Duration] `envconfig:"READINGS_RETENTION" default:"0s"`
	AggregateWindow      setting[time.Duration] `envconfig:"AGGREGATE_WINDOW" default:"5s"`
	IngestMaxSkew        setting[time.Duration] `envconfig:"INGEST_MAX_SKEW" default:"24h"`
	IngestMaxEventBytes  setting[int]           `envconfig:"INGEST_MAX_EVENT_BYTES" default:"1048576"`
	ModelCacheBytes      setting[int64]         `envconfig:"MODEL_CACHE_BYTES" default:"268435456"`
	MaxDequeueCount      setting[int]           `envconfig:"MAX_DEQUEUE_COUNT" default:"5"`
	InvocationTimeout    setting[time.Duration] `envconfig:"INVOCATION_TIMEOUT" default:"9m30s"`
	LogLevel             setting[string]        `envconfig:"LOG_LEVEL" default:"info"`
	Telemetry            setting[string]        `envconfig:"TELEMETRY" default:"direct"`
	TelemetryMaxQueue    setting[int]           `envconfig:"TELEMETRY_MAX_QUEUE" default:"8192"`
	TrainSchedule        setting[string]        `envconfig:"TRAIN_SCHEDULE" default:"0 0 3 * * 0"`
	TrainDays            setting[int]           `envconfig:"TRAIN_DAYS" default:"7"`
	TrainNu              setting[string]        `envconfig:"TRAIN_NU" default:"0.01"`
	TrainGamma           setting[string]        `envconfig:"TRAIN_GAMMA" default:"0.01"`
	TrainTolerance       setting[string]        `envconfig:"TRAIN_TOLERANCE" default:"0.05"`
}

// setting is an envconfig.Decoder that keeps the parse error of its value
// instead of stopping envconfig at the first bad setting.
type setting[T string | int | int64 | time.Duration] struct {
	V   T
	Err error
}

func (s *setting[T]) Decode(raw string) error {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		s.Err = errors.New("set but empty (remove it to get the default)")
		return nil
	}
	var err error
	kind := "integer"
	switch p := any(&s.V).(type) {
	case *string:
		*p = raw
	case *int:
		*p, err = strconv.Atoi(raw)
	case *int64:
		*p, err = strconv.ParseInt(raw, 10, 64)
	case *time.Duration:
		kind = "duration (like 90s, 5m, 24h)"
		*p, err = time.ParseDuration(raw)
	}
	if err != nil {
		s.Err = fmt.Errorf("%q is not a valid %s", raw, kind)
	}
	return nil
}

// loadConfig reads and validates every setting and returns one error that
// lists all that are missing or invalid. Our own settings come from the
// process environment (envconfig reads it; the host puts app settings there),
// host-owned ones through getenv.
func loadConfig(getenv func(string) string) (Config, error) {
	var s spec
	var problems []string
	bad := func(name string, err error) { problems = append(problems, fmt.Sprintf("%s: %v", name, err)) }
	if err := envconfig.Process("", &s); err != nil {
		return Config{}, fmt.Errorf("read settings: %w", err)
	}
	for _, f := range []struct {
		name string
		err  error
	}{
		{"SQL_URL", s.SQLURL.Err}, {"MODELS_CONTAINER", s.ModelsContainer.Err}, {"RAW_CONTAINER", s.RawContainer.Err},
		{"REJECTS_CONTAINER", s.RejectsContainer.Err}, {"PREDICTIONS_CONTAINER", s.PredictionsContainer.Err},
		{"SCORE_QUEUE", s.ScoreQueue.Err}, {"FANOUT_SCHEDULE", s.FanoutSchedule.Err}, {"FANOUT_CHUNK_SIZE", s.FanoutChunkSize.Err},
		{"FANOUT_PARALLELISM", s.FanoutParallelism.Err}, {"FANOUT_LAG", s.FanoutLag.Err},
		{"FANOUT_MAX_CATCHUP", s.FanoutMaxCatchUp.Err}, {"READINGS_RETENTION", s.ReadingsRetention.Err},
		{"AGGREGATE_WINDOW", s.AggregateWindow.Err},
		{"INGEST_MAX_SKEW", s.IngestMaxSkew.Err}, {"INGEST_MAX_EVENT_BYTES", s.IngestMaxEventBytes.Err},
		{"MODEL_CACHE_BYTES", s.ModelCacheBytes.Err}, {"MAX_DEQUEUE_COUNT", s.MaxDequeueCount.Err},
		{"INVOCATION_TIMEOUT", s.InvocationTimeout.Err}, {"LOG_LEVEL", s.LogLevel.Err},
		{"TELEMETRY", s.Telemetry.Err}, {"TELEMETRY_MAX_QUEUE", s.TelemetryMaxQueue.Err},
	} {
		if f.err != nil {
			bad(f.name, f.err)
		}
	}

	c := Config{
		SQLURL:               s.SQLURL.V,
		ModelsContainer:      s.ModelsContainer.V,
		RawContainer:         s.RawContainer.V,
		RejectsContainer:     s.RejectsContainer.V,
		PredictionsContainer: s.PredictionsContainer.V,
		ScoreQueue:           s.ScoreQueue.V,
		FanoutSchedule:       s.FanoutSchedule.V,
		FanoutChunkSize:      s.FanoutChunkSize.V,
		FanoutParallelism:    s.FanoutParallelism.V,
		FanoutLag:            s.FanoutLag.V,
		FanoutMaxCatchUp:     s.FanoutMaxCatchUp.V,
		ReadingsRetention:    s.ReadingsRetention.V,
		AggregateWindow:      s.AggregateWindow.V,
		IngestMaxSkew:        s.IngestMaxSkew.V,
		IngestMaxEventBytes:  s.IngestMaxEventBytes.V,
		ModelCacheBytes:      s.ModelCacheBytes.V,
		MaxDequeueCount:      s.MaxDequeueCount.V,
		InvocationTimeout:    s.InvocationTimeout.V,
		Telemetry:            s.Telemetry.V,
		TelemetryMaxQueue:    s.TelemetryMaxQueue.V,
	}

	// Host-owned settings.
	c.Port = strings.TrimSpace(getenv("FUNCTIONS_CUSTOMHANDLER_PORT"))
	if c.Port == "" {
		c.Port = strings.TrimSpace(getenv("FUNCTIONS_HTTPWORKER_PORT"))
	}
	if n, err := strconv.Atoi(c.Port); c.Port == "" {
		bad("FUNCTIONS_CUSTOMHANDLER_PORT", errors.New("not set (the Functions host sets it when it starts the handler)"))
	} else if err != nil || n < 0 || n > 65535 {
		bad("FUNCTIONS_CUSTOMHANDLER_PORT", fmt.Errorf("%q is not a TCP port", c.Port))
	}
	if sc, err := storage.ConfigFromEnv(getenv, "AzureWebJobsStorage"); err != nil {
		bad("AzureWebJobsStorage", err)
	} else {
		c.Storage = sc
	}

	// Values.
	if s.SQLURL.Err == nil {
		if err := sqlstore.CheckURL(c.SQLURL); err != nil {
			bad("SQL_URL", err)
		} else if err := checkSQLInAzure(c.SQLURL, getenv); err != nil {
			bad("SQL_URL", err)
		} else if err := checkSourceWidth(c.SQLURL, getenv); err != nil {
			bad("EVENTHUB_NAME", err)
		}
	}
	for _, f := range []struct {
		name, v string
		err     error
	}{
		{"MODELS_CONTAINER", c.ModelsContainer, s.ModelsContainer.Err}, {"RAW_CONTAINER", c.RawContainer, s.RawContainer.Err},
		{"REJECTS_CONTAINER", c.RejectsContainer, s.RejectsContainer.Err}, {"PREDICTIONS_CONTAINER", c.PredictionsContainer, s.PredictionsContainer.Err},
		{"SCORE_QUEUE", c.ScoreQueue, s.ScoreQueue.Err},
	} {
		if f.err == nil && (len(f.v) < 3 || len(f.v) > 63 || !storageName.MatchString(f.v)) {
			bad(f.name, fmt.Errorf("%q is not a container/queue name (3-63 lowercase letters, digits, single hyphens)", f.v))
		}
	}
	// The host gives a queue a poison queue only when "<queue>-poison" is a
	// valid name, and score-poison listens there.
	if s.ScoreQueue.Err == nil && len(c.ScoreQueue) > 63-len("-poison") {
		bad("SCORE_QUEUE", fmt.Errorf("%q is longer than 56 characters: its poison queue %q would be no valid queue name", c.ScoreQueue, c.ScoreQueue+"-poison"))
	}
	if s.FanoutSchedule.Err == nil {
		if err := (timerfanout.Config{Schedule: c.FanoutSchedule}).Validate(); err != nil {
			bad("FANOUT_SCHEDULE", err)
		}
	}
	for _, f := range []struct {
		name string
		v    int64
		err  error
	}{
		{"FANOUT_CHUNK_SIZE", int64(c.FanoutChunkSize), s.FanoutChunkSize.Err},
		{"FANOUT_PARALLELISM", int64(c.FanoutParallelism), s.FanoutParallelism.Err},
		{"FANOUT_MAX_CATCHUP", int64(c.FanoutMaxCatchUp), s.FanoutMaxCatchUp.Err},
		{"INGEST_MAX_EVENT_BYTES", int64(c.IngestMaxEventBytes), s.IngestMaxEventBytes.Err},
		{"MODEL_CACHE_BYTES", c.ModelCacheBytes, s.ModelCacheBytes.Err},
		{"MAX_DEQUEUE_COUNT", int64(c.MaxDequeueCount), s.MaxDequeueCount.Err},
		{"AGGREGATE_WINDOW", int64(c.AggregateWindow), s.AggregateWindow.Err},
		{"INGEST_MAX_SKEW", int64(c.IngestMaxSkew), s.IngestMaxSkew.Err},
		{"INVOCATION_TIMEOUT", int64(c.InvocationTimeout), s.InvocationTimeout.Err},
		{"TELEMETRY_MAX_QUEUE", int64(c.TelemetryMaxQueue), s.TelemetryMaxQueue.Err},
	} {
		if f.err == nil && f.v <= 0 {
			bad(f.name, errors.New("must be positive"))
		}
	}
	if s.FanoutLag.Err == nil && (c.FanoutLag < 0 || c.FanoutLag%time.Second != 0) {
		bad("FANOUT_LAG", errors.New("must be zero or a positive whole number of seconds"))
	}
	if s.ReadingsRetention.Err == nil && c.ReadingsRetention != 0 && c.ReadingsRetention < 24*time.Hour {
		bad("READINGS_RETENTION", errors.New("must be 0 (keep every reading) or at least 24h"))
	} else if err := checkRetention(c, s); err != nil {
		bad("READINGS_RETENTION", err)
	}
	if s.AggregateWindow.Err == nil && c.AggregateWindow > 0 && c.AggregateWindow%time.Millisecond != 0 {
		bad("AGGREGATE_WINDOW", errors.New("must be a whole number of milliseconds"))
	}
	if s.LogLevel.Err == nil {
		if err := c.LogLevel.UnmarshalText([]byte(s.LogLevel.V)); err != nil {
			bad("LOG_LEVEL", fmt.Errorf("%q: want debug, info, warn or error", s.LogLevel.V))
		}
	}
	if s.Telemetry.Err == nil && c.Telemetry != "direct" && c.Telemetry != "host" {
		bad("TELEMETRY", fmt.Errorf("%q: want direct or host", c.Telemetry))
	}
	if cs := strings.TrimSpace(getenv("APPLICATIONINSIGHTS_CONNECTION_STRING")); cs != "" {
		if t, err := telemetry.ParseConnectionString(cs); err != nil {
			bad("APPLICATIONINSIGHTS_CONNECTION_STRING", err)
		} else {
			c.AppInsights = t
		}
	}
	if as := strings.TrimSpace(getenv("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")); as != "" {
		for part := range strings.SplitSeq(as, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch strings.ToLower(k) {
			case "authorization":
				c.AppInsightsAAD = strings.EqualFold(v, "AAD")
			case "clientid":
				c.AppInsightsClientID = v
			}
		}
		if !c.AppInsightsAAD {
			bad("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", fmt.Errorf("%q: want Authorization=AAD[;ClientId=<client id>]", as))
		}
	}
	problems = append(problems, checkHostJSON(getenv("FUNCTIONS_APP_ROOT_PATH"), c)...)

	c.Train = trainConfig(s, c, getenv, bad)
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("invalid settings:\n  %s", strings.Join(problems, "\n  "))
	}
	return c, nil
}

// checkRetention refuses a READINGS_RETENTION that the prune after a
// catch-up run would reach into: that run fans out FANOUT_MAX_CATCHUP
// windows, the oldest starting up to FANOUT_MAX_CATCHUP schedule periods
// plus FANOUT_LAG before it, and the window before that may still be scored.
// Nothing to say while the settings it depends on are invalid.
func checkRetention(c Config, s spec) error {
	if c.ReadingsRetention == 0 || s.ReadingsRetention.Err != nil || s.FanoutSchedule.Err != nil ||
		s.FanoutMaxCatchUp.Err != nil || s.FanoutLag.Err != nil || c.FanoutMaxCatchUp <= 0 {
		return nil
	}
	sched, err := timerfanout.ParseSchedule(c.FanoutSchedule)
	if err != nil {
		return nil // reported as FANOUT_SCHEDULE
	}
	cfg := timerfanout.Config{MaxCatchUp: c.FanoutMaxCatchUp, Lag: c.FanoutLag}
	if min := cfg.MinRetention(sched); c.ReadingsRetention <= min {
		return fmt.Errorf("%s must be 0 (keep every reading) or more than (FANOUT_MAX_CATCHUP %d + 1) x FANOUT_SCHEDULE period %s + FANOUT_LAG %s = %s",
			c.ReadingsRetention, c.FanoutMaxCatchUp, sched.Period(), c.FanoutLag, min)
	}
	return nil
}

// checkSQLInAzure refuses SQLite when the handler runs in Azure App Service
// or Functions, which set WEBSITE_INSTANCE_ID on every instance ("Environment
// variables and app settings in Azure App Service", learn.microsoft.com): each
// scaled-out instance would get its own database file (or, with run from
// package, none it can write), so readings ingested on one instance would be
// missing from the scoring on another.
func checkSQLInAzure(url string, getenv func(string) string) error {
	if strings.TrimSpace(getenv("WEBSITE_INSTANCE_ID")) == "" || !strings.HasPrefix(url, "sqlite:") {
		return nil
	}
	what := url
	if strings.TrimSpace(getenv("SQL_URL")) == "" { // set but blank is refused apart
		what = "not set, and its default " + url
	}
	return fmt.Errorf("%s is a SQLite database, which cannot serve an app in Azure (WEBSITE_INSTANCE_ID is set): "+
		"set SQL_URL to sqlserver://SERVER.database.windows.net?database=DB (Azure SQL, signed in with the app's managed identity: docs/storage.md)", what)
}

// maxPartitionID is the longest Event Hubs partition id: a Dedicated-tier
// event hub has up to 1,024 partitions, "0" to "1023" ("Azure Event Hubs
// quotas and limits", learn.microsoft.com).
const maxPartitionID = "1023"

// checkSourceWidth refuses, for SQL Server, an Event Hubs namespace and hub
// whose readings identity (ingest.Source: namespace/hub/partition) would not
// fit the key column reading_sources.source (sqlstore.SQLServerSourceChars): every
// batch would fail with a truncation error and be set aside. The namespace is
// EventHubConnection__fullyQualifiedNamespace (identity) or the Endpoint of
// the EventHubConnection connection string; the hub EVENTHUB_NAME, or the
// connection string's EntityPath when that is longer. Without a namespace or
// hub (ingest not configured) there is nothing to check.
func checkSourceWidth(url string, getenv func(string) string) error {
	if !strings.HasPrefix(url, "sqlserver:") {
		return nil
	}
	ns := strings.TrimSpace(getenv("EventHubConnection__fullyQualifiedNamespace"))
	hub := strings.TrimSpace(getenv("EVENTHUB_NAME"))
	for _, part := range strings.Split(getenv("EventHubConnection"), ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case strings.EqualFold(k, "Endpoint") && ns == "":
			ns = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(v), "sb://"), "/")
		case strings.EqualFold(k, "EntityPath") && len(strings.TrimSpace(v)) > len(hub):
			hub = strings.TrimSpace(v)
		}
	}
	if ns == "" || hub == "" {
		return nil
	}
	source, err := ingest.Source(azfunc.PartitionContext{FullyQualifiedNamespace: ns, EventHubName: hub, PartitionId: maxPartitionID})
	if err != nil {
		return err
	}
	if n := len(utf16.Encode([]rune(source))); n > sqlstore.SQLServerSourceChars {
		return fmt.Errorf("the readings' source %s is %d characters, more than the %d of the SQL Server column reading_sources.source: "+
			"every batch would fail; use a shorter event hub name (or namespace)", source, n, sqlstore.SQLServerSourceChars)
	}
	return nil
}

// storageName is the container/queue name rule (length 3-63 checked apart).
var storageName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// checkHostJSON compares the settings that must agree with host.json, when the
// app root (FUNCTIONS_APP_ROOT_PATH, set by the host) holds one:
// INVOCATION_TIMEOUT below functionTimeout, MAX_DEQUEUE_COUNT equal to
// extensions.queues.maxDequeueCount.
func checkHostJSON(root string, c Config) []string {
	if root == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(root, "host.json"))
	if err != nil {
		return nil // not our business to require it; the host has read it already
	}
	var h struct {
		FunctionTimeout string `json:"functionTimeout"`
		Extensions      struct {
			Queues struct {
				MaxDequeueCount *int `json:"maxDequeueCount"`
			} `json:"queues"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return []string{fmt.Sprintf("host.json: %v", err)}
	}
	var out []string
	if t, ok := parseTimeSpan(h.FunctionTimeout); ok && t > 0 && c.InvocationTimeout >= t {
		out = append(out, fmt.Sprintf("INVOCATION_TIMEOUT: %s is not below host.json functionTimeout %s", c.InvocationTimeout, t))
	}
	want := 5 // the Queues extension's default
	if h.Extensions.Queues.MaxDequeueCount != nil {
		want = *h.Extensions.Queues.MaxDequeueCount
	}
	if c.MaxDequeueCount > 0 && c.MaxDequeueCount != want {
		out = append(out, fmt.Sprintf("MAX_DEQUEUE_COUNT: %d differs from host.json extensions.queues.maxDequeueCount %d", c.MaxDequeueCount, want))
	}
	return out
}

// parseTimeSpan reads a .NET TimeSpan "hh:mm:ss" (optionally "d.hh:mm:ss").
func parseTimeSpan(s string) (time.Duration, bool) {
	var days int
	if d, rest, ok := strings.Cut(s, "."); ok && !strings.Contains(d, ":") {
		n, err := strconv.Atoi(d)
		if err != nil {
			return 0, false
		}
		days, s = n, rest
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, false
	}
	var v [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0, false
		}
		v[i] = n
	}
	return time.Duration(days)*24*time.Hour + time.Duration(v[0])*time.Hour + time.Duration(v[1])*time.Minute + time.Duration(v[2])*time.Second, true
}
