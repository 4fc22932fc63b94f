// Command testhandler is a minimal custom handler for the localhost tests: it
// records every invocation it gets (function, decoded trigger value, metadata)
// as one JSON line in the file named by -record, and fails on request:
// queue messages containing "fail" always, event batches containing "flaky"
// on their first attempt. Queue messages starting with "slow" take 150 ms; each
// queue record has the number of queue invocations in progress when it started.
// To test the host's process handling: a queue message "hang" never gets an
// answer, "crash" makes the process exit with code 3, "restart-once" exit with
// code 200 on its first delivery; an HTTP request with ?sleep=<duration> waits
// that long (ignoring cancellation). Every record has the process id, and
// SIGTERM is recorded (function "SIGTERM") before the process exits. The HTTP
// function "send" answers with the Outputs its request body holds (for the
// queue output bindings), and the status of ?status= (default 200).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
)

type record struct {
	Function     string
	Body         string    `json:",omitempty"`
	Bodies       []string  `json:",omitempty"`
	Sequences    []int64   `json:",omitempty"`
	Partition    string    `json:",omitempty"`
	DequeueCount int64     `json:",omitempty"`
	RetryCount   int       `json:",omitempty"`
	PastDue      bool      `json:",omitempty"`
	HasStatus    bool      `json:",omitempty"`
	Last         time.Time `json:",omitzero"`  // ScheduleStatus.Last
	Next         time.Time `json:",omitzero"`  // ScheduleStatus.Next
	HasBody      bool      `json:",omitempty"` // the HTTP request has a Body field
	AuthType     string    `json:",omitempty"` // AuthenticationType of the first identity, "-" for none
	PID          int
	Method       string `json:",omitempty"`
	Query        string `json:",omitempty"`
	Status       int
	At           time.Time `json:",omitzero"`  // when the invocation arrived
	InFlight     int       `json:",omitempty"` // queue invocations in progress, this one included
}

func main() {
	recordFile := flag.String("record", "", "append one JSON line per invocation to this file")
	flag.Parse()
	var mu sync.Mutex
	var queueBusy atomic.Int32
	write := func(r record) {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(*recordFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "record:", err)
			return
		}
		defer f.Close()
		_ = json.NewEncoder(f).Encode(r)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() {
		<-sigs
		write(record{Function: "SIGTERM", PID: os.Getpid()})
		os.Exit(0)
	}()
	reply := func(w http.ResponseWriter, status int, outputs map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"Outputs": outputs, "Logs": []string{"handled"}})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /{fn}", func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		req, err := azfunc.ParseRequest(body)
		if err != nil {
			reply(w, 400, nil)
			return
		}
		rec := record{Function: r.PathValue("fn"), Status: 200, At: time.Now(), PID: os.Getpid()}
		var outputs map[string]any
		switch rec.Function {
		case "tick":
			ti, err := req.Timer("myTimer")
			if err != nil {
				rec.Status = 500
				break
			}
			rec.PastDue, rec.HasStatus = ti.IsPastDue, ti.ScheduleStatus != nil
			if st := ti.ScheduleStatus; st != nil {
				rec.Last, rec.Next = st.Last, st.Next
			}
		case "work":
			m, err := req.Queue("job")
			if err != nil {
				rec.Status = 500
				break
			}
			rec.InFlight = int(queueBusy.Add(1))
			rec.Body, rec.DequeueCount = string(m.Body), m.DequeueCount
			if strings.HasPrefix(rec.Body, "slow") {
				time.Sleep(150 * time.Millisecond)
			}
			switch {
			case rec.Body == "hang":
				write(rec)
				select {}
			case rec.Body == "crash":
				write(rec)
				os.Exit(3)
			case rec.Body == "restart-once" && m.DequeueCount == 1:
				write(rec)
				os.Exit(200)
			}
			queueBusy.Add(-1)
			if strings.Contains(rec.Body, "fail") {
				rec.Status = 500
			}
		case "events":
			b, err := req.EventHub("events")
			if err != nil {
				rec.Status = 500
				break
			}
			rec.Partition = b.Partition.PartitionId
			if b.RetryContext != nil {
				rec.RetryCount = b.RetryContext.RetryCount
			}
			for _, e := range b.Events {
				rec.Bodies = append(rec.Bodies, string(e.Body))
				rec.Sequences = append(rec.Sequences, e.SequenceNumber)
				if string(e.Body) == "flaky" && rec.RetryCount == 0 {
					rec.Status = 500
				}
			}
		case "hello":
			h, err := req.HTTP("req")
			if err != nil {
				rec.Status = 500
				break
			}
			rec.Method, rec.Query, rec.Body = h.Method, h.Query["name"], string(h.Body)
			var raw map[string]json.RawMessage
			if b, err := req.Raw("req"); err == nil && json.Unmarshal(b, &raw) == nil {
				_, rec.HasBody = raw["Body"]
			}
			rec.AuthType = "-"
			if len(h.Identities) > 0 {
				rec.AuthType = h.Identities[0].AuthenticationType
			}
			if d, err := time.ParseDuration(h.Query["sleep"]); err == nil {
				time.Sleep(d)
			}
			outputs = map[string]any{"res": map[string]any{"statusCode": 201, "body": "hello " + h.Query["name"]}}
		case "send":
			// The request body is the Outputs of the answer besides res (the
			// queue output bindings' values); ?status= sets the status.
			h, err := req.HTTP("req")
			if err != nil {
				rec.Status = 500
				break
			}
			rec.Body = string(h.Body)
			outputs = map[string]any{}
			if err := json.Unmarshal(h.Body, &outputs); err != nil {
				rec.Status = 500
				break
			}
			outputs["res"] = map[string]any{"statusCode": 200, "body": "sent"}
			if s, err := strconv.Atoi(h.Query["status"]); err == nil {
				rec.Status = s
			}
		default:
			rec.Status = 404
		}
		write(rec)
		reply(w, rec.Status, outputs)
	})
	port := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	if err := http.ListenAndServe("127.0.0.1:"+port, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
