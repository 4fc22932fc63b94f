// Package ingestiontest plays the Application Insights ingestion API
// (POST /v2.1/track, a JSON array of envelopes) on a loopback HTTP server,
// keeping what it accepts, for tests of what the handler would send.
package ingestiontest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Server is a running fake ingestion endpoint.
type Server struct {
	*httptest.Server
	// Status, when set before the first post, answers each post (numbered
	// from 1): anything but 200 keeps none of its items.
	Status func(post int) int

	mu    sync.Mutex
	items []Item
	posts int
	auth  []string
}

// Item is one received envelope.
type Item struct {
	Name string            `json:"name"`
	Time time.Time         `json:"time"`
	IKey string            `json:"iKey"`
	Tags map[string]string `json:"tags"`
	Data struct {
		BaseType string `json:"baseType"`
		BaseData struct {
			Ver           int               `json:"ver"`
			Message       string            `json:"message"`
			SeverityLevel string            `json:"severityLevel"`
			Properties    map[string]string `json:"properties"`
			Metrics       []Metric          `json:"metrics"`
		} `json:"baseData"`
	} `json:"data"`
}

// Metric is one data point of a MetricData item.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Count int     `json:"count"`
}

// Start starts a server on 127.0.0.1; Close stops it.
func Start() *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// ConnectionString names the server as an Application Insights connection string.
func (s *Server) ConnectionString() string {
	return "InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=" + s.URL + "/;LiveEndpoint=" + s.URL + "/"
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v2.1/track" || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want POST /v2.1/track application/json, got "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var items []Item
	if err := json.Unmarshal(body, &items); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts++
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	if s.Status != nil {
		if code := s.Status(s.posts); code != http.StatusOK {
			w.WriteHeader(code)
			return
		}
	}
	for i, it := range items {
		if it.IKey == "" || it.Name == "" || it.Time.IsZero() {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"itemsReceived":`+strconv.Itoa(len(items))+`,"itemsAccepted":0,"errors":[{"index":`+strconv.Itoa(i)+`,"statusCode":400,"message":"missing iKey, name or time"}]}`)
			return
		}
	}
	s.items = append(s.items, items...)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []any{}})
}

// Items returns what was accepted so far.
func (s *Server) Items() []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Item(nil), s.items...)
}

// Posts returns the number of posts and their Authorization headers.
func (s *Server) Posts() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts, append([]string(nil), s.auth...)
}
