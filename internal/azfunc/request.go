package azfunc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Header names the host sets on every invocation request.
const (
	HeaderInvocationID = "X-Azure-Functions-InvocationId"
	HeaderHostVersion  = "X-Azure-Functions-HostVersion"
)

// ErrNoBinding is returned when the payload has no value under a binding name or
// metadata key.
var ErrNoBinding = errors.New("azfunc: no such binding in payload")

// Request is the invocation envelope the host POSTs to /{FunctionName}.
// Values are kept raw; use the typed accessors ([Request.Timer],
// [Request.Queue], [Request.EventHub], [Request.HTTP]) or [Unwrap].
type Request struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// ParseRequest decodes an invocation envelope. Keys are matched as the host's
// Newtonsoft reader does, case-insensitively ("data" is accepted for "Data").
// The envelope is read in one pass that keeps each value's raw text (an Event
// Hubs batch is an envelope of megabytes); the values are slices of body,
// which must not be changed afterwards. Whatever that pass does not accept
// takes encoding/json, which gives the error.
func ParseRequest(body []byte) (*Request, error) {
	if r, ok := parseEnvelope(body); ok {
		return r, nil
	}
	return parseRequestJSON(body)
}

// parseRequestJSON is ParseRequest through json.Unmarshal (encoding/json
// matches struct fields exactly first, then case-insensitively).
func parseRequestJSON(body []byte) (*Request, error) {
	var env struct {
		Data     map[string]json.RawMessage
		Metadata map[string]json.RawMessage
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("azfunc: decode invocation envelope: %w", err)
	}
	return &Request{Data: env.Data, Metadata: env.Metadata}, nil
}

// Raw returns the raw Data value of a binding (exact name first, then a
// case-insensitive match).
func (r *Request) Raw(name string) (json.RawMessage, error) {
	v, ok := lookup(r.Data, name)
	if !ok {
		return nil, fmt.Errorf("data %q: %w", name, ErrNoBinding)
	}
	return v, nil
}

// RawMetadata returns the raw Metadata value of a key (exact name first, then a
// case-insensitive match).
func (r *Request) RawMetadata(key string) (json.RawMessage, error) {
	v, ok := lookup(r.Metadata, key)
	if !ok {
		return nil, fmt.Errorf("metadata %q: %w", key, ErrNoBinding)
	}
	return v, nil
}

// Text returns the Data value of a binding with its string layers removed (see [Unwrap]).
func (r *Request) Text(name string) ([]byte, error) {
	raw, err := r.Raw(name)
	if err != nil {
		return nil, err
	}
	b, err := Unwrap(raw)
	if err != nil {
		return nil, fmt.Errorf("data %q: %w", name, err)
	}
	return b, nil
}

// Binary returns the bytes of a binding declared with "dataType": "binary"
// (the host sends them as one base64 string).
func (r *Request) Binary(name string) ([]byte, error) {
	raw, err := r.Raw(name)
	if err != nil {
		return nil, err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("data %q: binary value is not a JSON string: %w", name, err)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("data %q: binary value is not base64: %w", name, err)
	}
	return b, nil
}

// MetadataText returns a Metadata value with its string layers removed.
func (r *Request) MetadataText(key string) ([]byte, error) {
	raw, err := r.RawMetadata(key)
	if err != nil {
		return nil, err
	}
	b, err := Unwrap(raw)
	if err != nil {
		return nil, fmt.Errorf("metadata %q: %w", key, err)
	}
	return b, nil
}

// Unwrap removes the host's string encoding from a Data or Metadata value.
//
// A value that is not a JSON string (object, array, number, bool) is returned
// as is. A JSON string is unquoted; if the result is itself a JSON string
// literal (the host's double encoding of strings: "\"abc\"" -> "abc") it is
// unquoted once more. So "\"{\\\"a\\\":1}\"" and "{\"a\":1}" both give {"a":1},
// and "\"abc\"" gives abc. JSON null gives nil.
func Unwrap(raw json.RawMessage) ([]byte, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return nil, errors.New("azfunc: empty value")
	}
	if isNull(t) {
		return nil, nil
	}
	if t[0] != '"' {
		return t, nil
	}
	s, ok := unquote(t)
	if !ok { // encoding/json's error
		var str string
		if err := json.Unmarshal(t, &str); err != nil {
			return nil, fmt.Errorf("azfunc: unquote value: %w", err)
		}
		s = []byte(str)
	}
	return unwrapUnquoted(s), nil
}

// unwrapUnquoted is Unwrap after the first unquoting, which gave s.
func unwrapUnquoted(s []byte) []byte {
	inner := bytes.TrimSpace(s)
	if len(inner) >= 2 && inner[0] == '"' && inner[len(inner)-1] == '"' {
		if s2, ok := unquote(inner); ok {
			return s2
		}
	}
	return s
}

// unwrapJSON unwraps a value and decodes the remaining JSON text into v.
func unwrapJSON(raw json.RawMessage, v any) error {
	b, err := Unwrap(raw)
	if err != nil {
		return err
	}
	if b == nil {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("azfunc: decode value: %w", err)
	}
	return nil
}

func lookup(m map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func isNull(b []byte) bool { return string(bytes.TrimSpace(b)) == "null" }
