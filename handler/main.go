// Command handler is the Azure Functions custom handler of batchscore: the
// web server the Functions host starts (host.json customHandler
// defaultExecutablePath "handler") and POSTs every invocation to, at
// 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT/{function}. See routes.go for the
// surface and docs/host.md for the host settings around it.
//
// Usage:
//
//	handler [-check]
//
// Settings come from the environment (app settings; docs/design.md). With
// -check the handler validates them, prints "settings OK" and exits.
package main

import (
	"context"
	"log/slog"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		// One JSON line: the host shows the last stderr lines when a worker exits.
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("handler stopped", "err", err.Error())
		os.Exit(1)
	}
}
