package localhost

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
)

// HostConfig is the part of host.json the stand-in acts on.
type HostConfig struct {
	Executable       string        // customHandler.description.defaultExecutablePath, as written
	WorkingDirectory string        // customHandler.description.workingDirectory, as written
	Arguments        []string      // customHandler.description.arguments, %SETTING% expanded
	FunctionTimeout  time.Duration // 0 = none
	Queues           QueueOptions
	EventHubs        EventHubOptions
}

// QueueOptions are host.json extensions.queues, defaults applied (see functions-host.md 2.6).
type QueueOptions struct {
	BatchSize          int
	NewBatchThreshold  int
	VisibilityTimeout  time.Duration
	MaxDequeueCount    int
	MessageEncoding    string // "base64" or "none"
	MaxPollingInterval time.Duration
	// Lease is how long a dequeued message stays invisible while it is processed,
	// and so when a message whose delete or release failed comes back: the host's
	// QueueListener uses a fixed 10 minutes (renewed while a function runs longer;
	// the stand-in does not renew). 0 means 10 minutes; tests shorten it.
	Lease time.Duration
}

// EventHubOptions are host.json extensions.eventHubs, defaults applied.
type EventHubOptions struct {
	MaxEventBatchSize int
}

// Function is one <name>/function.json of the app folder, %SETTING% references resolved.
type Function struct {
	Name     string
	Bindings []Binding
	Retry    *RetryPolicy
}

// Binding is one entry of a function.json bindings array; only the fields the
// stand-in needs are typed.
type Binding struct {
	Type          string   `json:"type"`
	Direction     string   `json:"direction"`
	Name          string   `json:"name"`
	Schedule      string   `json:"schedule"`
	RunOnStartup  bool     `json:"runOnStartup"`
	UseMonitor    *bool    `json:"useMonitor"`
	QueueName     string   `json:"queueName"`
	EventHubName  string   `json:"eventHubName"`
	ConsumerGroup string   `json:"consumerGroup"`
	Connection    string   `json:"connection"`
	Cardinality   string   `json:"cardinality"`
	DataType      string   `json:"dataType"`
	Path          string   `json:"path"`
	Methods       []string `json:"methods"`
	Route         string   `json:"route"`
	AuthLevel     string   `json:"authLevel"`
}

// RetryPolicy is a function.json "retry" section.
type RetryPolicy struct {
	Strategy        string // "fixedDelay" or "exponentialBackoff"
	MaxRetryCount   int    // -1 = retry forever
	DelayInterval   time.Duration
	MinimumInterval time.Duration
	MaximumInterval time.Duration
}

// Trigger returns the function's trigger binding.
func (f Function) Trigger() (Binding, bool) {
	for _, b := range f.Bindings {
		if strings.EqualFold(b.Direction, "in") && strings.HasSuffix(strings.ToLower(b.Type), "trigger") {
			return b, true
		}
	}
	return Binding{}, false
}

var functionName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_\-]{0,127}$`)

// LoadApp reads host.json and every top-level <name>/function.json of dir, as the
// host's HostFunctionMetadataProvider does, resolving %SETTING% references in
// binding properties and arguments from settings.
func LoadApp(dir string, settings map[string]string) (HostConfig, []Function, error) {
	hc, err := loadHost(filepath.Join(dir, "host.json"), settings)
	if err != nil {
		return HostConfig{}, nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return HostConfig{}, nil, fmt.Errorf("read app folder: %w", err)
	}
	var fns []Function
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name(), "function.json")
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if !functionName.MatchString(e.Name()) || strings.EqualFold(e.Name(), "host") {
			return HostConfig{}, nil, fmt.Errorf("function folder %q: invalid function name", e.Name())
		}
		fn, err := loadFunction(e.Name(), path, settings)
		if err != nil {
			return HostConfig{}, nil, err
		}
		fns = append(fns, fn)
	}
	if len(fns) == 0 {
		return HostConfig{}, nil, fmt.Errorf("no <function>/function.json in %s", dir)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	return hc, fns, nil
}

type hostJSON struct {
	Version       string `json:"version"`
	CustomHandler *struct {
		Description struct {
			DefaultExecutablePath string   `json:"defaultExecutablePath"`
			WorkingDirectory      string   `json:"workingDirectory"`
			Arguments             []string `json:"arguments"`
		} `json:"description"`
	} `json:"customHandler"`
	FunctionTimeout string `json:"functionTimeout"`
	Extensions      struct {
		Queues *struct {
			BatchSize          *int   `json:"batchSize"`
			NewBatchThreshold  *int   `json:"newBatchThreshold"`
			VisibilityTimeout  string `json:"visibilityTimeout"`
			MaxDequeueCount    *int   `json:"maxDequeueCount"`
			MessageEncoding    string `json:"messageEncoding"`
			MaxPollingInterval string `json:"maxPollingInterval"`
		} `json:"queues"`
		EventHubs *struct {
			MaxEventBatchSize *int `json:"maxEventBatchSize"`
		} `json:"eventHubs"`
	} `json:"extensions"`
}

func loadHost(path string, settings map[string]string) (HostConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return HostConfig{}, fmt.Errorf("read host.json: %w", err)
	}
	var h hostJSON
	if err := json.Unmarshal(b, &h); err != nil {
		return HostConfig{}, fmt.Errorf("parse host.json: %w", err)
	}
	if h.Version != "2.0" {
		return HostConfig{}, fmt.Errorf("host.json: version %q, want \"2.0\"", h.Version)
	}
	if h.CustomHandler == nil || h.CustomHandler.Description.DefaultExecutablePath == "" {
		return HostConfig{}, errors.New("host.json: customHandler.description.defaultExecutablePath is required")
	}
	hc := HostConfig{
		Executable:       h.CustomHandler.Description.DefaultExecutablePath,
		WorkingDirectory: h.CustomHandler.Description.WorkingDirectory,
	}
	for i, a := range h.CustomHandler.Description.Arguments {
		v, err := resolve(a, settings)
		if err != nil {
			return HostConfig{}, fmt.Errorf("host.json argument %d: %w", i, err)
		}
		hc.Arguments = append(hc.Arguments, v)
	}
	if h.FunctionTimeout != "" && h.FunctionTimeout != "-1" {
		if hc.FunctionTimeout, err = ParseTimeSpan(h.FunctionTimeout); err != nil {
			return HostConfig{}, fmt.Errorf("host.json functionTimeout: %w", err)
		}
	}
	// Defaults of the Storage Queues extension 5.x; newBatchThreshold's default is
	// (batchSize/2)*processorCount, with this machine's processor count.
	q := QueueOptions{BatchSize: 16, MaxDequeueCount: 5, MessageEncoding: "base64", MaxPollingInterval: time.Minute}
	if s := h.Extensions.Queues; s != nil {
		if s.BatchSize != nil {
			q.BatchSize = *s.BatchSize
		}
		if s.MaxDequeueCount != nil {
			q.MaxDequeueCount = *s.MaxDequeueCount
		}
		if s.MessageEncoding != "" {
			q.MessageEncoding = strings.ToLower(s.MessageEncoding)
		}
		if s.VisibilityTimeout != "" {
			if q.VisibilityTimeout, err = ParseTimeSpan(s.VisibilityTimeout); err != nil {
				return HostConfig{}, fmt.Errorf("host.json extensions.queues.visibilityTimeout: %w", err)
			}
		}
		if s.MaxPollingInterval != "" {
			if q.MaxPollingInterval, err = ParseTimeSpan(s.MaxPollingInterval); err != nil {
				return HostConfig{}, fmt.Errorf("host.json extensions.queues.maxPollingInterval: %w", err)
			}
		}
		q.NewBatchThreshold = q.BatchSize / 2 * runtime.NumCPU()
		if s.NewBatchThreshold != nil {
			q.NewBatchThreshold = *s.NewBatchThreshold
		}
	} else {
		q.NewBatchThreshold = q.BatchSize / 2 * runtime.NumCPU()
	}
	if q.BatchSize < 1 || q.BatchSize > 32 {
		return HostConfig{}, fmt.Errorf("host.json extensions.queues.batchSize %d: want 1..32", q.BatchSize)
	}
	if q.MaxDequeueCount < 1 {
		return HostConfig{}, fmt.Errorf("host.json extensions.queues.maxDequeueCount %d: want >= 1", q.MaxDequeueCount)
	}
	if q.MessageEncoding != "base64" && q.MessageEncoding != "none" {
		return HostConfig{}, fmt.Errorf("host.json extensions.queues.messageEncoding %q: want base64 or none", q.MessageEncoding)
	}
	if q.MaxPollingInterval < 100*time.Millisecond {
		q.MaxPollingInterval = 100 * time.Millisecond
	}
	hc.Queues = q
	hc.EventHubs = EventHubOptions{MaxEventBatchSize: 100}
	if s := h.Extensions.EventHubs; s != nil && s.MaxEventBatchSize != nil {
		if *s.MaxEventBatchSize < 1 {
			return HostConfig{}, fmt.Errorf("host.json extensions.eventHubs.maxEventBatchSize %d: want >= 1", *s.MaxEventBatchSize)
		}
		hc.EventHubs.MaxEventBatchSize = *s.MaxEventBatchSize
	}
	return hc, nil
}

type functionJSON struct {
	Disabled bool              `json:"disabled"`
	Bindings []json.RawMessage `json:"bindings"`
	Retry    *struct {
		Strategy        string `json:"strategy"`
		MaxRetryCount   *int   `json:"maxRetryCount"`
		DelayInterval   string `json:"delayInterval"`
		MinimumInterval string `json:"minimumInterval"`
		MaximumInterval string `json:"maximumInterval"`
	} `json:"retry"`
}

func loadFunction(name, path string, settings map[string]string) (Function, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Function{}, fmt.Errorf("read %s/function.json: %w", name, err)
	}
	var fj functionJSON
	if err := json.Unmarshal(b, &fj); err != nil {
		return Function{}, fmt.Errorf("parse %s/function.json: %w", name, err)
	}
	fn := Function{Name: name}
	for i, raw := range fj.Bindings {
		// Resolve %SETTING% in every string property before typing, as the host does.
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return Function{}, fmt.Errorf("%s/function.json binding %d: %w", name, i, err)
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				r, err := resolve(s, settings)
				if err != nil {
					return Function{}, fmt.Errorf("%s/function.json binding %d %s: %w", name, i, k, err)
				}
				m[k] = r
			}
		}
		rb, err := json.Marshal(m)
		if err != nil {
			return Function{}, fmt.Errorf("%s/function.json binding %d: %w", name, i, err)
		}
		var bd Binding
		if err := json.Unmarshal(rb, &bd); err != nil {
			return Function{}, fmt.Errorf("%s/function.json binding %d: %w", name, i, err)
		}
		if bd.Type == "" || bd.Name == "" {
			return Function{}, fmt.Errorf("%s/function.json binding %d: type and name are required", name, i)
		}
		fn.Bindings = append(fn.Bindings, bd)
	}
	if _, ok := fn.Trigger(); !ok {
		return Function{}, fmt.Errorf("%s/function.json: no trigger binding", name)
	}
	if r := fj.Retry; r != nil {
		p := RetryPolicy{Strategy: r.Strategy, MaxRetryCount: -1}
		if r.MaxRetryCount != nil {
			p.MaxRetryCount = *r.MaxRetryCount
		}
		for _, d := range []struct {
			s   string
			dst *time.Duration
		}{{r.DelayInterval, &p.DelayInterval}, {r.MinimumInterval, &p.MinimumInterval}, {r.MaximumInterval, &p.MaximumInterval}} {
			if d.s == "" {
				continue
			}
			if *d.dst, err = ParseTimeSpan(d.s); err != nil {
				return Function{}, fmt.Errorf("%s/function.json retry: %w", name, err)
			}
		}
		switch p.Strategy {
		case "fixedDelay", "exponentialBackoff":
		default:
			return Function{}, fmt.Errorf("%s/function.json retry strategy %q: want fixedDelay or exponentialBackoff", name, p.Strategy)
		}
		fn.Retry = &p
	}
	return fn, nil
}

// resolve replaces %NAME% with the app setting NAME, as the host resolves binding
// expressions such as "%FANOUT_SCHEDULE%". A reference to a missing setting is an error.
func resolve(s string, settings map[string]string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		name := s[i+1 : i+1+j]
		v, ok := settings[name]
		if !ok {
			v, ok = os.LookupEnv(name)
		}
		if !ok {
			return "", fmt.Errorf("app setting %q is not set", name)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+2+j:]
	}
}

// ParseTimeSpan parses a .NET TimeSpan as host.json writes it: "hh:mm:ss",
// "d.hh:mm:ss", with optional fractional seconds ("00:00:00.250").
func ParseTimeSpan(s string) (time.Duration, error) {
	orig := s
	var days int64
	if i := strings.IndexByte(s, '.'); i >= 0 && i < strings.IndexByte(s, ':') {
		d, err := strconv.ParseInt(s[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("time span %q: bad days", orig)
		}
		days, s = d, s[i+1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("time span %q: want hh:mm:ss", orig)
	}
	h, err1 := strconv.ParseUint(parts[0], 10, 32)
	m, err2 := strconv.ParseUint(parts[1], 10, 32)
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil || m > 59 || sec < 0 || sec >= 60 {
		return 0, fmt.Errorf("time span %q: want hh:mm:ss", orig)
	}
	d := time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(sec*float64(time.Second))
	return d, nil
}

// functionDisabled reports whether the app setting AzureWebJobs.<name>.Disabled
// is true (any case) or 1, as the host reads it ("How to disable functions in
// Azure Functions", Microsoft docs): from settings, else from the environment
// the handler also inherits.
func functionDisabled(settings map[string]string, name string) bool {
	key := azfunc.DisabledSetting(name)
	v, ok := settings[key]
	if !ok {
		v = os.Getenv(key)
	}
	return azfunc.Disabled(v)
}
