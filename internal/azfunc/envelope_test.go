package azfunc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// goldenEnvelopes returns the request golden files (the builders' output and
// the payloads of Microsoft's docs).
func goldenEnvelopes(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no golden requests: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// checkEnvelope fails t unless ParseRequest decides as json.Unmarshal does:
// the same Data and Metadata, or both failing with the same error.
func checkEnvelope(t *testing.T, b []byte) {
	t.Helper()
	want, werr := parseRequestJSON(b)
	got, err := ParseRequest(b)
	if (err != nil) != (werr != nil) || (err != nil && err.Error() != werr.Error()) {
		t.Fatalf("%q: ParseRequest error %v, json.Unmarshal's %v", b, err, werr)
	}
	if err != nil {
		return
	}
	// nil and empty maps are told apart: json.Unmarshal gives nil for null or
	// an absent key and an empty map for {}.
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%q: ParseRequest differs from json.Unmarshal (-want +got):\n%s", b, diff)
	}
}

func TestParseEnvelope(t *testing.T) {
	for name, b := range goldenEnvelopes(t) {
		t.Run(name, func(t *testing.T) {
			if _, ok := parseEnvelope(b); !ok {
				t.Error("the one-pass reader declined the payload")
			}
			checkEnvelope(t, b)
		})
	}
	for _, test := range []struct {
		name, payload string
		fast          bool // taken by the one-pass reader
	}{
		{"empty object", ` { } `, true},
		{"nulls", `{"Data":null,"Metadata":null}`, true},
		{"empty maps", `{"Data":{},"Metadata":{ }}`, true},
		{"lower case keys", `{"data":{"a":"1"},"METADATA":{"b":2}}`, true},
		{"escaped key", `{"\u0044ata":{"\u0061":true}}`, true},
		{"other keys skipped", `{"x":[1,{"y":"}"}],"Data":{"a":[]},"z":-1.5e3,"w":null}`, true},
		{"duplicate binding", `{"Data":{"a":1,"a":2}}`, true},
		{"values kept raw", "{\"Data\":{\"a\" : \"x\\u00e9\\\"\" ,\"b\":\n{ \"c\" : [ 1 , 2 ] } }}", true},
		{"invalid UTF-8 in a key", "{\"Data\":{\"\xff\":1}}", true},
		{"Data twice (json.Unmarshal merges)", `{"Data":{"a":1},"data":{"b":2}}`, false},
		{"Data null then object", `{"Data":null,"Data":{"b":2}}`, false},
		{"top-level null", `null`, false},
		{"deep value", `{"Data":{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`, false},
		{"Data an array", `{"Data":[1]}`, false},
		{"Data a string", `{"Data":"x"}`, false},
		{"not json", `not json`, false},
		{"trailing comma", `{"Data":{"a":1,}}`, false},
		{"trailing data", `{"Data":{}} x`, false},
		{"bad escape", `{"Data":{"a":"\x"}}`, false},
		{"control character", "{\"Data\":{\"a\":\"\x01\"}}", false},
		{"bad number", `{"Data":{"a":01}}`, false},
		{"bad literal", `{"Data":{"a":tru}}`, false},
		{"mismatched brackets", `{"Data":{"a":[1}}}`, false},
		{"unclosed", `{"Data":{"a":"x"`, false},
		{"empty", ``, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			if _, ok := parseEnvelope([]byte(test.payload)); ok != test.fast {
				t.Errorf("one-pass reader took it: %v, want %v", ok, test.fast)
			}
			checkEnvelope(t, []byte(test.payload))
		})
	}
}

// FuzzParseRequest holds ParseRequest to json.Unmarshal of the envelope (the
// implementation it replaced): the same accept or reject decision and error,
// and the same raw values, on the golden requests mutated and on random input.
func FuzzParseRequest(f *testing.F) {
	for _, b := range goldenEnvelopes(f) {
		f.Add(b)
	}
	for _, s := range []string{`{}`, `{"Data":{"a":"\"b\""},"Metadata":{"x":[1,{"y":null}]}}`, `{"data":null,"Data":{}}`, `[]`, `{"Data":{"a":1e999}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkEnvelope(t, b)
		// The values are json.RawMessage: each must be valid JSON on its own.
		if r, err := ParseRequest(b); err == nil {
			for _, m := range []map[string]json.RawMessage{r.Data, r.Metadata} {
				for k, v := range m {
					if !json.Valid(v) {
						t.Fatalf("%q: value of %q is not JSON: %q", b, k, v)
					}
				}
			}
		}
	})
}

// FuzzEmptyObjects holds emptyObjects to json.Unmarshal into
// []map[string]any: when it counts an array, json.Unmarshal accepts it with
// as many elements, all empty or nil.
func FuzzEmptyObjects(f *testing.F) {
	for _, s := range []string{`[]`, ` [ {} , null,{ } ] `, `[{},]`, `[{"a":1}]`, `[{}`, `null`, `[{}] x`, `[nul]`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n := emptyObjects(b)
		if n < 0 {
			return
		}
		var props []map[string]any
		if err := json.Unmarshal(b, &props); err != nil {
			t.Fatalf("%q: emptyObjects counted %d, json.Unmarshal failed: %v", b, n, err)
		}
		if len(props) != n {
			t.Fatalf("%q: emptyObjects counted %d, json.Unmarshal gave %d", b, n, len(props))
		}
		for i, p := range props {
			if len(p) > 0 {
				t.Fatalf("%q: element %d is %v, not empty", b, i, p)
			}
		}
	})
}
