package localhost

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/batchscore/batchscore/internal/azfunc"
)

// HTTPResponse is an HTTP-triggered function's reply, from Outputs.res (or ReturnValue
// when the http output binding is $return).
type HTTPResponse struct {
	Status  int
	Body    []byte
	Headers map[string]string
}

// InvokeHTTP invokes the httpTrigger function fn as the host does without request
// forwarding: Data.req = {Url, Method, Query, Headers, Params, Identities, Body}
// (no Body field when body is empty, as the host sends it only when
// ContentLength > 0); it reads the reply from the http output binding. query may
// be nil.
func (h *Host) InvokeHTTP(ctx context.Context, fn, method string, body []byte, query url.Values) (HTTPResponse, error) {
	f, ok := h.fns[fn]
	if !ok {
		return HTTPResponse{}, fmt.Errorf("invoke %s: no such function", fn)
	}
	trig, _ := f.Trigger()
	if !strings.EqualFold(trig.Type, "httpTrigger") {
		return HTTPResponse{}, fmt.Errorf("invoke %s: not an httpTrigger function", fn)
	}
	if h.disabled[fn] {
		// A disabled function's endpoint answers 404 to any caller without the
		// master key ("How to disable functions in Azure Functions").
		return HTTPResponse{Status: http.StatusNotFound, Headers: map[string]string{}}, nil
	}
	out := ""
	for _, b := range f.Bindings {
		if strings.EqualFold(b.Type, "http") && strings.EqualFold(b.Direction, "out") {
			out = b.Name
		}
	}
	if out == "" {
		return HTTPResponse{}, fmt.Errorf("invoke %s: no http output binding", fn)
	}
	route := trig.Route
	if route == "" {
		route = fn
	}
	u := "http://localhost:7071/api/" + route
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	payload, hdr, err := httpPayload(fn, trig, method, u, query, body)
	if err != nil {
		return HTTPResponse{}, fmt.Errorf("invoke %s: build request: %w", fn, err)
	}
	resp, err := h.Invoke(ctx, fn, payload, hdr)
	if err != nil {
		return HTTPResponse{}, err
	}
	var raw json.RawMessage
	if out == "$return" {
		raw = resp.ReturnValue
	} else {
		for k, v := range resp.Outputs {
			if strings.EqualFold(k, out) {
				raw = v
			}
		}
	}
	if len(raw) == 0 {
		return HTTPResponse{}, fmt.Errorf("invoke %s: reply has no %s output", fn, out)
	}
	return parseHTTPOutput(raw)
}

// parseHTTPOutput reads {statusCode, body, headers}; statusCode may be a number
// or a string, body a string or any JSON value (sent as its JSON text).
func parseHTTPOutput(raw json.RawMessage) (HTTPResponse, error) {
	b, err := azfunc.Unwrap(raw)
	if err != nil {
		return HTTPResponse{}, fmt.Errorf("http output: %w", err)
	}
	var res map[string]json.RawMessage
	if err := json.Unmarshal(b, &res); err != nil {
		return HTTPResponse{}, fmt.Errorf("http output: %w", err)
	}
	r := HTTPResponse{Status: 200, Headers: map[string]string{}}
	for k, v := range res {
		switch strings.ToLower(k) {
		case "statuscode", "status":
			var n json.Number
			var s string
			if json.Unmarshal(v, &n) == nil {
				i, err := n.Int64()
				if err != nil {
					return HTTPResponse{}, fmt.Errorf("http output statusCode %s: %w", v, err)
				}
				r.Status = int(i)
			} else if json.Unmarshal(v, &s) == nil {
				i, err := strconv.Atoi(s)
				if err != nil {
					return HTTPResponse{}, fmt.Errorf("http output statusCode %q: %w", s, err)
				}
				r.Status = i
			}
		case "body":
			var s string
			if json.Unmarshal(v, &s) == nil {
				r.Body = []byte(s)
			} else if string(v) != "null" {
				r.Body = append([]byte(nil), v...)
			}
		case "headers":
			var hs map[string]any
			if json.Unmarshal(v, &hs) == nil {
				for hk, hv := range hs {
					r.Headers[hk] = fmt.Sprint(hv)
				}
			}
		}
	}
	return r, nil
}
