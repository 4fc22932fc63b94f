package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	scoresensor "github.com/batchscore/batchscore/functions/score-sensor"
)

// Server timeouts. The host talks to the handler over loopback; bodies are at
// most a few hundred MiB (an Event Hubs batch) and a response waits for the
// invocation, so WriteTimeout follows INVOCATION_TIMEOUT.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 2 * time.Minute
	idleTimeout       = 2 * time.Minute
)

// shutdownGrace is how long in-flight invocations may go on after SIGTERM
// before they are cancelled. Tests shorten it before calling run.
var shutdownGrace = 10 * time.Second

// telemetryFlush bounds the flush of queued telemetry at exit.
const telemetryFlush = 5 * time.Second

// run is the whole program: it reads the settings, listens on the host's port
// at once (the host polls GET / and gives up after its initialization
// timeout), builds the storage and SQL clients in the background, serves until
// ctx ends or SIGTERM/SIGINT arrives, and then shuts down gracefully: new
// connections are refused, in-flight invocations get shutdownGrace to finish,
// then are cancelled and get up to scoresensor.RecordTimeout (+5 s) more to
// record their outcomes before the SQL store is closed.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("handler", flag.ContinueOnError)
	fs.SetOutput(stderr)
	check := fs.Bool("check", false, "validate the settings and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if *check {
		fmt.Fprintln(stdout, "settings OK")
		return nil
	}
	logger, tel, err := newLogger(cfg, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	if tel != nil {
		defer func() {
			// Flush what is queued; never hold the exit for long.
			fctx, cancel := context.WithTimeout(context.Background(), telemetryFlush)
			defer cancel()
			if err := tel.Close(fctx); err != nil {
				slog.New(slog.NewJSONHandler(stderr, nil)).Error("telemetry not flushed at exit", "err", err.Error())
			}
		}()
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", cfg.Port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	a := newApp(cfg, logger)
	a.tel = tel
	// In-flight invocations keep their contexts through the shutdown grace;
	// baseCtx ends only when the server is closed for good.
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      cfg.InvocationTimeout + time.Minute,
		IdleTimeout:       idleTimeout,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String(), "pid", os.Getpid())

	setupDone := make(chan struct{})
	go func() {
		defer close(setupDone)
		a.setup(ctx)
	}()

	var result error
	select {
	case err := <-serveErr:
		result = fmt.Errorf("serve: %w", err)
		stop()
	case <-ctx.Done():
		logger.Info("shutting down", "grace", shutdownGrace.String())
		shCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		if err := srv.Shutdown(shCtx); err != nil {
			logger.Warn("graceful shutdown incomplete; closing in-flight invocations", "err", err.Error())
			cancelBase()
			_ = srv.Close()
		}
		cancel()
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			result = fmt.Errorf("serve: %w", err)
		}
	}
	<-setupDone
	// Cancelled invocations are still recording their outcomes: keep the
	// store open for them (http.Server.Close does not wait for handlers).
	if !a.drain(scoresensor.RecordTimeout + 5*time.Second) {
		logger.Warn("invocations still running at exit; closing the SQL store under them")
	}
	if err := a.close(); err != nil {
		result = errors.Join(result, err)
	}
	logger.Info("stopped")
	return result
}
