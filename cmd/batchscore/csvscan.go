package main

import (
	"bytes"
	"errors"
)

// The CSV reader of the score command. It reads the CSV dialect of
// encoding/csv with its default settings (RFC 4180: comma separator, fields
// optionally in double quotes with "" for a quote, \n or \r\n line ends, empty
// lines skipped, a bare quote in an unquoted field is an error), but it does
// not copy: a record is a span of the input bytes, written back unchanged, and
// its fields are spans into it. FuzzCSVScan checks it against encoding/csv.

var (
	errBareQuote = errors.New(`bare " in non-quoted field`)
	errQuote     = errors.New(`extraneous or missing " in quoted field`)
)

// span is one field: data[start:end], quotes included when quoted.
type span struct {
	start, end int
	quoted     bool
}

// record is what scanRecord found.
type record struct {
	start, end int // the record's text, without its line end
	next       int // where the next record (or empty line) starts
	newlines   int // line breaks inside quoted fields
}

// scanRecord reads one record from data[pos:]; data[pos] must not start an
// empty line (see skipEmptyLines). It appends the record's fields to
// fields[:0]. If the record may continue past the end of data and atEOF is
// false, it returns ok == false: call again with more data.
func scanRecord(data []byte, pos int, atEOF bool, fields []span) (rec record, _ []span, ok bool, err error) {
	fields = fields[:0]
	rec.start = pos
	i := pos
	for {
		if i < len(data) && data[i] == '"' {
			start := i
			i++
			for {
				j := bytes.IndexByte(data[i:], '"')
				if j < 0 {
					if !atEOF {
						return rec, fields, false, nil
					}
					return rec, fields, false, errQuote
				}
				rec.newlines += bytes.Count(data[i:i+j], []byte{'\n'})
				i += j + 1
				if i == len(data) && !atEOF {
					return rec, fields, false, nil // the next byte may be a second quote
				}
				if i < len(data) && data[i] == '"' {
					i++
					continue
				}
				break
			}
			fields = append(fields, span{start, i, true})
			switch {
			case i == len(data):
				rec.end, rec.next = i, i
				return rec, fields, true, nil
			case data[i] == ',':
				i++
				continue
			case data[i] == '\n':
				rec.end, rec.next = i, i+1
				return rec, fields, true, nil
			case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
				rec.end, rec.next = i, i+2
				return rec, fields, true, nil
			case data[i] == '\r' && i+1 == len(data):
				if !atEOF {
					return rec, fields, false, nil
				}
				rec.end, rec.next = i, i+1
				return rec, fields, true, nil
			}
			return rec, fields, false, errQuote
		}
		// Unquoted field: up to the next comma or line end.
		j := indexCommaOrNewline(data[i:])
		if j < 0 {
			if !atEOF {
				return rec, fields, false, nil
			}
			end := len(data)
			if end > i && data[end-1] == '\r' {
				end-- // encoding/csv drops a \r just before EOF
			}
			if bytes.IndexByte(data[i:end], '"') >= 0 {
				return rec, fields, false, errBareQuote
			}
			fields = append(fields, span{i, end, false})
			rec.end, rec.next = end, len(data)
			return rec, fields, true, nil
		}
		end := i + j
		if data[end] == ',' {
			if bytes.IndexByte(data[i:end], '"') >= 0 {
				return rec, fields, false, errBareQuote
			}
			fields = append(fields, span{i, end, false})
			i = end + 1
			continue
		}
		rec.next = end + 1
		if end > i && data[end-1] == '\r' {
			end--
		}
		if bytes.IndexByte(data[i:end], '"') >= 0 {
			return rec, fields, false, errBareQuote
		}
		fields = append(fields, span{i, end, false})
		rec.end = end
		return rec, fields, true, nil
	}
}

// indexCommaOrNewline returns the index of the first ',' or '\n' in b, or -1.
func indexCommaOrNewline(b []byte) int {
	for i, c := range b {
		if c == ',' || c == '\n' {
			return i
		}
	}
	return -1
}

// skipEmptyLines skips the empty lines ("\n" or "\r\n") at data[pos:] and
// returns the new position and the number of lines skipped. If data ends in
// a lone '\r' and atEOF is false, it stops before it (more data decides).
func skipEmptyLines(data []byte, pos int, atEOF bool) (int, int) {
	n := 0
	for pos < len(data) {
		switch {
		case data[pos] == '\n':
			pos++
		case data[pos] == '\r' && pos+1 < len(data) && data[pos+1] == '\n':
			pos += 2
		case data[pos] == '\r' && pos+1 == len(data) && atEOF:
			pos++ // encoding/csv drops a \r just before EOF
		default:
			return pos, n
		}
		n++
	}
	return pos, n
}

// fieldValue returns the text of a field: unquoted, with "" as ", and \r\n
// inside quotes as \n (as encoding/csv returns it). It appends to buf only
// when it must change the bytes; otherwise it returns a subslice of data.
func fieldValue(data []byte, f span, buf []byte) []byte {
	v := data[f.start:f.end]
	if !f.quoted {
		return v
	}
	v = v[1 : len(v)-1]
	if bytes.IndexByte(v, '"') < 0 && bytes.IndexByte(v, '\r') < 0 {
		return v
	}
	buf = buf[:0]
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '"':
			i++ // "" stands for one quote
		case v[i] == '\r' && i+1 < len(v) && v[i+1] == '\n':
			continue
		}
		buf = append(buf, v[i])
	}
	return buf
}
