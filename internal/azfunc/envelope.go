package azfunc

import (
	"encoding/json"
	"strings"
)

// maxFastDepth bounds the nesting parseEnvelope follows inside a value;
// deeper values take encoding/json's path, which enforces its own limit on
// the whole envelope.
const maxFastDepth = 64

// parseEnvelope decodes an invocation envelope as json.Unmarshal into
// {Data, Metadata map[string]json.RawMessage} does, in one pass: keys matched
// exactly or case-insensitively, other top-level keys skipped, each value kept
// as its raw text. The values are slices of b, not copies. ok is false for
// anything json.Unmarshal might reject (and for a second Data or Metadata
// key, whose merge rules are left to it); callers then take its path, which
// also gives the error. json.Unmarshal validates the whole envelope before it
// decodes it and then scans each value again to copy it: the host's Event
// Hubs batches are envelopes of megabytes.
func parseEnvelope(b []byte) (*Request, bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	r := &Request{}
	var seenData, seenMetadata bool
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return r, skipWS(b, i+1) == len(b)
	}
	for {
		key, n, ok := objectKey(b, i)
		if !ok {
			return nil, false
		}
		i = n
		var dst *map[string]json.RawMessage
		switch {
		case strings.EqualFold(key, "Data"):
			if seenData {
				return nil, false
			}
			dst, seenData = &r.Data, true
		case strings.EqualFold(key, "Metadata"):
			if seenMetadata {
				return nil, false
			}
			dst, seenMetadata = &r.Metadata, true
		}
		if dst != nil {
			*dst, i, ok = rawMap(b, i)
		} else {
			_, i, ok = rawValue(b, i)
		}
		if !ok {
			return nil, false
		}
		if i = skipWS(b, i); i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return r, skipWS(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

// objectKey decodes the key at b[i:] and its colon; it returns the key and
// the index of its value (whitespace skipped).
func objectKey(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	k, n, ok := unquotePrefix(b[i:])
	if !ok {
		return "", 0, false
	}
	key := string(k)
	i = skipWS(b, i+n)
	if i >= len(b) || b[i] != ':' {
		return "", 0, false
	}
	return key, skipWS(b, i+1), true
}

// rawMap decodes the object (or null, which gives a nil map) at b[i:] into
// a map of raw values, as json.Unmarshal into a map[string]json.RawMessage
// does (the last of duplicate keys wins); it returns the index after it.
func rawMap(b []byte, i int) (map[string]json.RawMessage, int, bool) {
	if len(b)-i >= 4 && string(b[i:i+4]) == "null" {
		return nil, i + 4, true
	}
	if i >= len(b) || b[i] != '{' {
		return nil, 0, false
	}
	m := map[string]json.RawMessage{}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return m, i + 1, true
	}
	for {
		key, n, ok := objectKey(b, i)
		if !ok {
			return nil, 0, false
		}
		if m[key], i, ok = rawValue(b, n); !ok {
			return nil, 0, false
		}
		if i = skipWS(b, i); i >= len(b) {
			return nil, 0, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return m, i + 1, true
		default:
			return nil, 0, false
		}
	}
}

// rawValue returns the JSON value at b[i:] (no leading whitespace) and the
// index after it. A string is checked here in one pass (the values that
// matter for speed are strings: the host sends Event Hubs bodies and
// metadata arrays as strings of JSON); objects, arrays and scalars are
// delimited here and checked with json.Valid.
func rawValue(b []byte, i int) (json.RawMessage, int, bool) {
	if i >= len(b) {
		return nil, 0, false
	}
	start := i
	switch b[i] {
	case '"':
		end, ok := skipString(b, i)
		if !ok {
			return nil, 0, false
		}
		return b[start:end:end], end, true
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return nil, 0, false
				}
				i = end
				continue
			case '{', '[':
				if depth++; depth > maxFastDepth {
					return nil, 0, false
				}
			case '}', ']':
				depth--
			}
			i++
			if depth == 0 {
				break
			}
		}
		if depth != 0 {
			return nil, 0, false
		}
	default: // a number, true, false or null: up to the next delimiter
		for i < len(b) && !strings.ContainsRune(",}] \t\n\r", rune(b[i])) {
			i++
		}
	}
	v := b[start:i:i]
	return v, i, json.Valid(v)
}

// skipString returns the index after the JSON string literal at b[i:],
// checking it as encoding/json's scanner does: no control characters, only
// its escapes. Bytes that are not UTF-8 are accepted (decoding replaces them).
func skipString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		if plain[b[i]] {
			continue
		}
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			if i+1 >= len(b) {
				return 0, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if getu4(b[i:]) < 0 {
					return 0, false
				}
				i += 5
			default:
				return 0, false
			}
		default: // a control character
			return 0, false
		}
	}
	return 0, false
}

// plain marks the bytes that stand for themselves inside a JSON string
// literal: all but '"', '\\' and control characters.
var plain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= ' ' && c != '"' && c != '\\'
	}
	return t
}()
