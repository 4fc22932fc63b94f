package azfunc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"unicode/utf8"
)

// writeStringByByte is writeString as it was before it wrote runs of safe
// bytes at once (one WriteByte per byte): the reference FuzzWriteString holds
// writeString to.
func writeStringByByte(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				b.WriteString(`\"`)
			case c == '\\':
				b.WriteString(`\\`)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c == '\b':
				b.WriteString(`\b`)
			case c == '\f':
				b.WriteString(`\f`)
			case c < 0x20:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case r == 0x85 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

func TestWriteString(t *testing.T) {
	for _, test := range []struct{ in, want string }{
		{"", `""`},
		{"plain text 123", `"plain text 123"`},
		{`q"b\s/`, `"q\"b\\s/"`},
		{"\n\r\t\b\f", `"\n\r\t\b\f"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"<a>&</a>", `"<a>&</a>"`},
		{"\u0085 \u2028 \u2029 \u00e9 \U0001F600", `"\u0085 \u2028 \u2029 ` + "\u00e9 \U0001F600" + `"`},
		{"a\xffb\xe2\x80", `"a\ufffdb\ufffd\ufffd"`},
		{"\ufffd", "\"\ufffd\""},
	} {
		var b bytes.Buffer
		writeString(&b, test.in)
		if b.String() != test.want {
			t.Errorf("writeString(%q) = %s, want %s", test.in, b.String(), test.want)
		}
	}
}

// TestAppendJSONStringFlavours: without newtonsoft AppendJSONString writes
// what encoding/json does with HTML escaping off (U+0085 as is), with it what
// Newtonsoft.Json does (writeString); the two differ only there.
func TestAppendJSONStringFlavours(t *testing.T) {
	for _, in := range []string{"", "plain", `q"b\s/`, "\n\r\t\b\f\x00\x1f\x7f", "<a>&</a>",
		"\u0085 \u2028 \u2029 \u00e9 \U0001F600", "a\xffb\xe2\x80"} {
		var enc bytes.Buffer
		e := json.NewEncoder(&enc)
		e.SetEscapeHTML(false)
		if err := e.Encode(in); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(enc.Bytes(), []byte("\n"))
		if got := AppendJSONString([]byte("x"), in, false); !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Errorf("AppendJSONString(%q, false) = %s, want encoding/json's x%s", in, got, want)
		}
		if got := AppendJSONString(nil, []byte(in), false); !bytes.Equal(got, want) {
			t.Errorf("AppendJSONString([]byte(%q), false) = %s, want %s", in, got, want)
		}
		var net bytes.Buffer
		writeString(&net, in)
		if got := AppendJSONString(nil, in, true); !bytes.Equal(got, net.Bytes()) {
			t.Errorf("AppendJSONString(%q, true) = %s, want writeString's %s", in, got, net.Bytes())
		}
	}
	if got := string(AppendJSONString(nil, "\u0085", false)); got != "\"\u0085\"" {
		t.Errorf("AppendJSONString(U+0085, false) = %q, want it unescaped", got)
	}
	if got := string(AppendJSONString(nil, "\u0085", true)); got != `"\u0085"` {
		t.Errorf("AppendJSONString(U+0085, true) = %q, want \\u0085", got)
	}
}

// FuzzWriteString holds writeString to the byte-at-a-time writer it replaced
// (the same bytes) and to encoding/json (its output decodes to the input, each
// invalid UTF-8 byte as U+FFFD).
func FuzzWriteString(f *testing.F) {
	for _, s := range []string{
		"", "abc", `"\/`, "\x00\x1f\x7f\n\r\t\b\f", "<>&", "\u0085\u2028\u2029", "\xff\xfe", "\xe2\x80", "\xed\xa0\x80", "é😀",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want bytes.Buffer
		writeString(&got, s)
		writeStringByByte(&want, s)
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("%q: writeString wrote %s, the byte-at-a-time writer %s", s, got.Bytes(), want.Bytes())
		}
		var back string
		if err := json.Unmarshal(got.Bytes(), &back); err != nil {
			t.Fatalf("%q: %s is not a JSON string: %v", s, got.Bytes(), err)
		}
		if back != string([]rune(s)) {
			t.Fatalf("%q: %s decodes to %q", s, got.Bytes(), back)
		}
	})
}
