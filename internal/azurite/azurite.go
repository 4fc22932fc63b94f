// Package azurite starts and stops an Azurite storage emulator (Blob, Queue and
// Table services) on free loopback ports, for tests and for the local pipeline.
//
// The binary is the one pinned in the project's package.json (`make azurite`
// installs it into node_modules). Each Server runs in its own process group, so
// Stop ends node and any child it started.
package azurite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Account and Key are the public, well-known Azurite development account and key.
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// ErrNotInstalled is returned by Start when no Azurite binary can be found.
var ErrNotInstalled = errors.New("azurite: binary not found: run `make azurite` (npm ci) in the repository root, or set AZURITE_BIN")

// Options configure Start. The zero value starts an in-memory emulator with the
// binary found through $AZURITE_BIN or node_modules/.bin/azurite.
type Options struct {
	Bin     string        // path of the azurite executable; default $AZURITE_BIN, else node_modules/.bin/azurite above the working directory
	Dir     string        // persist data in this directory (--location); empty means --inMemoryPersistence
	WorkDir string        // working directory of the process; default Dir, else the caller's
	Timeout time.Duration // how long to wait for the ports to accept connections; default 30s
	Stderr  io.Writer     // where the process's stdout and stderr go; default discarded
}

// Server is a running Azurite process.
type Server struct {
	bin       string
	opts      Options
	cmd       *exec.Cmd
	blobPort  int
	queuePort int
	tablePort int
	done      chan struct{} // closed when the process has exited
	waitErr   error

	stopOnce sync.Once
	stopErr  error
}

// FindBin returns the Azurite executable: $AZURITE_BIN when set, else the first
// node_modules/.bin/azurite found walking up from the working directory.
func FindBin() (string, error) {
	if b := os.Getenv("AZURITE_BIN"); b != "" {
		if _, err := os.Stat(b); err != nil {
			return "", fmt.Errorf("AZURITE_BIN=%s: %w (run `make azurite`)", b, err)
		}
		return b, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find azurite: %w", err)
	}
	for {
		p := filepath.Join(dir, "node_modules", ".bin", "azurite")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNotInstalled
		}
		dir = parent
	}
}

// Start runs Azurite on three free 127.0.0.1 ports and waits until they accept
// connections. A bind race (a port taken between choosing and binding it) is
// retried with new ports. The caller must call Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin := opts.Bin
	if bin == "" {
		var err error
		if bin, err = FindBin(); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("azurite binary %s: %w (run `make azurite`)", bin, err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(ctx, bin, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, bin string, opts Options) (*Server, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, fmt.Errorf("azurite: pick free ports: %w", err)
	}
	s := &Server{bin: bin, opts: opts, blobPort: ports[0], queuePort: ports[1], tablePort: ports[2]}
	if err := s.run(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// run starts the process on s's ports and waits until they accept connections.
func (s *Server) run(ctx context.Context) error {
	opts := s.opts
	args := []string{
		"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(s.blobPort),
		"--queueHost", "127.0.0.1", "--queuePort", strconv.Itoa(s.queuePort),
		"--tableHost", "127.0.0.1", "--tablePort", strconv.Itoa(s.tablePort),
		"--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent",
	}
	if opts.Dir != "" {
		args = append(args, "--location", opts.Dir)
	} else {
		args = append(args, "--inMemoryPersistence")
	}
	// Not CommandContext: the process must outlive ctx (ctx bounds only the start-up).
	cmd := exec.Command(s.bin, args...)
	// Own process group, so Stop reaches node's children; and SIGKILL when this
	// process dies (a test binary killed by -timeout runs no cleanup).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if opts.Stderr != nil {
		cmd.Stdout, cmd.Stderr = opts.Stderr, opts.Stderr
	}
	cmd.Env = withNodeOptions(os.Environ())
	if opts.Dir != "" {
		cmd.Dir = opts.Dir
	}
	if opts.WorkDir != "" {
		cmd.Dir = opts.WorkDir
	}
	s.cmd, s.done, s.waitErr = cmd, make(chan struct{}), nil
	done := s.done
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the OS thread that started the child exits, not the
		// process: keep this goroutine on its own thread until the child is gone.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = cmd.Wait()
		close(done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("azurite: start %s: %w", s.bin, err)
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := s.waitReady(wctx); err != nil {
		_ = s.kill()
		return err
	}
	return nil
}

// Restart stops the process (as Stop does), waits outage, and starts it again on
// the same ports with the same data folder: to its clients, which keep their
// connection string, a storage outage; with Options.Dir the blobs and queues
// survive it. Stop is still needed at the end.
func (s *Server) Restart(ctx context.Context, outage time.Duration) error {
	if err := s.kill(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(outage):
	}
	return s.run(ctx)
}

// waitReady polls the three ports until each accepts a TCP connection.
func (s *Server) waitReady(ctx context.Context) error {
	var d net.Dialer
	for _, p := range []int{s.blobPort, s.queuePort, s.tablePort} {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		for {
			c, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-s.done:
				return fmt.Errorf("azurite: exited before listening on %s: %v", addr, s.waitErr)
			case <-ctx.Done():
				return fmt.Errorf("azurite: not listening on %s: %w", addr, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// freePorts returns n distinct ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// BlobURL returns the blob service URL, http://127.0.0.1:PORT/devstoreaccount1.
func (s *Server) BlobURL() string { return fmt.Sprintf("http://127.0.0.1:%d/%s", s.blobPort, Account) }

// QueueURL returns the queue service URL, http://127.0.0.1:PORT/devstoreaccount1.
func (s *Server) QueueURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/%s", s.queuePort, Account)
}

// TableURL returns the table service URL, http://127.0.0.1:PORT/devstoreaccount1.
func (s *Server) TableURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/%s", s.tablePort, Account)
}

// ConnectionString returns the explicit Azurite connection string with the public
// development key (the Go SDKs do not accept UseDevelopmentStorage=true).
func (s *Server) ConnectionString() string {
	return strings.Join([]string{
		"DefaultEndpointsProtocol=http",
		"AccountName=" + Account,
		"AccountKey=" + Key,
		"BlobEndpoint=" + s.BlobURL(),
		"QueueEndpoint=" + s.QueueURL(),
		"TableEndpoint=" + s.TableURL(),
	}, ";") + ";"
}

// PID returns the process id of the Azurite process (also its process group id).
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop ends the process group (SIGTERM, then SIGKILL after 5s) and waits for the
// process to exit. Calling Stop again returns the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.kill() })
	return s.stopErr
}

// kill ends the current process group (SIGTERM, then SIGKILL after 5s) and
// waits for the process to exit.
func (s *Server) kill() error {
	pgid := s.cmd.Process.Pid
	select {
	case <-s.done:
		return nil
	default:
	}
	var err error
	if e := syscall.Kill(-pgid, syscall.SIGTERM); e != nil && !errors.Is(e, syscall.ESRCH) {
		err = fmt.Errorf("azurite: stop process group %d: %w", pgid, e)
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
	}
	// Children that ignored SIGTERM after node exited.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return err
}

// semiSpace is V8's young-generation semi-space size (MiB) Azurite runs with.
// Azurite allocates a lot per request; with Node's default (16 MiB on 64-bit)
// most of its garbage is scavenged and promoted in small steps. 64 MiB cut its
// CPU per 41 KB blob PUT from 1.53 to 1.24 ms (mean of 6 runs of 1,000 PUTs
// each, AMD EPYC 2 vCPUs; 128 MiB gave 1.20 ms), at ~100 MiB more memory.
const semiSpace = "--max-semi-space-size=64"

// withNodeOptions returns env with semiSpace added to NODE_OPTIONS, unless
// NODE_OPTIONS already sets the semi-space size (the user's choice wins).
func withNodeOptions(env []string) []string {
	out := make([]string, 0, len(env)+1)
	cur := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NODE_OPTIONS="); ok {
			cur = v
			continue
		}
		out = append(out, kv)
	}
	if !strings.Contains(cur, "--max-semi-space-size") {
		cur = strings.TrimSpace(cur + " " + semiSpace)
	}
	return append(out, "NODE_OPTIONS="+cur)
}
