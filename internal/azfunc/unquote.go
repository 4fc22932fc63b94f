package azfunc

import (
	"bytes"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// escaped maps the letter of a one-letter JSON escape to the byte it stands for.
var escaped = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// unquote decodes t, which must be exactly one JSON string literal, as
// encoding/json's decoder does (invalid UTF-8 and unpaired surrogates become
// U+FFFD). ok is false when t is not a valid literal; callers then take
// encoding/json's path for its error. json.Unmarshal into a string reads the
// bytes twice (a validation pass, then the decoding) and copies the result;
// the host's event batches are strings of about a megabyte. The result is a
// slice of t when the literal has no escapes and is valid UTF-8.
func unquote(t []byte) ([]byte, bool) {
	s, n, ok := unquotePrefix(t)
	if !ok || n != len(t) {
		return nil, false
	}
	return s, true
}

// unquotePrefix decodes the JSON string literal at the start of t and returns
// it with the number of bytes it took. The literal is first delimited and
// checked as encoding/json's scanner does (skipString), so the decoding
// below copies the runs between escapes at once, into a buffer of the
// literal's size.
func unquotePrefix(t []byte) ([]byte, int, bool) {
	if len(t) < 2 || t[0] != '"' {
		return nil, 0, false
	}
	end, ok := skipString(t, 0)
	if !ok {
		return nil, 0, false
	}
	lit := t[1 : end-1 : end-1]
	if bytes.IndexByte(lit, '\\') < 0 && utf8.Valid(lit) {
		return lit, end, true
	}
	b := make([]byte, 0, len(lit))
	start := 0 // lit[start:i] is still to be copied as is
	for i := 0; i < len(lit); {
		c := lit[i]
		switch {
		case c == '\\': // an escape skipString accepted
			b = append(b, lit[start:i]...)
			if e := lit[i+1]; e != 'u' {
				b = append(b, escaped[e])
				i += 2
			} else {
				rr, n := getu4(lit[i:]), 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(lit[i+6:])); dec != unicode.ReplacementChar {
						rr, n = dec, 12
					} else {
						rr = unicode.ReplacementChar
					}
				}
				b = utf8.AppendRune(b, rr)
				i += n
			}
			start = i
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(lit[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, lit[start:i]...)
				b = utf8.AppendRune(b, utf8.RuneError)
				start = i + 1
			}
			i += size
		}
	}
	return append(b, lit[start:]...), end, true
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// stringArray decodes b when it is a JSON array of strings and nulls (null
// gives nil, as Unwrap does), each element as unwrapUnquoted gives it, in one
// pass. ok is false for anything else; callers then take encoding/json's path.
func stringArray(b []byte) ([][]byte, bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	i = skipWS(b, i+1)
	out := make([][]byte, 0, 64)
	if i < len(b) && b[i] == ']' {
		return out, skipWS(b, i+1) == len(b)
	}
	for {
		switch {
		case i < len(b) && b[i] == '"':
			s, n, ok := unquotePrefix(b[i:])
			if !ok {
				return nil, false
			}
			out = append(out, unwrapUnquoted(s))
			i += n
		case len(b)-i >= 4 && string(b[i:i+4]) == "null":
			out = append(out, nil)
			i += 4
		default:
			return nil, false
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return out, skipWS(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

// skipWS skips JSON whitespace from i.
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
