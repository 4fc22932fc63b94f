package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/functions/train"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/telemetry"
)

// ourSettings are every setting the handler reads; setEnv clears those not given.
var ourSettings = []string{
	"SQL_URL", "MODELS_CONTAINER", "RAW_CONTAINER", "REJECTS_CONTAINER", "PREDICTIONS_CONTAINER", "SCORE_QUEUE",
	"FANOUT_SCHEDULE", "FANOUT_CHUNK_SIZE", "FANOUT_PARALLELISM", "FANOUT_LAG", "FANOUT_MAX_CATCHUP", "READINGS_RETENTION", "AGGREGATE_WINDOW", "INGEST_MAX_SKEW",
	"INGEST_MAX_EVENT_BYTES", "MODEL_CACHE_BYTES", "MAX_DEQUEUE_COUNT", "INVOCATION_TIMEOUT", "LOG_LEVEL",
	"TELEMETRY", "TELEMETRY_MAX_QUEUE", "APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
	"TRAIN_SCHEDULE", "TRAIN_DAYS", "TRAIN_NU", "TRAIN_GAMMA", "TRAIN_TOLERANCE",
	"FUNCTIONS_CUSTOMHANDLER_PORT", "FUNCTIONS_HTTPWORKER_PORT", "FUNCTIONS_APP_ROOT_PATH",
	"AzureWebJobsStorage", "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__blobServiceUri",
	"AzureWebJobsStorage__serviceUri", "AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__credential",
	"AzureWebJobsStorage__clientId", "WEBSITE_INSTANCE_ID",
	"EventHubConnection", "EventHubConnection__fullyQualifiedNamespace", "EVENTHUB_NAME",
}

// setEnv makes exactly env the handler's environment (restored after the test).
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range ourSettings {
		t.Setenv(k, "") // registers the restore
		if v, ok := env[k]; ok {
			t.Setenv(k, v)
		} else {
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func TestLoadConfig(t *testing.T) {
	minimal := map[string]string{
		"FUNCTIONS_CUSTOMHANDLER_PORT": "7071",
		"AzureWebJobsStorage":          storage.AzuriteConnectionString,
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range minimal {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<unset>" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	appRoot := t.TempDir()
	if err := os.WriteFile(filepath.Join(appRoot, "host.json"), []byte(`{"version":"2.0","functionTimeout":"00:05:00","extensions":{"queues":{"maxDequeueCount":3}}}`), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, test := range []struct {
		name    string
		env     map[string]string
		want    func(*Config) // edits the defaults into the wanted config
		wantErr []string      // every line the one error must contain
	}{
		{name: "defaults", env: minimal, want: func(*Config) {}},
		{
			name: "every own setting and the legacy port",
			env: with("FUNCTIONS_CUSTOMHANDLER_PORT", "<unset>", "FUNCTIONS_HTTPWORKER_PORT", "8081",
				"SQL_URL", "sqlite::memory:", "MODELS_CONTAINER", "m-1", "RAW_CONTAINER", "r-1", "REJECTS_CONTAINER", "x-1",
				"PREDICTIONS_CONTAINER", "p-1", "SCORE_QUEUE", "jobs", "FANOUT_SCHEDULE", "0 */5 * * * *",
				"FANOUT_CHUNK_SIZE", "10", "FANOUT_PARALLELISM", "4", "FANOUT_LAG", "0s", "FANOUT_MAX_CATCHUP", "3", "READINGS_RETENTION", "720h",
				"AGGREGATE_WINDOW", "1m", "INGEST_MAX_SKEW", "1h",
				"INGEST_MAX_EVENT_BYTES", "2048", "MODEL_CACHE_BYTES", "1024", "MAX_DEQUEUE_COUNT", "3",
				"INVOCATION_TIMEOUT", "4m", "LOG_LEVEL", "debug", "FUNCTIONS_APP_ROOT_PATH", appRoot,
				"TRAIN_SCHEDULE", "0 30 2 * * *", "TRAIN_DAYS", "3", "TRAIN_NU", "0.05", "TRAIN_GAMMA", "scale", "TRAIN_TOLERANCE", "0.1"),
			want: func(c *Config) {
				c.Port, c.SQLURL, c.ModelsContainer, c.RawContainer, c.RejectsContainer = "8081", "sqlite::memory:", "m-1", "r-1", "x-1"
				c.PredictionsContainer, c.ScoreQueue, c.FanoutSchedule = "p-1", "jobs", "0 */5 * * * *"
				c.FanoutChunkSize, c.FanoutParallelism, c.AggregateWindow, c.IngestMaxSkew = 10, 4, time.Minute, time.Hour
				c.IngestMaxEventBytes, c.ModelCacheBytes, c.MaxDequeueCount, c.InvocationTimeout = 2048, 1024, 3, 4*time.Minute
				c.LogLevel, c.FanoutLag, c.FanoutMaxCatchUp, c.ReadingsRetention = -4, 0, 3, 720*time.Hour
				c.Train = train.Config{Days: 3, Nu: 0.05, Gamma: "scale", Tolerance: 0.1}
			},
		},
		{
			name: "identity-based storage",
			env:  with("AzureWebJobsStorage", "<unset>", "AzureWebJobsStorage__accountName", "acct", "AzureWebJobsStorage__credential", "managedidentity", "AzureWebJobsStorage__clientId", "cid"),
			want: func(c *Config) {
				c.Storage = storage.Config{AccountName: "acct", Credential: "managedidentity", ClientID: "cid"}
			},
		},
		{
			name: "every problem in one error",
			env: with("FUNCTIONS_CUSTOMHANDLER_PORT", "<unset>", "AzureWebJobsStorage", "UseDevelopmentStorage=true",
				"SQL_URL", "postgres://x", "SCORE_QUEUE", "Score_Jobs", "FANOUT_SCHEDULE", "0 0 * * *",
				"FANOUT_CHUNK_SIZE", "many", "AGGREGATE_WINDOW", "5", "MAX_DEQUEUE_COUNT", "0", "LOG_LEVEL", "loud",
				"RAW_CONTAINER", " ", "FANOUT_LAG", "90.5s", "FANOUT_MAX_CATCHUP", "0", "READINGS_RETENTION", "1h",
				"TRAIN_SCHEDULE", "weekly", "TRAIN_NU", "lots", "TRAIN_DAYS", "0", "TRAIN_TOLERANCE", "0"),
			wantErr: []string{
				"FUNCTIONS_CUSTOMHANDLER_PORT: not set",
				"AzureWebJobsStorage: storage connection AzureWebJobsStorage: UseDevelopmentStorage=true is not supported",
				"SQL_URL: want sqlite:PATH",
				`SCORE_QUEUE: "Score_Jobs" is not a container/queue name`,
				"FANOUT_SCHEDULE:",
				`FANOUT_CHUNK_SIZE: "many" is not a valid integer`,
				`AGGREGATE_WINDOW: "5" is not a valid duration`,
				"MAX_DEQUEUE_COUNT: must be positive",
				`LOG_LEVEL: "loud": want debug, info, warn or error`,
				"RAW_CONTAINER: set but empty",
				"FANOUT_LAG: must be zero or a positive whole number of seconds",
				"FANOUT_MAX_CATCHUP: must be positive",
				"READINGS_RETENTION: must be 0 (keep every reading) or at least 24h",
				"TRAIN_SCHEDULE:",
				`TRAIN_NU: "lots" is not a number`,
				"TRAIN_DAYS: 0: must be at least 1",
				"TRAIN_TOLERANCE: 0: must be above 0",
			},
		},
		{
			name: "settings that disagree with host.json",
			env:  with("FUNCTIONS_APP_ROOT_PATH", appRoot),
			wantErr: []string{
				"INVOCATION_TIMEOUT: 9m30s is not below host.json functionTimeout 5m0s",
				"MAX_DEQUEUE_COUNT: 5 differs from host.json extensions.queues.maxDequeueCount 3",
			},
		},
		{
			// The prune after a catch-up of 24 hourly windows lagging 10m would
			// reach into the oldest window fanned out, before it is scored.
			name: "retention within a catch-up",
			env:  with("READINGS_RETENTION", "24h", "AzureWebJobs.train.Disabled", "1"),
			wantErr: []string{"READINGS_RETENTION: 24h0m0s must be 0 (keep every reading) or more than " +
				"(FANOUT_MAX_CATCHUP 24 + 1) x FANOUT_SCHEDULE period 1h0m0s + FANOUT_LAG 10m0s = 25h10m0s"},
		},
		{
			// Retraining reads TRAIN_DAYS of windows, built from readings that
			// retention would already have deleted: it would fit on less
			// history than it says, without a word.
			name:    "retention shorter than the training history",
			env:     with("READINGS_RETENTION", "48h"),
			wantErr: []string{"READINGS_RETENTION: 48h0m0s is shorter than TRAIN_DAYS 7 (168h0m0s) of training history; keep at least that, or disable train (AzureWebJobs.train.Disabled)"},
		},
		{
			name: "retention shorter than TRAIN_DAYS with train disabled",
			env:  with("READINGS_RETENTION", "48h", "AzureWebJobs.train.Disabled", "true"),
			want: func(c *Config) { c.ReadingsRetention = 48 * time.Hour },
		},
		{
			// The readings source key column (namespace/hub/partition) is
			// NVARCHAR(300) on SQL Server: a longer identity would fail every
			// batch with a truncation error.
			name: "event hub identity too long for SQL Server",
			env: with("SQL_URL", "sqlserver://db1.database.windows.net?database=d",
				"EventHubConnection__fullyQualifiedNamespace", strings.Repeat("n", 50)+".servicebus.windows.net", "EVENTHUB_NAME", strings.Repeat("h", 256)),
			wantErr: []string{"EVENTHUB_NAME: the readings' source " + strings.Repeat("n", 50) + ".servicebus.windows.net/" + strings.Repeat("h", 256) +
				"/1023 is 335 characters, more than the 300 of the SQL Server column reading_sources.source"},
		},
		{
			name: "event hub identity from a connection string too long for SQL Server",
			env: with("SQL_URL", "sqlserver://db1.database.windows.net?database=d",
				"EventHubConnection", "Endpoint=sb://"+strings.Repeat("n", 50)+".servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s",
				"EVENTHUB_NAME", strings.Repeat("h", 256)),
			wantErr: []string{"EVENTHUB_NAME: the readings' source " + strings.Repeat("n", 50) + ".servicebus.windows.net/" + strings.Repeat("h", 256) +
				"/1023 is 335 characters"},
		},
		{
			name: "event hub identity that fits SQL Server",
			env: with("SQL_URL", "sqlserver://db1.database.windows.net?database=d",
				"EventHubConnection__fullyQualifiedNamespace", strings.Repeat("n", 50)+".servicebus.windows.net", "EVENTHUB_NAME", strings.Repeat("h", 200)),
			want: func(c *Config) { c.SQLURL = "sqlserver://db1.database.windows.net?database=d" },
		},
		{
			name: "a long event hub name with SQLite",
			env:  with("EventHubConnection__fullyQualifiedNamespace", strings.Repeat("n", 50)+".servicebus.windows.net", "EVENTHUB_NAME", strings.Repeat("h", 256)),
			want: func(*Config) {},
		},
		{
			name:    "score queue too long for its poison queue",
			env:     with("SCORE_QUEUE", strings.Repeat("q", 57)),
			wantErr: []string{`SCORE_QUEUE: "` + strings.Repeat("q", 57) + `" is longer than 56 characters`},
		},
		{
			name:    "sqlserver URL without a host",
			env:     with("SQL_URL", "sqlserver://?database=db"),
			wantErr: []string{"SQL_URL: sqlserver url sqlserver:?database=db has no host"},
		},
		{
			name:    "empty sqlite path",
			env:     with("SQL_URL", "sqlite:"),
			wantErr: []string{"SQL_URL: empty sqlite path"},
		},
		// In Azure (App Service sets WEBSITE_INSTANCE_ID on every instance) a
		// SQLite file would be one per instance, on the app's read-only package.
		{
			name:    "SQLite file in Azure",
			env:     with("WEBSITE_INSTANCE_ID", "0a1b2c", "SQL_URL", "sqlite:batchscore.db"),
			wantErr: []string{"SQL_URL: sqlite:batchscore.db is a SQLite database, which cannot serve an app in Azure (WEBSITE_INSTANCE_ID is set): set SQL_URL to sqlserver://SERVER.database.windows.net?database=DB"},
		},
		{
			name:    "SQLite default in Azure",
			env:     with("WEBSITE_INSTANCE_ID", "0a1b2c"),
			wantErr: []string{"SQL_URL: not set, and its default sqlite:batchscore.db is a SQLite database, which cannot serve an app in Azure (WEBSITE_INSTANCE_ID is set): set SQL_URL to sqlserver://"},
		},
		{
			name:    "in-memory SQLite in Azure",
			env:     with("WEBSITE_INSTANCE_ID", "0a1b2c", "SQL_URL", "sqlite::memory:"),
			wantErr: []string{"SQL_URL: sqlite::memory: is a SQLite database, which cannot serve an app in Azure"},
		},
		{
			name: "Azure SQL in Azure",
			env:  with("WEBSITE_INSTANCE_ID", "0a1b2c", "SQL_URL", "sqlserver://db1.database.windows.net?database=batchscore"),
			want: func(c *Config) { c.SQLURL = "sqlserver://db1.database.windows.net?database=batchscore" },
		},
		{
			name: "blank WEBSITE_INSTANCE_ID is not Azure",
			env:  with("WEBSITE_INSTANCE_ID", " ", "SQL_URL", "sqlite:x.db"),
			want: func(c *Config) { c.SQLURL = "sqlite:x.db" },
		},
		{
			name:    "no storage at all",
			env:     with("AzureWebJobsStorage", "<unset>"),
			wantErr: []string{"AzureWebJobsStorage: storage connection AzureWebJobsStorage: no connection string"},
		},
		{
			name: "application insights with Entra ID",
			env: with("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=k1;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",
				"APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "Authorization=AAD;ClientId=cid", "TELEMETRY", "host", "TELEMETRY_MAX_QUEUE", "100"),
			want: func(c *Config) {
				c.AppInsights = telemetry.Target{IKey: "k1", Endpoint: "https://westeurope-5.in.applicationinsights.azure.com"}
				c.AppInsightsAAD, c.AppInsightsClientID, c.Telemetry, c.TelemetryMaxQueue = true, "cid", "host", 100
			},
		},
		{
			name: "bad telemetry settings",
			env: with("APPLICATIONINSIGHTS_CONNECTION_STRING", "IngestionEndpoint=https://x/", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "ClientId=cid",
				"TELEMETRY", "otlp", "TELEMETRY_MAX_QUEUE", "0"),
			wantErr: []string{
				"APPLICATIONINSIGHTS_CONNECTION_STRING: connection string has no InstrumentationKey",
				`APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "ClientId=cid": want Authorization=AAD[;ClientId=<client id>]`,
				`TELEMETRY: "otlp": want direct or host`,
				"TELEMETRY_MAX_QUEUE: must be positive",
			},
		},
		{
			name:    "bad port",
			env:     with("FUNCTIONS_CUSTOMHANDLER_PORT", "70000"),
			wantErr: []string{`FUNCTIONS_CUSTOMHANDLER_PORT: "70000" is not a TCP port`},
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			setEnv(t, test.env)
			got, err := loadConfig(os.Getenv)
			if test.wantErr != nil {
				if err == nil {
					t.Fatalf("loadConfig succeeded, want an error with %q", test.wantErr)
				}
				lines := strings.Split(err.Error(), "\n")
				if len(lines)-1 != len(test.wantErr) {
					t.Errorf("error has %d problems, want %d:\n%v", len(lines)-1, len(test.wantErr), err)
				}
				for _, w := range test.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not contain %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Config{
				Port: "7071", Storage: storage.Config{ConnectionString: storage.AzuriteConnectionString},
				SQLURL: "sqlite:batchscore.db", ModelsContainer: "models", RawContainer: "raw", RejectsContainer: "rejects",
				PredictionsContainer: "preds", ScoreQueue: "score-jobs", FanoutSchedule: "0 10 * * * *", FanoutChunkSize: 1,
				FanoutParallelism: 16, FanoutLag: 10 * time.Minute, FanoutMaxCatchUp: 24, AggregateWindow: 5 * time.Second, IngestMaxSkew: 24 * time.Hour, IngestMaxEventBytes: 1 << 20,
				ModelCacheBytes: 256 << 20, MaxDequeueCount: 5, InvocationTimeout: 9*time.Minute + 30*time.Second,
				Telemetry: "direct", TelemetryMaxQueue: 8192,
				Train: train.Config{Days: 7, Nu: 0.01, Gamma: "0.01", Tolerance: 0.05},
			}
			test.want(&want)
			want.Train.ModelsContainer, want.Train.Width = want.ModelsContainer, want.AggregateWindow
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTimeSpan(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"00:10:00": 10 * time.Minute, "01:00:05": time.Hour + 5*time.Second, "1.02:00:00": 26 * time.Hour,
	} {
		if got, ok := parseTimeSpan(in); !ok || got != want {
			t.Errorf("parseTimeSpan(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "10m", "-1", "a:b:c"} {
		if _, ok := parseTimeSpan(in); ok {
			t.Errorf("parseTimeSpan(%q) ok, want failure", in)
		}
	}
}

// TestCheckSQLInAzure: the check reads the environment only through the
// reader it is given (it used os.LookupEnv for SQL_URL, so a fake
// environment could not say whether SQL_URL was set).
func TestCheckSQLInAzure(t *testing.T) {
	t.Setenv("SQL_URL", "") // registers the restore
	os.Unsetenv("SQL_URL")  // the process environment must not matter
	for _, tc := range []struct {
		name string
		env  map[string]string
		url  string
		want string // substring of the error; "" for none
	}{
		{"SQL_URL set to SQLite in Azure", map[string]string{"WEBSITE_INSTANCE_ID": "0a1b", "SQL_URL": "sqlite:x.db"}, "sqlite:x.db",
			"sqlite:x.db is a SQLite database, which cannot serve an app in Azure"},
		{"default SQLite in Azure", map[string]string{"WEBSITE_INSTANCE_ID": "0a1b"}, "sqlite:batchscore.db",
			"not set, and its default sqlite:batchscore.db is a SQLite database"},
		{"SQLite outside Azure", map[string]string{"SQL_URL": "sqlite:x.db"}, "sqlite:x.db", ""},
		{"SQL Server in Azure", map[string]string{"WEBSITE_INSTANCE_ID": "0a1b", "SQL_URL": "sqlserver://h?database=d"}, "sqlserver://h?database=d", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSQLInAzure(tc.url, func(k string) string { return tc.env[k] })
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("err = %v, want one starting %q", err, tc.want)
			}
		})
	}
}
