package azfunc

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Response is the envelope the handler returns to the host. Only outputs
// declared in function.json are used; ReturnValue goes to a "$return" binding.
// It is always written with Content-Type application/json (the host cannot
// read anything else).
type Response struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// HTTPResponse is the value of an "http" output binding (Outputs.res).
type HTTPResponse struct {
	StatusCode int               `json:"statusCode"`
	Body       string            `json:"body"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// JSONResponse returns a Response whose HTTP output binding carries v as a JSON
// body with the given status.
func JSONResponse(binding string, status int, v any) (Response, error) {
	res, err := JSONHTTPResponse(status, v)
	if err != nil {
		return Response{}, err
	}
	return Response{Outputs: map[string]any{binding: res}}, nil
}

// JSONHTTPResponse returns the value of an http output binding that answers
// the caller with status and v as a JSON body.
func JSONHTTPResponse(status int, v any) (HTTPResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return HTTPResponse{}, fmt.Errorf("azfunc: encode http response body: %w", err)
	}
	return HTTPResponse{
		StatusCode: status,
		Body:       string(b),
		Headers:    map[string]string{"Content-Type": "application/json"},
	}, nil
}

// writeResponse writes the envelope with the given status. Nil maps and slices
// are written as {} and [].
func writeResponse(w http.ResponseWriter, status int, resp Response) error {
	if resp.Outputs == nil {
		resp.Outputs = map[string]any{}
	}
	if resp.Logs == nil {
		resp.Logs = []string{}
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return fmt.Errorf("azfunc: encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}
