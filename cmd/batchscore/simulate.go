package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/batchscore/batchscore/internal/localrun"
	"github.com/batchscore/batchscore/internal/reference"
	"github.com/batchscore/batchscore/internal/simulate"
)

const simulateUsage = `usage: batchscore simulate [-fleet 3x5] [-duration 1h] [-interval 5s] [-rate TICKS/S] [-spikes 0.01] [-seed 1]
                          [-namespace NAME.servicebus.windows.net -hub NAME | -connection-string CS] [-csv FILE]
Simulates devices sending sensor readings to Event Hubs: every interval each device sends one event with
a reading of each of its sensors, values spread over each sensor's range in the reference data, with a
share of out-of-range spikes; partition key = device; batches as large as the hub allows. Signs in with
DefaultAzureCredential (role Azure Event Hubs Data Sender), or a connection string (-connection-string or
$EVENTHUB_CONNECTION_STRING; prefer the variable: a flag shows in the process list). -csv writes the same
readings to a CSV that "batchscore run -data FILE -models DIR" replays. Ctrl-C stops it and prints a summary.
`

// runSimulate is `batchscore simulate` (see internal/simulate).
func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fleetSpec := fs.String("fleet", "3x5", "DEVICESxSENSORS; 3x5 is the reference's fleet, whose models exist")
	rangesCSV := fs.String("ranges", "", "readings CSV to take each sensor's range from (default: the reference sensor_data.csv)")
	duration := fs.Duration("duration", 0, "span of simulated readings (duration/interval ticks); 0: until Ctrl-C")
	interval := fs.Duration("interval", 5*time.Second, "time between two readings of a sensor")
	rate := fs.Float64("rate", -1, "ticks sent per second (default 1/interval: real time; 0: as fast as the hub takes them)")
	spikes := fs.Float64("spikes", 0.01, "share of readings that are out-of-range spikes")
	seed := fs.Uint64("seed", 1, "random seed: the same seed, fleet and -start give the same readings")
	start := fs.String("start", "", "TS of the first reading, RFC 3339 (default: now; ingest refuses readings more than INGEST_MAX_SKEW from their arrival)")
	namespace := fs.String("namespace", "", "Event Hubs namespace, NAME or NAME.servicebus.windows.net (default $EVENTHUB_NAMESPACE)")
	hub := fs.String("hub", "", "event hub name (default $EVENTHUB_NAME)")
	connStr := fs.String("connection-string", "", "connection string with Send rights instead of the identity (default $EVENTHUB_CONNECTION_STRING)")
	csvPath := fs.String("csv", "", "also write the readings to this CSV (TS,Device,Sensor,Value)")
	parallel := fs.Int("parallel", 8, "concurrent sends (each device always on the same one, in order)")
	retries := fs.Int("retries", 5, "SDK retries of a failed send (4 s first delay, doubling); throttling is waited out on top")
	if help, err := parseFlags(fs, args, simulateUsage, stdout); help || err != nil {
		return err
	}
	if *namespace == "" {
		*namespace = os.Getenv("EVENTHUB_NAMESPACE")
	}
	if *hub == "" {
		*hub = os.Getenv("EVENTHUB_NAME")
	}
	if *connStr == "" {
		*connStr = os.Getenv("EVENTHUB_CONNECTION_STRING")
	}
	if *namespace != "" && !strings.Contains(*namespace, ".") {
		*namespace += ".servicebus.windows.net"
	}
	send := *connStr != "" || *namespace != ""
	switch {
	case !send && *csvPath == "":
		return usageError{errors.New("simulate: nothing to do: give -namespace and -hub (or a connection string) to send, and/or -csv FILE")}
	case *connStr == "" && send && *hub == "":
		return usageError{errors.New("simulate: -namespace needs -hub (or $EVENTHUB_NAME)")}
	case !send && *duration == 0:
		return usageError{errors.New("simulate: -csv without a hub needs a -duration")}
	case *interval < time.Millisecond:
		return usageError{fmt.Errorf("simulate: -interval %v: want at least 1ms", *interval)}
	case *duration < 0 || *duration%*interval != 0:
		return usageError{fmt.Errorf("simulate: -duration %v: want a positive multiple of -interval %v", *duration, *interval)}
	}
	devices, sensors, err := localrun.ParseFleet(*fleetSpec)
	if err != nil {
		return usageError{fmt.Errorf("simulate: %w", err)}
	}
	f := simulate.Fleet{Devices: devices, Sensors: sensors, Interval: *interval, SpikeRate: *spikes, Seed: *seed,
		Start: time.Now().UTC().Truncate(max(*interval, time.Millisecond))}
	if *start != "" {
		if f.Start, err = time.Parse(time.RFC3339Nano, *start); err != nil {
			return usageError{fmt.Errorf("simulate: -start %q: want RFC 3339, e.g. 2018-08-28T23:00:05Z", *start)}
		}
	}
	if *rangesCSV == "" {
		ref, err := reference.Find(".")
		if err != nil {
			return fmt.Errorf("simulate: %w: give -ranges FILE", err)
		}
		*rangesCSV = ref.Data
	}
	rs, err := reference.Readings(*rangesCSV)
	if err != nil {
		return fmt.Errorf("simulate: ranges: %w", err)
	}
	if f.Ranges, err = simulate.Ranges(rs); err != nil {
		return fmt.Errorf("simulate: ranges %s: %w", *rangesCSV, err)
	}
	if err := f.Validate(); err != nil {
		return usageError{fmt.Errorf("simulate: %w", err)}
	}

	c := simulate.Config{Fleet: f, Parallel: *parallel, Log: stderr}
	if *duration > 0 {
		c.Ticks = int(*duration / *interval)
	}
	switch {
	case !send:
		c.Rate = 0 // nothing to pace: write the file at once
	case *rate < 0:
		c.Rate = float64(time.Second) / float64(*interval)
	default:
		c.Rate = *rate
	}
	target := ""
	if send {
		maxRetries := int32(*retries)
		if maxRetries == 0 {
			maxRetries = -1 // the SDK reads 0 as its default (3), below 0 as none
		}
		p, err := simulate.NewProducer(*namespace, *hub, *connStr,
			azeventhubs.RetryOptions{MaxRetries: maxRetries, RetryDelay: 4 * time.Second, MaxRetryDelay: time.Minute})
		if err != nil {
			return fmt.Errorf("simulate: %w", err)
		}
		defer p.Close(context.WithoutCancel(ctx))
		c.Sender = simulate.Hub{Producer: p}
		if *connStr != "" {
			target = "the event hub of the connection string"
		} else {
			target = fmt.Sprintf("event hub %s in %s (DefaultAzureCredential)", *hub, *namespace)
		}
		ticks := "until Ctrl-C"
		if c.Ticks > 0 {
			ticks = fmt.Sprintf("%s ticks", localrun.Thousands(c.Ticks))
		}
		fmt.Fprintf(stdout, "simulate: %d devices x %d sensors, one reading each every %v, %s, to %s\n", devices, sensors, *interval, ticks, target)
	}
	var out *os.File
	if *csvPath != "" {
		if out, err = os.Create(*csvPath); err != nil {
			return fmt.Errorf("simulate: %w", err)
		}
		c.CSV = out
	}
	sum, err := simulate.Run(ctx, c)
	if out != nil {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}
	printSimulateSummary(stdout, sum, devices, sensors, send, *csvPath)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	return nil
}

func printSimulateSummary(w io.Writer, s simulate.Summary, devices, sensors int, sent bool, csvPath string) {
	th := localrun.Thousands
	fmt.Fprintf(w, "simulate: %s ticks, %s readings (%s spikes) from %d devices x %d sensors in %s\n",
		th(s.Ticks), th(s.Readings), th(s.Spikes), devices, sensors, s.Elapsed.Round(time.Millisecond))
	if sent {
		fmt.Fprintf(w, "sent: %s of %s events in %s batches, %s bytes of bodies (%s as the SDK counts batches); throttled %s times; %s unsent\n",
			th(s.Sent), th(s.Events), th(s.Batches), th(int(s.Bytes)), th(int(s.WireBytes)), th(s.Throttled), th(s.Unsent()))
	}
	if csvPath != "" {
		fmt.Fprintf(w, "csv: %s (replay: batchscore run -data %s -models DIR)\n", csvPath, csvPath)
	}
}
