package storage

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{
			name: "connection string",
			env:  map[string]string{"AzureWebJobsStorage": AzuriteConnectionString},
			want: Config{ConnectionString: AzuriteConnectionString},
		},
		{
			name:    "development storage shortcut",
			env:     map[string]string{"AzureWebJobsStorage": "UseDevelopmentStorage=true"},
			wantErr: "AccountName=devstoreaccount1",
		},
		{
			name: "account name",
			env:  map[string]string{"AzureWebJobsStorage__accountName": "acct"},
			want: Config{AccountName: "acct"},
		},
		{
			name: "service uris and user-assigned identity",
			env: map[string]string{
				"AzureWebJobsStorage__blobServiceUri":  "https://acct.blob.core.windows.net",
				"AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net",
				"AzureWebJobsStorage__credential":      "managedidentity",
				"AzureWebJobsStorage__clientId":        "00000000-0000-0000-0000-000000000001",
			},
			want: Config{BlobServiceURI: "https://acct.blob.core.windows.net", QueueServiceURI: "https://acct.queue.core.windows.net",
				Credential: "managedidentity", ClientID: "00000000-0000-0000-0000-000000000001"},
		},
		{
			name:    "blob uri only",
			env:     map[string]string{"AzureWebJobsStorage__serviceUri": "https://acct.blob.core.windows.net"},
			wantErr: "__queueServiceUri",
		},
		{name: "nothing", env: map[string]string{}, wantErr: "no connection string"},
		{
			name:    "unknown credential",
			env:     map[string]string{"AzureWebJobsStorage__accountName": "acct", "AzureWebJobsStorage__credential": "password"},
			wantErr: "unsupported credential",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tc.env[k] }, "AzureWebJobsStorage")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ConfigFromEnv (-want +got):\n%s", d)
			}
		})
	}
}

// TestNewIdentityBased builds identity-based clients without a network call:
// the account name gives the public endpoints.
func TestNewIdentityBased(t *testing.T) {
	a, err := New(Config{AccountName: "acct", Credential: "managedidentity", ClientID: "id"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.blob.URL(), "https://acct.blob.core.windows.net/"; got != want {
		t.Errorf("blob URL = %s, want %s", got, want)
	}
	if got, want := a.queue.URL(), "https://acct.queue.core.windows.net/"; got != want {
		t.Errorf("queue URL = %s, want %s", got, want)
	}
	if got, want := a.Queue("score-jobs").c.URL(), "https://acct.queue.core.windows.net/score-jobs"; got != want {
		t.Errorf("queue client URL = %s, want %s", got, want)
	}
}
