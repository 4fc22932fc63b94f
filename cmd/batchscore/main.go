// Command batchscore is the project's command line: offline scoring of CSV
// files, benchmarks, and the local pipeline.
//
//	batchscore <command> [flags]
//
// Run "batchscore help" for the commands and "batchscore <command> -h" for a
// command's flags. On any error it prints one line to standard error and
// exits with status 1 (2 for a usage error).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand: its name, one line of help, and its entry
// point, which gets the flags after the command name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the table of subcommands, in the order "help" lists them.
var commands = []command{
	{"score", "score a CSV file offline with a model (any supported format)", runScore},
	{"bench", "compare scoring speed with scikit-learn, and time score file to file", runBench},
	{"train", "fit one one-class SVM per sensor from stored windows or a CSV, write JSON and libsvm models", runTrain},
	{"bench-train", "compare one-class SVM training speed with scikit-learn", runBenchTrain},
	{"run", "run the whole pipeline on this computer (Azurite, SQLite, the handler)", runLocal},
	{"bench-e2e", "the local pipeline's ingest and scoring rates next to SQLite's and Azurite's alone", runBenchE2E},
	{"status", "show the progress of a scoring run from the SQL store", runStatus},
	{"zip", "pack the app folder (make package) into the zip Azure runs from", runZip},
	{"simulate", "simulate devices sending readings to Event Hubs (and/or to a CSV that run replays)", runSimulate},
}

// usageError marks an error in the command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "batchscore: "+oneLine(err.Error()))
		if errors.As(err, new(usageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run dispatches to the command named by args[0].
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{fmt.Errorf("no command given; run \"batchscore help\" (commands: %s)", commandNames())}
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		printUsage(stdout)
		return nil
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	return usageError{fmt.Errorf("unknown command %q (commands: %s)", name, commandNames())}
}

func commandNames() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: batchscore <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "batchscore <command> -h" for the flags of a command.`)
}

// oneLine folds a multi-line error message into one line.
func oneLine(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\r", "")
	return strings.ReplaceAll(s, "\n", "; ")
}

// parseFlags parses the flags of the command fs names. With -h it prints
// usage and the flags' defaults to stdout and reports help; a bad flag or a
// stray argument is a usageError that names the command.
func parseFlags(fs *flag.FlagSet, args []string, usage string, stdout io.Writer) (help bool, err error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return true, nil
		}
		return false, usageError{fmt.Errorf("%s: %w", fs.Name(), err)}
	}
	if fs.NArg() > 0 {
		return false, usageError{fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return false, nil
}
