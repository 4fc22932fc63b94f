// Command funcapp lays out a function app folder for func start (Azure Functions
// Core Tools 4.x) on the computer it runs on: host.json with the handler's name
// for the OS (handler.exe on Windows), the handler built for GOOS/GOARCH,
// <function>/function.json for each function, and local.settings.json with
// Azurite's endpoints (see internal/appfolder). `make app` runs it; on Windows,
// without make: go run ./cmd/funcapp
//
//	funcapp [-out app] [-goos GOOS -goarch GOARCH] [-handler PATH] [-src .] [-local=false]
//
// make package runs it with -goos linux -goarch amd64 -local=false -out dist.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/batchscore/batchscore/internal/appfolder"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err == flag.ErrHelp {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "funcapp:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("funcapp", flag.ContinueOnError)
	fs.SetOutput(stdout)
	out := fs.String("out", "app", "app folder to write (replaced; an existing local.settings.json in it is kept; a folder without host.json, or one holding -src, is refused)")
	goos := fs.String("goos", runtime.GOOS, "operating system of the handler")
	goarch := fs.String("goarch", runtime.GOARCH, "architecture of the handler")
	handler := fs.String("handler", "", "handler binary already built for GOOS/GOARCH (default: go build ./handler)")
	src := fs.String("src", ".", "repository root (host.json, local.settings.sample.json, functions/)")
	local := fs.Bool("local", true, "write local.settings.json for func start (false for the Azure package, make package)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *handler == "" {
		fmt.Fprintf(stdout, "building the handler for %s/%s (the first build compiles every dependency: a few minutes)\n", *goos, *goarch)
	}
	fns, err := appfolder.Layout(ctx, appfolder.Options{Src: *src, Out: *out, GOOS: *goos, GOARCH: *goarch, Handler: *handler, Local: *local})
	if err != nil {
		return err
	}
	settings := "local.settings.sample.json"
	if *local {
		settings = "local.settings.json"
	}
	fmt.Fprintf(stdout, "%s/: function app for %s/%s (host.json, %s, %s, %s)\n", filepath.ToSlash(*out),
		*goos, *goarch, appfolder.HandlerName(*goos), settings, strings.Join(fns, "/, ")+"/")
	return nil
}
