package ingest

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/batchscore/batchscore/internal/azfunc"
)

// appendRawLine appends the raw line of ev, the bytes appendLine gives for
// rawLine{Seq, Offset, Enqueued (UTC), Body}, without reflection or a new
// encoder per line: a batch of 1,000 events of about 800 bytes each is
// written per invocation. Times encoding/json cannot write (a year outside
// 0-9999) take appendLine itself.
func appendRawLine(b *bytes.Buffer, ev azfunc.Event) {
	enq := ev.EnqueuedTime.UTC()
	if y := enq.Year(); y < 0 || y > 9999 {
		appendLine(b, rawLine{Seq: ev.SequenceNumber, Offset: ev.Offset, Enqueued: enq, Body: string(ev.Body)})
		return
	}
	b.Grow(len(ev.Body) + len(ev.Offset) + 96)
	line := b.AvailableBuffer()
	line = append(line, `{"seq":`...)
	line = strconv.AppendInt(line, ev.SequenceNumber, 10)
	line = append(line, `,"offset":`...)
	line = appendJSONString(line, ev.Offset)
	line = append(line, `,"enqueued":"`...)
	line = enq.AppendFormat(line, time.RFC3339Nano)
	line = append(line, `","body":`...)
	line = appendJSONString(line, ev.Body)
	line = append(line, "}\n"...)
	b.Write(line)
}

// appendJSONString appends s as encoding/json writes a string with HTML
// escaping off: '"' and '\\' escaped, \b \f \n \r \t as two-letter escapes,
// other control characters as \u00xx, U+2028 and U+2029 as \u2028 and
// \u2029, each invalid UTF-8 byte as \ufffd, everything else as is.
func appendJSONString[T []byte | string](dst []byte, s T) []byte {
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
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
