package azfunc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A small writer of JSON the way Newtonsoft.Json writes it (compact, keys in
// insertion order, no HTML escaping, \u0085 \u2028 \u2029 escaped, doubles
// with a decimal point), so the builders reproduce the host's bytes.

// member is one key/value of an ordered object.
type member struct {
	key string
	val any
}

// object is a JSON object with ordered keys.
type object []member

func writeJSON(b *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		writeString(b, v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		b.WriteString(netDouble(v))
	case json.Number:
		b.WriteString(v.String())
	case json.RawMessage:
		var c bytes.Buffer
		if err := json.Compact(&c, v); err != nil {
			return fmt.Errorf("azfunc: raw JSON value: %w", err)
		}
		b.Write(c.Bytes())
	case object:
		b.WriteByte('{')
		for i, m := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, m.key)
			b.WriteByte(':')
			if err := writeJSON(b, m.val); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := make(object, len(keys))
		for i, k := range keys {
			o[i] = member{k, v[k]}
		}
		return writeJSON(b, o)
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case []string:
		a := make([]any, len(v))
		for i, s := range v {
			a[i] = s
		}
		return writeJSON(b, a)
	default:
		// Other values (decoded property maps: float64, []any, map[string]any...)
		// go through encoding/json and are then re-written.
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("azfunc: encode %T: %w", v, err)
		}
		return writeJSON(b, json.RawMessage(raw))
	}
	return nil
}

// serialize is JsonConvert.SerializeObject(v): the JSON text of v.
func serialize(v any) (string, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// writeString writes s as a JSON string literal the way Newtonsoft.Json does
// (AppendJSONString with U+0085 escaped). The host's event batches are strings
// of about a megabyte, escaped twice.
func writeString(b *bytes.Buffer, s string) {
	b.Grow(len(s) + len(s)/8 + 2)
	b.Write(AppendJSONString(b.AvailableBuffer(), s, true))
}

// AppendJSONString appends s as a JSON string literal: '"' and '\\' escaped,
// \b \f \n \r \t as two-letter escapes, other control characters as \u00xx,
// U+2028 and U+2029 as \u2028 and \u2029, each invalid UTF-8 byte as \ufffd,
// everything else as is; runs of bytes that need no escape are appended at
// once. That is what encoding/json writes with HTML escaping off.
// Newtonsoft.Json, the Functions host's serializer, also escapes U+0085: so
// does AppendJSONString with newtonsoft set. Hexadecimal digits are lowercase
// in both.
func AppendJSONString[T []byte | string](dst []byte, s T, newtonsoft bool) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0 // s[start:i] is still to be appended as is
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		// A conversion of at most utf8.UTFMax bytes, which stays on the stack.
		r, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			start = i + size
		case r == 0x2028 || r == 0x2029 || newtonsoft && r == 0x85:
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', hex[r>>12], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// netDouble writes a float64 as Newtonsoft does: shortest round-trip digits,
// always with a decimal point or exponent ("1.0", "10.16", "1E+20").
func netDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return `"NaN"`
	case math.IsInf(f, 1):
		return `"Infinity"`
	case math.IsInf(f, -1):
		return `"-Infinity"`
	}
	s := netDoubleString(f)
	if !strings.ContainsAny(s, ".E") {
		s += ".0"
	}
	return s
}

// netDoubleString is .NET Core's double.ToString() (invariant culture):
// shortest round-trip digits, fixed notation for decimal exponents in
// (-5, 15), otherwise d.dddE+XX with at least two exponent digits.
func netDoubleString(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	if exp > -5 && exp < 15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	sign := "+"
	if exp < 0 {
		sign, exp = "-", -exp
	}
	return fmt.Sprintf("%sE%s%02d", mant, sign, exp)
}

// netPropertyString is (string)JToken for a scalar JSON value, as the host's
// Utility.ApplyBindingData converts message properties: numbers via .NET
// formatting, booleans as True/False, strings as is. ok is false for null.
func netPropertyString(raw json.RawMessage) (s string, ok bool) {
	t := bytes.TrimSpace(raw)
	switch {
	case len(t) == 0 || string(t) == "null":
		return "", false
	case string(t) == "true":
		return "True", true
	case string(t) == "false":
		return "False", true
	case t[0] == '"':
		if err := json.Unmarshal(t, &s); err != nil {
			return "", false
		}
		return s, true
	}
	if !bytes.ContainsAny(t, ".eE") {
		return string(t), true // an integer: long or BigInteger, printed as is
	}
	f, err := strconv.ParseFloat(string(t), 64)
	if err != nil {
		return string(t), true
	}
	return netDoubleString(f), true
}
