package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/telemetry"
)

// newLogger returns the process logger. With TELEMETRY=direct and an
// APPLICATIONINSIGHTS_CONNECTION_STRING every record goes to Application
// Insights through the returned client, and nothing to stdout (each line
// once; docs/monitoring.md); the client's own problems (a failed post, items
// dropped from a full queue) are written to stderr, where the host logs them
// under Host.Function.Console. Otherwise the client is nil and records go to
// stdout/stderr and the invocations' Logs (azfunc.NewLogger, azfunc.Handle).
func newLogger(cfg Config, getenv func(string) string, stdout, stderr io.Writer) (*slog.Logger, *telemetry.Client, error) {
	if cfg.Telemetry != "direct" || cfg.AppInsights.IKey == "" {
		return azfunc.NewLogger(stdout, stderr, cfg.LogLevel), nil, nil
	}
	var cred azcore.TokenCredential
	if cfg.AppInsightsAAD {
		var o azidentity.ManagedIdentityCredentialOptions
		if cfg.AppInsightsClientID != "" {
			o.ID = azidentity.ClientID(cfg.AppInsightsClientID)
		}
		c, err := azidentity.NewManagedIdentityCredential(&o)
		if err != nil {
			return nil, nil, fmt.Errorf("application insights credential: %w", err)
		}
		cred = c
	}
	instance := getenv("WEBSITE_INSTANCE_ID")
	if instance == "" {
		instance, _ = os.Hostname()
	}
	var mu sync.Mutex
	errLog := slog.New(slog.NewJSONHandler(stderr, nil))
	c := telemetry.New(telemetry.Options{
		Target:       cfg.AppInsights,
		Credential:   cred,
		Role:         getenv("WEBSITE_SITE_NAME"),
		RoleInstance: instance,
		MaxQueue:     cfg.TelemetryMaxQueue,
		OnError: func(err error) {
			mu.Lock()
			defer mu.Unlock()
			errLog.Error("telemetry export failed", "err", err.Error())
		},
	})
	return slog.New(c.Handler(cfg.LogLevel)), c, nil
}
