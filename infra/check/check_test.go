package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.txt")

const root = "../.."

// repo is the repository with dir as its Bicep folder; docs/deploy.md is checked only against the
// repository's own tree and its mutations, not against the small fixtures.
func repo(dir string) Repo {
	r := Repo{Root: root, BicepDir: dir, Script: "parse.js"}
	if !strings.HasPrefix(dir, "testdata") {
		r.Doc = filepath.Join(root, "docs", "deploy.md")
	}
	return r
}

func run(t *testing.T, dir string) Report {
	t.Helper()
	rep, err := Check(repo(dir))
	if err != nil {
		t.Fatalf("Check(%s): %v", dir, err)
	}
	return rep
}

func lines(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestRepository: the repository's own infra/bicep passes every check, and the checks did look at it.
func TestRepository(t *testing.T) {
	rep := run(t, filepath.Join(root, "infra", "bicep"))
	if len(rep.Problems) > 0 {
		t.Fatalf("infra/bicep:\n%s", lines(rep.Problems))
	}
	if rep.Files < 10 || rep.Resources < 20 || rep.Properties < 150 || rep.Settings < 25 {
		t.Errorf("checked too little: %d files, %d resources, %d properties, %d settings", rep.Files, rep.Resources, rep.Properties, rep.Settings)
	}
}

// TestFixtures: each testdata folder is a small Bicep tree with one kind of mistake; want.txt lists
// exactly the problems the check must report for it (go test -update rewrites them).
func TestFixtures(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got := lines(run(t, dir).Problems)
			want := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if got == "" {
				t.Error("no problem found")
			}
			if got != string(b) {
				t.Errorf("problems:\n%s\nwant (%s):\n%s", got, want, b)
			}
		})
	}
}

// TestMutations breaks the repository's own Bicep in one place and expects the check to say where.
func TestMutations(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new string
		want                 []string
	}{
		{
			name: "missing handler setting",
			file: "modules/functionapp.bicep",
			old:  "        {\n          name: 'LOG_LEVEL'\n          value: handler.logLevel\n        }\n",
			new:  "",
			want: []string{"functionapp.bicep:", "app setting LOG_LEVEL missing: the handler reads it"},
		},
		{
			name: "setting nothing reads",
			file: "modules/functionapp.bicep",
			old:  "name: 'AGGREGATE_WINDOW'",
			new:  "name: 'AGGREGATION_WINDOW'",
			want: []string{"app setting AGGREGATE_WINDOW missing", "app setting AGGREGATION_WINDOW is read by nothing"},
		},
		{
			name: "setting a binding uses",
			file: "modules/functionapp.bicep",
			old:  "name: 'EVENTHUB_CONSUMER_GROUP'",
			new:  "name: 'EVENTHUB_GROUP'",
			want: []string{"functions/ingest/function.json uses %EVENTHUB_CONSUMER_GROUP%"},
		},
		{
			name: "storage key in an app setting",
			file: "modules/functionapp.bicep",
			old:  "          name: 'AzureWebJobsStorage__accountName'\n          value: storageAccountName\n",
			new:  "          name: 'AzureWebJobsStorage'\n          value: 'DefaultEndpointsProtocol=https;AccountName=${storageAccountName};AccountKey=${listKeys(resourceId('Microsoft.Storage/storageAccounts', storageAccountName), '2024-01-01').keys[0].value}'\n",
			want: []string{
				"app setting AzureWebJobsStorage is a connection string (functions/timer-fanout)",
				"app setting AzureWebJobsStorage holds a key, SAS, password or connection string",
			},
		},
		{
			name: "Event Hubs SAS in an app setting",
			file: "modules/functionapp.bicep",
			old:  "          value: eventHubsNamespaceFqdn\n",
			new:  "          value: 'Endpoint=sb://${eventHubsNamespaceFqdn}/;SharedAccessKeyName=listen;SharedAccessKey=abc'\n",
			want: []string{"app setting EventHubConnection__fullyQualifiedNamespace holds a key, SAS, password or connection string"},
		},
		{
			name: "connection without the identity's client ID",
			file: "modules/functionapp.bicep",
			old:  "name: 'EventHubConnection__clientId'",
			new:  "name: 'EventHubConnection__tenantId'",
			want: []string{"connection EventHubConnection: app setting EventHubConnection__clientId missing (the app has only a user-assigned identity)"},
		},
		{
			name: "connection with a secret credential",
			file: "modules/functionapp.bicep",
			old:  "          name: 'AzureWebJobsStorage__credential'\n          value: 'managedidentity'\n",
			new:  "          name: 'AzureWebJobsStorage__credential'\n          value: 'clientsecret'\n",
			want: []string{"app setting AzureWebJobsStorage__credential must be 'managedidentity'"},
		},
		{
			name: "content share",
			file: "modules/functionapp.bicep",
			old:  "        // Host and platform.\n",
			new:  "        // Host and platform.\n        {\n          name: 'WEBSITE_CONTENTSHARE'\n          value: appName\n        }\n",
			want: []string{"app setting WEBSITE_CONTENTSHARE: an Azure Files content share takes only an account key"},
		},
		{
			name: "telemetry without Entra",
			file: "modules/monitoring.bicep",
			old:  "DisableLocalAuth: true",
			new:  "DisableLocalAuth: false",
			want: []string{"Application Insights appInsights: set properties.DisableLocalAuth to true", "app setting APPLICATIONINSIGHTS_CONNECTION_STRING: an Application Insights connection string is allowed only with"},
		},
		{
			name: "worker runtime",
			file: "modules/functionapp.bicep",
			old:  "value: 'custom'",
			new:  "value: 'dotnet-isolated'",
			want: []string{"app setting FUNCTIONS_WORKER_RUNTIME must be 'custom'"},
		},
		{
			name: "SQLite in Azure",
			file: "modules/functionapp.bicep",
			old:  "value: 'sqlserver://${sqlServerFqdn}?database=${sqlDatabaseName}&fedauth=ActiveDirectoryManagedIdentity&user+id=${identityClientId}'",
			new:  "value: 'sqlite:/home/batchscore.db'",
			want: []string{"app setting SQL_URL must be 'sqlserver://"},
		},
		{
			name: "SQL without the user-assigned identity",
			file: "modules/functionapp.bicep",
			old:  "&fedauth=ActiveDirectoryManagedIdentity&user+id=${identityClientId}'",
			new:  "'",
			want: []string{"app setting SQL_URL must be 'sqlserver://"},
		},
		{
			name: "dequeue count other than host.json's",
			file: "modules/functionapp.bicep",
			old:  "          name: 'MAX_DEQUEUE_COUNT'\n          value: '5'\n",
			new:  "          name: 'MAX_DEQUEUE_COUNT'\n          value: '10'\n",
			want: []string{"app setting MAX_DEQUEUE_COUNT must be '5', host.json extensions.queues.maxDequeueCount"},
		},
		{
			name: "invocation timeout over host.json's",
			file: "modules/functionapp.bicep",
			old:  "value: '9m30s'",
			new:  "value: '10m'",
			want: []string{"app setting INVOCATION_TIMEOUT must be a literal duration below host.json functionTimeout 00:10:00"},
		},
		{
			name: "TLS version spelt as another service spells it",
			file: "modules/storage.bicep",
			old:  "minimumTlsVersion: 'TLS1_2'",
			new:  "minimumTlsVersion: '1.2'",
			want: []string{"storage.bicep:", `Microsoft.Storage/storageAccounts.properties.minimumTlsVersion: "1.2" is not a MinimumTLSVersion value (armstorage v1.8.1: TLS1_0, TLS1_1, TLS1_2`},
		},
		{
			name: "misspelt enum value",
			file: "modules/functionapp.bicep",
			old:  "ftpsState: 'Disabled'",
			new:  "ftpsState: 'Disable'",
			want: []string{`Microsoft.Web/sites.properties.siteConfig.ftpsState: "Disable" is not a FtpsState value`},
		},
		{
			name: "misspelt property",
			file: "modules/functionapp.bicep",
			old:  "httpsOnly: true",
			new:  "httpOnly: true",
			want: []string{"functionapp.bicep:", `Microsoft.Web/sites.properties: unknown property "httpOnly"`, "did you mean httpsOnly?"},
		},
		{
			name: "role GUID under another name",
			file: "modules/roles.bicep",
			old:  "storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'",
			new:  "storageQueueDataContributor: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'",
			want: []string{"roles.bicep:", "storageQueueDataContributor: c6a89b2d-59bc-44d0-9896-0f6e12d7b80a is Storage Queue Data Message Sender, not Storage Queue Data Contributor"},
		},
		{
			name: "role key that roles.bicep does not have",
			file: "modules/eventhubs.bicep",
			old:  "name: guid(hub.id, senderPrincipalId, builtInRoles.azureEventHubsDataSender)",
			new:  "name: guid(hub.id, senderPrincipalId, builtInRoles.azureEventHubsDataSend)",
			want: []string{"eventhubs.bicep:", "builtInRoles.azureEventHubsDataSend: builtInRoles has no key azureEventHubsDataSend"},
		},
		{
			name: "parameter and setting the deployment doc does not describe",
			file: "modules/functionapp.bicep",
			old:  "name: 'FANOUT_PARALLELISM'",
			new:  "name: 'FANOUT_PARALLELISM_X'",
			want: []string{"app setting FANOUT_PARALLELISM_X is not in docs/deploy.md's app settings table"},
		},
		{
			name: "module parameter misspelt",
			file: "main.bicep",
			old:  "    partitionCount: eventHubPartitions\n",
			new:  "    partitions: eventHubPartitions\n",
			want: []string{`module eventhubs (modules/eventhubs.bicep): no parameter "partitions"`, `module eventhubs (modules/eventhubs.bicep): required parameter "partitionCount" not passed`},
		},
		{
			name: "parameter file sets an unknown parameter",
			file: "prod.bicepparam",
			old:  "param maximumBurst = 20",
			new:  "param maxBurst = 20",
			want: []string{"prod.bicepparam:", "parameter maxBurst is not declared in ./main.bicep"},
		},
		{
			name: "syntax error",
			file: "modules/sql.bicep",
			old:  "    startIpAddress: '0.0.0.0'\n",
			new:  "    startIpAddress: '0.0.0.0\n",
			want: []string{"sql.bicep:", "syntax error"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyTree(t, filepath.Join(root, "infra", "bicep"))
			replaceOnce(t, dir, tc.file, tc.old, tc.new)
			got := lines(run(t, dir).Problems)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems do not mention %q:\n%s", w, got)
				}
			}
		})
	}
}

// replaceOnce replaces old by new in dir/file, and fails the test unless old
// occurs exactly once there.
func replaceOnce(t *testing.T, dir, file, old, new string) {
	t.Helper()
	p := filepath.Join(dir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), old); n != 1 {
		t.Fatalf("%s: %q occurs %d times, want once", file, old, n)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
