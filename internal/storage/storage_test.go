package storage

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

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

// TestServiceErrorsAreOneLine: SDK response errors reach logs, outcome rows and
// run-status answers as one short line, keep their classification, and never
// show the request's query (a SAS token would be there).
func TestServiceErrorsAreOneLine(t *testing.T) {
	respErr := func(method, rawURL string, status int, code string) error {
		req, err := http.NewRequest(method, rawURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp := &http.Response{
			StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), Request: req,
			Header: http.Header{"X-Ms-Error-Code": {code}},
			Body:   io.NopCloser(strings.NewReader("<?xml version=\"1.0\"?>\n<Error><Code>" + code + "</Code><Message>details\nRequestId:1</Message></Error>")),
		}
		return runtime.NewResponseError(resp)
	}
	for _, tc := range []struct {
		name      string
		err       error
		want      string
		notFound  bool
		transient bool
		code      bloberror.Code
	}{
		{"missing blob", respErr("GET", "https://acct.blob.core.windows.net/models/model_1_2?sv=2024&sig=SECRET", 404, "BlobNotFound"),
			"not found: GET https://acct.blob.core.windows.net/models/model_1_2: 404 Not Found (BlobNotFound)", true, false, bloberror.BlobNotFound},
		{"busy", respErr("PUT", "https://acct.blob.core.windows.net/raw/x.jsonl", 503, "ServerBusy"),
			"PUT https://acct.blob.core.windows.net/raw/x.jsonl: 503 Service Unavailable (ServerBusy)", false, true, bloberror.ServerBusy},
		{"not an SDK error", errors.New("dial tcp: refused"), "dial tcp: refused", false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := notFound(tc.err)
			if got := err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
			if errors.Is(err, ErrNotFound) != tc.notFound || IsTransient(err) != tc.transient {
				t.Errorf("ErrNotFound %v, transient %v; want %v, %v", errors.Is(err, ErrNotFound), IsTransient(err), tc.notFound, tc.transient)
			}
			if tc.code != "" && !bloberror.HasCode(err, tc.code) {
				t.Errorf("bloberror.HasCode(%s) = false", tc.code)
			}
		})
	}
}
