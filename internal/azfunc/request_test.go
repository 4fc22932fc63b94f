package azfunc

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestUnwrap(t *testing.T) {
	for _, test := range []struct {
		name, raw, want string
		wantNil         bool
		wantErr         bool
	}{
		{name: "double encoded string", raw: `"\"abc\""`, want: `abc`},
		{name: "single encoded string", raw: `"abc"`, want: `abc`},
		{name: "double encoded object", raw: `"\"{\\\"a\\\":1}\""`, want: `{"a":1}`},
		{name: "single encoded object", raw: `"{\"a\":1}"`, want: `{"a":1}`},
		{name: "number as string", raw: `"1"`, want: `1`},
		{name: "number", raw: `1`, want: `1`},
		{name: "object", raw: ` {"a":1} `, want: `{"a":1}`},
		{name: "array in string", raw: `"[\"x\",\"y\"]"`, want: `["x","y"]`},
		{name: "string holding quoted text is unquoted at most twice", raw: `"\"\\\"q\\\"\""`, want: `"q"`},
		{name: "quote-delimited text that is not a JSON string", raw: `"\"a\"b\""`, want: `"a"b"`},
		{name: "empty string", raw: `""`, want: ``},
		{name: "null", raw: `null`, wantNil: true},
		{name: "empty", raw: ``, wantErr: true},
		{name: "broken string", raw: `"abc`, wantErr: true},
	} {
		t.Run(test.name, func(t *testing.T) {
			got, err := Unwrap(json.RawMessage(test.raw))
			if (err != nil) != test.wantErr {
				t.Fatalf("Unwrap(%s) error = %v, wantErr %v", test.raw, err, test.wantErr)
			}
			if test.wantErr {
				return
			}
			if test.wantNil != (got == nil) {
				t.Fatalf("Unwrap(%s) = %q, want nil %v", test.raw, got, test.wantNil)
			}
			if string(got) != test.want {
				t.Errorf("Unwrap(%s) = %q, want %q", test.raw, got, test.want)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	utc := func(ns int) time.Time { return time.Date(2024, 5, 1, 11, 0, 0, ns, time.UTC) }
	for _, test := range []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "2024-05-01T11:00:00Z", want: utc(0)},
		{in: "2024-05-01T11:00:00.1234567Z", want: utc(123456700)},
		{in: "2024-05-01T11:00:00.123", want: utc(123000000)},
		{in: "2024-05-01T11:00:00", want: utc(0)},
		{in: "2024-05-01T13:00:00+02:00", want: utc(0)},
		{in: "2024-05-01 11:00:00", want: utc(0)},
		{in: `"2024-05-01T11:00:00Z"`, want: utc(0)},
		{in: "05/01/2024 11:00:00 +00:00", want: utc(0)},
		{in: "5/1/2024 11:00:00 AM", want: utc(0)},
		{in: "yesterday", wantErr: true},
		{in: "", wantErr: true},
	} {
		got, err := ParseTime(test.in)
		if (err != nil) != test.wantErr {
			t.Errorf("ParseTime(%q) error = %v, wantErr %v", test.in, err, test.wantErr)
			continue
		}
		if !got.Equal(test.want) {
			t.Errorf("ParseTime(%q) = %v, want %v", test.in, got, test.want)
		}
	}
}

func TestNetNumbers(t *testing.T) {
	tenth, fifth := 0.1, 0.2
	for _, test := range []struct {
		in            float64
		str, property string
	}{
		{1, "1.0", "1"},
		{10.16, "10.16", "10.16"},
		{-0.5, "-0.5", "-0.5"},
		{1e20, "1E+20", "1E+20"},
		{1e15, "1E+15", "1E+15"},
		{123456789012345, "123456789012345.0", "123456789012345"},
		{1e-5, "1E-05", "1E-05"},
		{0.0001, "0.0001", "0.0001"},
		{tenth + fifth, "0.30000000000000004", "0.30000000000000004"},
	} {
		if got := netDouble(test.in); got != test.str {
			t.Errorf("netDouble(%v) = %q, want %q", test.in, got, test.str)
		}
		if got := netDoubleString(test.in); got != test.property {
			t.Errorf("netDoubleString(%v) = %q, want %q", test.in, got, test.property)
		}
	}
}

func TestQueueMetadataProperties(t *testing.T) {
	for _, test := range []struct {
		name, body string
		want       map[string]string // Metadata key -> raw JSON
	}{
		{
			name: "scalars become double-encoded strings",
			body: `{"device":1,"sensor":"2","ok":true,"v":1.50,"n":null,"list":[1],"o":{"a":1.0}}`,
			want: map[string]string{"device": `"\"1\""`, "sensor": `"\"2\""`, "ok": `"\"True\""`, "v": `"\"1.5\""`, "o": `{"a":1.0}`},
		},
		{
			name: "a property named like a trigger key replaces its value",
			body: `{"ID":"mine","dequeueCount":9}`,
			want: map[string]string{"Id": `"\"mine\""`, "DequeueCount": `"\"9\""`},
		},
		{name: "not JSON", body: `device=1`},
		{name: "array message", body: `[{"device":1}]`},
		{name: "broken JSON object", body: `{"device":1`},
	} {
		t.Run(test.name, func(t *testing.T) {
			msg := queueValue
			msg.Body = []byte(test.body)
			b, _, err := NewQueueRequest("job", msg, call("score-sensor"))
			if err != nil {
				t.Fatal(err)
			}
			req, err := ParseRequest(b)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range req.Metadata {
				switch k {
				case "ExpirationTime", "InsertionTime", "NextVisibleTime", "PopReceipt", "sys":
					continue
				case "Id":
					if string(v) == `"\"5b2f1c7e-29b5-4f6e-8d0b-0d6c1e3c9a11\""` {
						continue
					}
				case "DequeueCount":
					if string(v) == `"2"` {
						continue
					}
				}
				got[k] = string(v)
			}
			want := test.want
			if want == nil {
				want = map[string]string{}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			m, err := req.Queue("job")
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Body) != test.body {
				t.Errorf("body = %q, want %q", m.Body, test.body)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, test := range []struct {
		name, payload string
		decode        func(*Request) error
		wantNoBinding bool
	}{
		{name: "missing binding", payload: `{"Data":{},"Metadata":{}}`,
			decode: func(r *Request) error { _, err := r.Queue("job"); return err }, wantNoBinding: true},
		{name: "timer not an object", payload: `{"Data":{"timer":"\"x\""}}`,
			decode: func(r *Request) error { _, err := r.Timer("timer"); return err }},
		{name: "timer bad time", payload: `{"Data":{"timer":{"ScheduleStatus":{"Last":"soon"}}}}`,
			decode: func(r *Request) error { _, err := r.Timer("timer"); return err }},
		{name: "queue bad dequeue count", payload: `{"Data":{"job":"\"x\""},"Metadata":{"DequeueCount":"\"many\""}}`,
			decode: func(r *Request) error { _, err := r.Queue("job"); return err }},
		{name: "queue binary not base64", payload: `{"Data":{"job":"%%%"}}`,
			decode: func(r *Request) error { _, err := r.QueueBinary("job"); return err }},
		{name: "events not an array", payload: `{"Data":{"events":"\"{}\""},"Metadata":{"SequenceNumberArray":"[]"}}`,
			decode: func(r *Request) error { _, err := r.EventHub("events"); return err }},
		{name: "events without sequence numbers", payload: `{"Data":{"events":"[\"a\"]"},"Metadata":{}}`,
			decode: func(r *Request) error { _, err := r.EventHub("events"); return err }, wantNoBinding: true},
		{name: "event arrays of the wrong length", payload: `{"Data":{"events":"[\"a\",\"b\"]"},"Metadata":{"SequenceNumberArray":"[1]"}}`,
			decode: func(r *Request) error { _, err := r.EventHub("events"); return err }},
		{name: "http body not base64 for octet-stream", payload: `{"Data":{"req":{"Method":"POST","Headers":{"Content-Type":["application/octet-stream"]},"Body":"%%"}}}`,
			decode: func(r *Request) error { _, err := r.HTTP("req"); return err }},
	} {
		t.Run(test.name, func(t *testing.T) {
			req, err := ParseRequest([]byte(test.payload))
			if err != nil {
				t.Fatal(err)
			}
			err = test.decode(req)
			if err == nil {
				t.Fatal("decode succeeded, want an error")
			}
			if got := errors.Is(err, ErrNoBinding); got != test.wantNoBinding {
				t.Errorf("errors.Is(%v, ErrNoBinding) = %v, want %v", err, got, test.wantNoBinding)
			}
		})
	}
	if _, err := ParseRequest([]byte(`{"Data":[1]}`)); err == nil {
		t.Error("ParseRequest accepted Data as an array")
	}
	if _, err := ParseRequest([]byte(`not json`)); err == nil || !strings.Contains(err.Error(), "envelope") {
		t.Errorf("ParseRequest(not json) error = %v", err)
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("bad job")
	p := Permanent(base)
	if !IsPermanent(p) || !errors.Is(p, base) {
		t.Errorf("Permanent(%v): IsPermanent %v, Is base %v", base, IsPermanent(p), errors.Is(p, base))
	}
	wrapped := errors.Join(errors.New("ctx"), p)
	if !IsPermanent(wrapped) {
		t.Error("a wrapped permanent error is not permanent")
	}
	if IsPermanent(base) || Permanent(nil) != nil || IsPermanent(nil) {
		t.Error("plain and nil errors must not be permanent")
	}
	if Permanent(p) != p {
		t.Error("Permanent wraps an already permanent error again")
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"Data":{"x":"\"a\""},"Metadata":{"DequeueCount":"1","SequenceNumberArray":"[1]"}}`,
		`{"Data":{"x":{"ScheduleStatus":{"Last":"2024-05-01T11:00:00"}}}}`,
		`{"Data":{"x":{"Method":"GET","Query":"{}","Headers":{"A":"b"}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseRequest(b)
		if err != nil {
			return
		}
		_, _ = req.Timer("x")
		_, _ = req.Queue("x")
		_, _ = req.QueueBinary("x")
		_, _ = req.EventHub("x")
		_, _ = req.HTTP("x")
		_, _ = req.Sys()
		_, _ = req.RetryContext()
	})
}

// FuzzEventBodies holds eventBodies' one-pass decoding of string arrays to the
// general decoding (an array of raw values, each Unwrapped): same bodies, or
// both failing.
func FuzzEventBodies(f *testing.F) {
	for _, s := range []string{
		`"[\"{\\\"a\\\":1}\",\"b\",null,\"\\\"q\\\"\"]"`,
		`[{"a":1},"x",2]`,
		`["a","b"]`,
		`"[]"`,
		`null`,
		`"[1"`,
	} {
		f.Add([]byte(s))
	}
	general := func(raw json.RawMessage) ([][]byte, error) {
		var elems []json.RawMessage
		if err := unwrapJSON(raw, &elems); err != nil {
			return nil, err
		}
		out := make([][]byte, len(elems))
		for i, e := range elems {
			b, err := Unwrap(e)
			if err != nil {
				return nil, err
			}
			out[i] = b
		}
		return out, nil
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		want, werr := general(raw)
		got, gerr := eventBodies(raw)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("%q: error %v, general path %v", raw, gerr, werr)
		}
		if werr == nil && !slices.EqualFunc(want, got, func(a, b []byte) bool { return (a == nil) == (b == nil) && string(a) == string(b) }) {
			t.Fatalf("%q: bodies %q, general path %q", raw, got, want)
		}
	})
}
