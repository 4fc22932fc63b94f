// Package storage adapts Azure Blob and Queue storage (azblob, azqueue) to the
// small operations the functions need: put/get/list blobs with ETags, and
// enqueue/receive/delete queue messages in the encoding the Functions host uses.
//
// One Account is built from the same settings the Functions host reads for a
// connection named AzureWebJobsStorage: either a connection string (the full,
// explicit Azurite string locally) or an identity-based connection
// (AzureWebJobsStorage__accountName or __blobServiceUri/__queueServiceUri, with
// DefaultAzureCredential or, for __credential=managedidentity, a managed identity).
//
// Queue message bodies are base64-encoded on the wire, because host.json keeps
// the Queues extension's default messageEncoding "base64": a message enqueued
// here is decoded by the host into exactly the bytes that were passed to Enqueue.
package storage

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
)

// Config selects the storage account and how to authenticate. Set either
// ConnectionString, or AccountName / the service URIs for an identity-based connection.
type Config struct {
	ConnectionString string // AzureWebJobsStorage

	AccountName     string // AzureWebJobsStorage__accountName: https://{name}.blob|queue.core.windows.net
	BlobServiceURI  string // AzureWebJobsStorage__blobServiceUri (also __serviceUri)
	QueueServiceURI string // AzureWebJobsStorage__queueServiceUri
	Credential      string // AzureWebJobsStorage__credential: "" (DefaultAzureCredential) or "managedidentity"
	ClientID        string // AzureWebJobsStorage__clientId: user-assigned managed identity

	Retry Retry
}

// Retry bounds the SDK's retries. The zero value gives the production defaults
// (3 retries, 800ms initial delay, 10s maximum delay, 60s per try).
// Tests use few retries and short timeouts so that "storage down" fails fast.
type Retry struct {
	MaxRetries    int           // 0 means the default 3; negative means no retries
	TryTimeout    time.Duration // per HTTP attempt
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
}

func (r Retry) options() policy.RetryOptions {
	o := policy.RetryOptions{MaxRetries: 3, TryTimeout: 60 * time.Second, RetryDelay: 800 * time.Millisecond, MaxRetryDelay: 10 * time.Second}
	switch {
	case r.MaxRetries < 0:
		o.MaxRetries = -1
	case r.MaxRetries > 0:
		o.MaxRetries = int32(r.MaxRetries)
	}
	if r.TryTimeout > 0 {
		o.TryTimeout = r.TryTimeout
	}
	if r.RetryDelay > 0 {
		o.RetryDelay = r.RetryDelay
	}
	if r.MaxRetryDelay > 0 {
		o.MaxRetryDelay = r.MaxRetryDelay
	}
	if o.MaxRetryDelay < o.RetryDelay {
		o.MaxRetryDelay = o.RetryDelay
	}
	return o
}

// httpClient is shared by every Account. It is the SDK's default transport with
// more idle connections per host (the SDK keeps 10), so that EnqueueMany with a
// parallelism above 10 reuses its connections instead of dialling anew.
var httpClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	ForceAttemptHTTP2:     true,
	MaxIdleConns:          256,
	MaxIdleConnsPerHost:   64,
	IdleConnTimeout:       90 * time.Second,
	TLSHandshakeTimeout:   10 * time.Second,
	ExpectContinueTimeout: time.Second,
	TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	HTTP2:                 &http.HTTP2Config{SendPingTimeout: 10 * time.Second, PingTimeout: 5 * time.Second},
}}

// devStorage is the shortcut the Functions host accepts but the Go SDKs reject.
const devStorage = "UseDevelopmentStorage=true"

// AzuriteConnectionString is the explicit connection string for Azurite on its
// default ports, with the public development key.
const AzuriteConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
	"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
	"BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;" +
	"TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"

// ConfigFromEnv reads the connection named name (normally "AzureWebJobsStorage")
// the way the Functions host does: the setting itself is a connection string;
// otherwise name__accountName, name__blobServiceUri (or name__serviceUri),
// name__queueServiceUri, name__credential and name__clientId describe an
// identity-based connection. getenv is os.Getenv in production.
func ConfigFromEnv(getenv func(string) string, name string) (Config, error) {
	c := Config{
		ConnectionString: strings.TrimSpace(getenv(name)),
		AccountName:      getenv(name + "__accountName"),
		BlobServiceURI:   getenv(name + "__blobServiceUri"),
		QueueServiceURI:  getenv(name + "__queueServiceUri"),
		Credential:       getenv(name + "__credential"),
		ClientID:         getenv(name + "__clientId"),
	}
	if c.BlobServiceURI == "" {
		c.BlobServiceURI = getenv(name + "__serviceUri")
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("storage connection %s: %w", name, err)
	}
	return c, nil
}

// Validate reports a missing or unusable setting.
func (c Config) Validate() error {
	if c.ConnectionString != "" {
		if strings.Contains(strings.ToLower(strings.ReplaceAll(c.ConnectionString, " ", "")), strings.ToLower(devStorage)) {
			return fmt.Errorf("%s is not supported by the Go storage SDKs; use the explicit Azurite connection string: %s", devStorage, AzuriteConnectionString)
		}
		return nil
	}
	if c.AccountName == "" && (c.BlobServiceURI == "" || c.QueueServiceURI == "") {
		return errors.New("no connection string and no identity-based settings: set the connection string, or __accountName, or both __blobServiceUri and __queueServiceUri")
	}
	switch strings.ToLower(c.Credential) {
	case "", "managedidentity":
	default:
		return fmt.Errorf("unsupported credential %q (want managedidentity or empty)", c.Credential)
	}
	return nil
}

// Account holds the Blob and Queue service clients of one storage account.
type Account struct {
	blob  *service.Client
	queue *azqueue.ServiceClient
}

// New builds the service clients. It makes no network call.
func New(cfg Config) (*Account, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	co := azcore.ClientOptions{Retry: cfg.Retry.options(), Transport: httpClient}
	bo := &service.ClientOptions{ClientOptions: co}
	qo := &azqueue.ClientOptions{ClientOptions: co}
	a := &Account{}
	if cfg.ConnectionString != "" {
		var err error
		if a.blob, err = service.NewClientFromConnectionString(cfg.ConnectionString, bo); err != nil {
			return nil, fmt.Errorf("storage: blob client from connection string: %w", err)
		}
		if a.queue, err = azqueue.NewServiceClientFromConnectionString(cfg.ConnectionString, qo); err != nil {
			return nil, fmt.Errorf("storage: queue client from connection string: %w", err)
		}
		return a, nil
	}
	cred, err := credential(cfg)
	if err != nil {
		return nil, fmt.Errorf("storage: credential: %w", err)
	}
	blobURL, queueURL := cfg.BlobServiceURI, cfg.QueueServiceURI
	if blobURL == "" {
		blobURL = "https://" + cfg.AccountName + ".blob.core.windows.net/"
	}
	if queueURL == "" {
		queueURL = "https://" + cfg.AccountName + ".queue.core.windows.net/"
	}
	if a.blob, err = service.NewClient(blobURL, cred, bo); err != nil {
		return nil, fmt.Errorf("storage: blob client for %s: %w", blobURL, err)
	}
	if a.queue, err = azqueue.NewServiceClient(queueURL, cred, qo); err != nil {
		return nil, fmt.Errorf("storage: queue client for %s: %w", queueURL, err)
	}
	return a, nil
}

func credential(cfg Config) (azcore.TokenCredential, error) {
	if strings.EqualFold(cfg.Credential, "managedidentity") {
		o := &azidentity.ManagedIdentityCredentialOptions{}
		if cfg.ClientID != "" {
			o.ID = azidentity.ClientID(cfg.ClientID)
		}
		return azidentity.NewManagedIdentityCredential(o)
	}
	// As in the host, __clientId applies only with __credential=managedidentity;
	// DefaultAzureCredential reads AZURE_CLIENT_ID itself.
	return azidentity.NewDefaultAzureCredential(nil)
}

// Blobs returns the blob operations of the account.
func (a *Account) Blobs() *Blobs { return &Blobs{svc: a.blob} }

// Queue returns the operations on one queue of the account. It does not create it (see Ensure).
func (a *Account) Queue(name string) *Queue {
	return &Queue{name: name, c: a.queue.NewQueueClient(name)}
}
