package localhost

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// The host's restart policy for the custom handler process (azure-functions-host
// HttpFunctionInvocationDispatcher, WorkerConstants):
const (
	// ErrorEventsThreshold handler errors (a non-zero exit, or no answer to the
	// readiness probe) stop the app: the third is not followed by a restart.
	ErrorEventsThreshold = 3
	// RestartErrorInterval: an error more than this after the previous one starts
	// the count again (WorkerRestartErrorIntervalThresholdInMinutes = 30).
	RestartErrorInterval = 30 * time.Minute
	// IntentionalRestartExitCode is the exit code with which a handler asks to be
	// restarted without it counting as an error (WorkerConstants).
	IntentionalRestartExitCode = 200
	// TimeoutGrace is how long the host still waits for a timed-out invocation
	// before it restarts the handler (TimeoutAttribute.GracePeriod default, 2 s).
	TimeoutGrace = 2 * time.Second
)

// ErrAppStopped is wrapped by Err once the host has stopped the app because the
// handler failed ErrorEventsThreshold times.
var ErrAppStopped = errors.New("host stopped the app: handler restart limit exceeded")

// worker is one handler process.
type worker struct {
	cmd       *exec.Cmd
	pid       int
	exited    chan struct{}
	exitErr   error
	exitCode  int // -1 when killed by a signal
	disposing atomic.Bool
	handled   atomic.Bool // onExit ran
}

// WorkerStats counts the handler processes the host started and why.
type WorkerStats struct {
	Started         int // processes started, the first included
	Crashes         int // exits with a code other than 0 and 200 (SIGKILL from outside included) and readiness failures
	TimeoutRestarts int // restarts after a function timeout
	Running         bool
	PID             int
}

// startProcess starts a handler process on h.port; it does not wait for readiness.
func (h *Host) startProcess() (*worker, error) {
	exe := h.cfg.Executable
	if !filepath.IsAbs(exe) {
		// Relative paths resolve against the app folder only if the file is there,
		// otherwise they are a command on PATH (HttpWorkerDescription).
		if p := filepath.Join(h.appDir, exe); fileExists(p) {
			exe = p
		} else if p, err := exec.LookPath(exe); err == nil {
			exe = p
		} else {
			return nil, fmt.Errorf("handler executable %q not found in %s or on PATH", h.cfg.Executable, h.appDir)
		}
	}
	dir := h.appDir
	if wd := h.cfg.WorkingDirectory; wd != "" {
		if filepath.IsAbs(wd) {
			dir = wd
		} else {
			dir = filepath.Join(h.appDir, wd)
		}
	}
	cmd := exec.Command(exe, h.cfg.Arguments...)
	cmd.Dir = dir
	env := os.Environ()
	for k, v := range h.settings {
		env = append(env, k+"="+v)
	}
	workerID := uuid.NewString()
	port := strconv.Itoa(h.port)
	env = append(env,
		"FUNCTIONS_WORKER_RUNTIME=custom",
		"FUNCTIONS_CUSTOMHANDLER_PORT="+port,
		"FUNCTIONS_CUSTOMHANDLER_WORKER_ID="+workerID,
		"FUNCTIONS_HTTPWORKER_PORT="+port,
		"FUNCTIONS_HTTPWORKER_ID="+workerID,
		"FUNCTIONS_APP_ROOT_PATH="+h.appDir,
	)
	cmd.Env = env
	// Own process group, so a Ctrl-C at the terminal reaches only this process,
	// which stops the handler itself; SIGKILL when this process dies without
	// cleaning up (killed, or a test binary ended by -timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("handler stdout: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("handler stderr: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start handler: %w", err)
	}
	w := &worker{cmd: cmd, pid: cmd.Process.Pid, exited: make(chan struct{})}
	h.mu.Lock()
	h.cur = w
	h.workers.Started++
	h.mu.Unlock()
	h.log.Info("handler started", "pid", w.pid, "exe", exe, "port", h.port)
	var pipes sync.WaitGroup
	tail := &tailLines{max: 20}
	pipes.Add(2)
	go func() { defer pipes.Done(); h.pipe(stdout, false, nil) }()
	go func() { defer pipes.Done(); h.pipe(stderr, true, tail) }()
	go func() {
		pipes.Wait()
		err := cmd.Wait()
		w.exitCode = -1
		if cmd.ProcessState != nil {
			w.exitCode = cmd.ProcessState.ExitCode()
		}
		if err != nil && len(tail.lines()) > 0 {
			err = fmt.Errorf("%w; last stderr lines:\n%s", err, strings.Join(tail.lines(), "\n"))
		}
		w.exitErr = err
		close(w.exited)
		h.onExit(w)
	}()
	return w, nil
}

// onExit is the host's reaction to a handler process that ended without the host
// ending it (WorkerProcess.OnProcessExited): exit code 0 ends it quietly (no
// restart); IntentionalRestartExitCode restarts it; anything else is an error
// event that restarts it, or stops the app at the ErrorEventsThreshold-th error.
func (h *Host) onExit(w *worker) {
	if w.disposing.Load() || !w.handled.CompareAndSwap(false, true) {
		return
	}
	log := h.log.With("pid", w.pid, "exitCode", w.exitCode)
	switch w.exitCode {
	case 0:
		log.Warn("handler exited with code 0; the host does not restart it")
	case IntentionalRestartExitCode:
		log.Info("handler exited and asks to be restarted")
		h.restart(w, "intentional restart")
	default:
		log.Error("handler process exited", "err", w.exitErr)
		h.workerError(w, fmt.Errorf("handler pid %d exited with code %d: %w", w.pid, w.exitCode, w.exitErr))
	}
}

// workerError counts a handler error (HttpFunctionInvocationDispatcher.WorkerError,
// AddOrUpdateErrorBucket) and restarts the handler, or stops the app when this is
// the ErrorEventsThreshold-th error with less than RestartErrorInterval between
// consecutive ones.
func (h *Host) workerError(w *worker, err error) {
	h.mu.Lock()
	n := h.errorEvents.add(time.Now())
	h.workers.Crashes++
	h.mu.Unlock()
	if n >= ErrorEventsThreshold {
		h.log.Error("exceeded handler restart retry count; stopping the app", "errors", n, "err", err)
		h.stopApp(fmt.Errorf("%w: %d errors, the last: %w", ErrAppStopped, n, err))
		return
	}
	h.restart(w, "handler error")
}

// restart replaces w (if it is still the current handler) by a new process on the
// same port, in the background (the host does not wait for it: invocations that
// arrive meanwhile fail with a connection error). It reports whether it did.
// Several invocations that time out on the same process restart it once: the
// later ones find their reply (the failure the kill caused) within their grace
// period, as in the host.
func (h *Host) restart(w *worker, reason string) bool {
	h.restartMu.Lock()
	defer h.restartMu.Unlock()
	h.mu.Lock()
	current := h.cur == w
	h.mu.Unlock()
	if !current || h.ctx.Err() != nil {
		return false
	}
	h.dispose(w)
	h.log.Warn("restarting the handler", "reason", reason, "oldPid", w.pid)
	nw, err := h.startProcess()
	if err != nil {
		h.stopApp(fmt.Errorf("restart handler: %w", err))
		return true
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := h.waitReady(h.ctx, nw, h.startTimeout); err != nil && h.ctx.Err() == nil {
			// DelayUntilWokerInitialized publishes an error event.
			select {
			case <-nw.exited: // onExit has counted it
			default:
				h.dispose(nw)
				h.workerError(nw, err)
			}
		}
	}()
	return true
}

// dispose kills a handler process with SIGKILL, as the host's WorkerProcess.Dispose
// does (Process.Kill), and waits for it to exit.
func (h *Host) dispose(w *worker) {
	w.disposing.Store(true)
	select {
	case <-w.exited:
		return
	default:
	}
	_ = w.cmd.Process.Kill()
	select {
	case <-w.exited:
	case <-time.After(10 * time.Second):
		h.log.Error("handler did not exit after SIGKILL", "pid", w.pid)
	}
	h.log.Info("handler killed", "pid", w.pid)
}

// afterTimeout restarts w unless the timed-out invocation's reply arrives within
// TimeoutGrace (WebScriptHostExceptionHandler.OnTimeoutExceptionAsync then
// RestartWorkerWithInvocationIdAsync: the one handler process is replaced, and
// every invocation in flight on it fails).
func (h *Host) afterTimeout(w *worker, fn string, replied <-chan struct{}) {
	select {
	case <-replied:
		return
	case <-h.ctx.Done():
		return
	case <-time.After(TimeoutGrace):
	}
	if h.restart(w, "function timeout in "+fn) {
		h.mu.Lock()
		h.workers.TimeoutRestarts++
		h.mu.Unlock()
	}
}

// errorBucket holds the times of the handler errors that count towards
// ErrorEventsThreshold (HttpFunctionInvocationDispatcher.AddOrUpdateErrorBucket).
type errorBucket []time.Time

// add records an error at now and returns how many count: an error more than
// RestartErrorInterval after the previous one empties the bucket first.
func (b *errorBucket) add(now time.Time) int {
	if n := len(*b); n > 0 && now.Sub((*b)[n-1]) > RestartErrorInterval {
		*b = nil
	}
	*b = append(*b, now)
	return len(*b)
}

// stopApp stops the listeners and records why; Err reports it from then on.
func (h *Host) stopApp(err error) {
	h.mu.Lock()
	if h.appErr == nil {
		h.appErr = err
	}
	h.mu.Unlock()
	h.cancel()
}

// current returns the handler process invocations go to now (nil before Start).
func (h *Host) current() *worker {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur
}

// Workers returns the handler process counters.
func (h *Host) Workers() WorkerStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.workers
	if w := h.cur; w != nil {
		select {
		case <-w.exited:
		default:
			s.Running, s.PID = true, w.pid
		}
	}
	return s
}

// HandlerPID returns the process id of the running handler, 0 if none runs.
func (h *Host) HandlerPID() int { return h.Workers().PID }

// WaitHandler waits until a handler process answers the readiness probe (after a
// restart), the app is stopped, or ctx ends.
func (h *Host) WaitHandler(ctx context.Context) error {
	c := &http.Client{Timeout: time.Second}
	for {
		if err := h.Err(); err != nil {
			return err
		}
		if w := h.current(); w != nil {
			select {
			case <-w.exited:
			default:
				if probe(ctx, c, h.base) == nil {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for handler: %w", ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func probe(ctx context.Context, c *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

// waitReady polls GET / every 25 ms until w answers (any HTTP status), as
// DefaultHttpWorkerService.IsWorkerReady does.
func (h *Host) waitReady(ctx context.Context, w *worker, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	c := &http.Client{Timeout: time.Second}
	for {
		err := probe(ctx, c, h.base)
		if err == nil {
			return nil
		}
		select {
		case <-w.exited:
			if w.exitErr == nil {
				return fmt.Errorf("handler did not become ready: exited with code %d", w.exitCode)
			}
			return fmt.Errorf("handler did not become ready: %w", w.exitErr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("handler did not answer GET / within %s: %w", wait, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for handler: %w", ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// pipe logs each line of the handler's output under Host.Function.Console:
// stdout at Info, stderr at Error (Warn when the line contains "warn"), as the host does.
func (h *Host) pipe(r io.Reader, isErr bool, tail *tailLines) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		lvl := slog.LevelInfo
		if isErr {
			lvl = slog.LevelError
			if strings.Contains(strings.ToLower(line), "warn") {
				lvl = slog.LevelWarn
			}
			tail.add(line)
		}
		h.log.Log(context.Background(), lvl, line, "category", "Host.Function.Console")
	}
}
