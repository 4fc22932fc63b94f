package azfunc

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// FuzzUnquote holds unquote to json.Unmarshal into a string: the same value,
// or both failing.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{
		`""`, `"abc"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`, `"\ud800x"`, `"\udc00\ud800"`,
		"\"\xff\xfe ok\"", `"\u12"`, `"a" `, `"a`, `"\'"`, "\"\x01\"", `"\ud83d\u"`, `[1]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want string
		werr := json.Unmarshal(b, &want)
		got, ok := unquote(b)
		if ok {
			if werr != nil {
				t.Fatalf("%q: unquote gave %q, json.Unmarshal failed: %v", b, got, werr)
			}
			if string(got) != want {
				t.Fatalf("%q: unquote gave %q, json.Unmarshal %q", b, got, want)
			}
		} else if werr == nil && b[0] == '"' && b[len(b)-1] == '"' {
			t.Fatalf("%q: unquote failed, json.Unmarshal gave %q", b, want)
		}
	})
}

// FuzzStringArray holds stringArray to json.Unmarshal into []*string, each
// element through unwrapUnquoted: the same bodies, or stringArray declining
// an input json.Unmarshal rejects.
func FuzzStringArray(f *testing.F) {
	for _, s := range []string{
		`[]`, ` [ ] `, `["a",null,"\"q\""]`, `["{\"a\":1}" , "b"]`, `[1]`, `["a",]`, `["a"`, `null`, `["a"] x`, "[\"\xff\"]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var strs []*string
		werr := json.Unmarshal(b, &strs)
		got, ok := stringArray(b)
		if !ok {
			if werr == nil && strs != nil {
				t.Fatalf("%q: stringArray declined, json.Unmarshal gave %d strings", b, len(strs))
			}
			return
		}
		if werr != nil {
			t.Fatalf("%q: stringArray gave %q, json.Unmarshal failed: %v", b, got, werr)
		}
		want := make([][]byte, len(strs))
		for i, s := range strs {
			if s != nil {
				want[i] = unwrapUnquoted([]byte(*s))
			}
		}
		if !slices.EqualFunc(want, got, func(a, b []byte) bool { return (a == nil) == (b == nil) && string(a) == string(b) }) {
			t.Fatalf("%q: stringArray gave %q, json.Unmarshal %q", b, got, want)
		}
	})
}

// A literal without escapes is returned as a slice of the input that an
// append cannot write through; one with escapes as a copy.
func TestUnquoteShares(t *testing.T) {
	in := []byte(`"plain" tail`)
	got, n, ok := unquotePrefix(in)
	if !ok || n != 7 || string(got) != "plain" {
		t.Fatalf("unquotePrefix = %q, %d, %v", got, n, ok)
	}
	if &got[0] != &in[1] {
		t.Error("a literal without escapes was copied")
	}
	_ = append(got, 'X')
	if string(in) != `"plain" tail` {
		t.Errorf("append to the result changed the input: %q", in)
	}
	esc := []byte(`"a\nb"`)
	got, _, _ = unquotePrefix(esc)
	if string(got) != "a\nb" || &got[0] == &esc[1] {
		t.Errorf("escaped literal: %q (shares the input: %v)", got, &got[0] == &esc[1])
	}
}

// FuzzScalarText holds scalarText to json.Unmarshal, which it used for every
// string: the same text, or both failing.
func FuzzScalarText(f *testing.F) {
	for _, s := range []string{`"4294967296"`, ` "a\"b" `, `12.5e3`, `null`, `"\u12"`, `"x`, `true`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := scalarText(b)
		if tb := bytes.TrimSpace(b); len(tb) == 0 || tb[0] != '"' {
			return // numbers and null take the same path as before
		}
		var want string
		werr := json.Unmarshal(bytes.TrimSpace(b), &want)
		if (err != nil) != (werr != nil) || got != want {
			t.Fatalf("%q: scalarText %q, %v; json.Unmarshal %q, %v", b, got, err, want, werr)
		}
	})
}
