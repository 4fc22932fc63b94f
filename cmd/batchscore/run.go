package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/term"

	"github.com/batchscore/batchscore/internal/localhost"
	"github.com/batchscore/batchscore/internal/localrun"
)

const runUsage = `usage: batchscore run [-app app] [-azurite PATH] [-data CSV -models DIR [-expected CSV]] [-out DIR]
                      [-synthetic DEVICESxSENSORS -rows N -noise F -anomalies F -seed N]
Runs Azurite, SQLite and the handler behind a local Functions host, ingests the readings as
Event Hubs batches, scores one run over their time range and checks the reference predictions.
`

// runLocal is `batchscore run`: the whole pipeline on this computer (see internal/localrun).
func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	app := fs.String("app", "app", "app folder for this computer, as make app lays it out (host.json, handler, <function>/function.json)")
	az := fs.String("azurite", "", "Azurite executable (default $AZURITE_BIN or node_modules/.bin/azurite)")
	data := fs.String("data", "", "readings CSV TS,Device,Sensor,Value (default: the reference sensor_data.csv)")
	models := fs.String("models", "", "folder of model_{device}_{sensor} blobs (default: the reference models)")
	expected := fs.String("expected", "", "reference predictions to compare with (default: the reference's, with the default data)")
	out := fs.String("out", "out", "folder for the predictions copy, the report and the log")
	synthetic := fs.String("synthetic", "", "generate a fleet of DEVICESxSENSORS instead of the reference data, e.g. 100x10")
	rows := fs.Int("rows", 720, "synthetic: readings per sensor (5 s apart)")
	noise := fs.Float64("noise", 0.05, "synthetic: noise standard deviation relative to the level")
	anomalies := fs.Float64("anomalies", 0.01, "synthetic: share of injected anomalies")
	seed := fs.Uint64("seed", 1, "synthetic: random seed")
	partitions := fs.Int("partitions", 4, "event hub partitions the readings are spread over")
	visibility := fs.Duration("visibility-timeout", 0, "override host.json extensions.queues.visibilityTimeout, e.g. 1s (default: host.json's)")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	if help, err := parseFlags(fs, args, runUsage, stdout); help || err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(*app, "host.json")); err != nil {
		return fmt.Errorf("run: no app folder at %s (%w): run `make run`, or `make app` first", *app, err)
	}
	c := localrun.Config{
		AppDir: *app, AzuriteBin: *az, Data: *data, Models: *models, Expected: *expected,
		OutDir: *out, Partitions: *partitions, Stdout: stdout,
	}
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		c.Terminal = true
	}
	if *synthetic != "" {
		if *data != "" || *models != "" {
			return usageError{errors.New("run: -synthetic replaces -data and -models")}
		}
		d, s, err := localrun.ParseFleet(*synthetic)
		if err != nil {
			return usageError{err}
		}
		c.Synthetic = &localrun.Synthetic{Devices: d, Sensors: s, Rows: *rows, Noise: *noise, AnomalyRate: *anomalies, Seed: *seed}
	} else if (*data == "") != (*models == "") {
		return usageError{errors.New("run: give both -data and -models, or neither (the reference data)")}
	}
	if *visibility > 0 {
		settings, err := localrun.AppSettings(*app)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		hc, _, err := localhost.LoadApp(*app, settings)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		q := hc.Queues
		q.VisibilityTimeout = *visibility
		c.Queues = &q
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if _, err := localrun.Run(ctx, c); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}
