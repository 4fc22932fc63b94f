package ingest

import (
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
)

// decodeFast decodes the common shape of an event body in one pass: an object
// {"TS":"...","Device":...,"Sensor":...,"Value":...} or a non-empty array of
// them, with exactly these four keys (any order, once each), strings without
// escapes and numbers or strings as ids, every reading valid. It returns
// ok=false for anything else (other keys or spellings, escapes, nulls, an
// invalid reading, more than limit readings), and decodeEvent then takes the
// general path, which accepts every form and explains every rejection. When ok
// is true the readings are exactly those the general path returns (a fuzz
// test holds the two paths to that).
func decodeFast(body []byte, enqueued time.Time, limit int, check func(ts, enqueued time.Time) error) ([]sensor.Reading, bool) {
	p := scanner{b: body}
	p.ws()
	if p.peek() == '{' {
		r, ok := p.reading(enqueued, check)
		p.ws()
		if !ok || p.i != len(p.b) {
			return nil, false
		}
		return []sensor.Reading{r}, true
	}
	if !p.eat('[') {
		return nil, false
	}
	// Readings of one event are usually few: size the slice by counting objects.
	rs := make([]sensor.Reading, 0, max(1, countByte(body, '{')))
	for {
		p.ws()
		r, ok := p.reading(enqueued, check)
		if !ok || len(rs) == limit {
			return nil, false
		}
		rs = append(rs, r)
		p.ws()
		if p.eat(',') {
			continue
		}
		if !p.eat(']') {
			return nil, false
		}
		p.ws()
		return rs, p.i == len(p.b)
	}
}

func countByte(b []byte, c byte) int {
	n := 0
	for _, x := range b {
		if x == c {
			n++
		}
	}
	return n
}

// scanner walks a JSON text; every method leaves i after what it consumed.
type scanner struct {
	b []byte
	i int
}

func (p *scanner) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *scanner) eat(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

func (p *scanner) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// str consumes a string without escapes or control characters and returns its
// JSON text, quotes included.
func (p *scanner) str() ([]byte, bool) {
	start := p.i
	if !p.eat('"') {
		return nil, false
	}
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch {
		case c == '"':
			return p.b[start:p.i], true
		case c == '\\' || c < ' ':
			return nil, false
		}
	}
	return nil, false
}

// num consumes a number as RFC 8259 spells it and returns its text.
func (p *scanner) num() ([]byte, bool) {
	start := p.i
	p.eat('-')
	switch c := p.peek(); {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		p.digits()
	default:
		return nil, false
	}
	if p.eat('.') && !p.digits() {
		return nil, false
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.i++
		if !p.eat('+') {
			p.eat('-')
		}
		if !p.digits() {
			return nil, false
		}
	}
	return p.b[start:p.i], true
}

func (p *scanner) digits() bool {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// reading consumes one reading object of the common shape and checks it as
// ParseReading and checkTime do.
func (p *scanner) reading(enqueued time.Time, check func(ts, enqueued time.Time) error) (sensor.Reading, bool) {
	if !p.eat('{') {
		return sensor.Reading{}, false
	}
	var ts, dev, sen, val []byte
	for {
		p.ws()
		key, ok := p.str()
		if !ok {
			return sensor.Reading{}, false
		}
		p.ws()
		if !p.eat(':') {
			return sensor.Reading{}, false
		}
		p.ws()
		var v []byte
		if p.peek() == '"' {
			v, ok = p.str()
		} else {
			v, ok = p.num()
		}
		if !ok {
			return sensor.Reading{}, false
		}
		var dst *[]byte
		switch string(key[1 : len(key)-1]) {
		case "TS":
			dst = &ts
		case "Device":
			dst = &dev
		case "Sensor":
			dst = &sen
		case "Value":
			dst = &val
		default:
			return sensor.Reading{}, false
		}
		if *dst != nil {
			return sensor.Reading{}, false
		}
		*dst = v
		p.ws()
		if p.eat(',') {
			continue
		}
		if !p.eat('}') || ts == nil || dev == nil || sen == nil || val == nil || ts[0] != '"' {
			return sensor.Reading{}, false
		}
		break
	}
	var (
		r   sensor.Reading
		err error
		ok  bool
	)
	if r.TS, err = parseTSText(string(ts[1 : len(ts)-1])); err != nil {
		return sensor.Reading{}, false
	}
	if r.Key.Device, ok = fastID(dev); !ok {
		return sensor.Reading{}, false
	}
	if r.Key.Sensor, ok = fastID(sen); !ok {
		return sensor.Reading{}, false
	}
	if r.Key.Validate() != nil {
		return sensor.Reading{}, false
	}
	if r.Value, err = parseValue(val); err != nil {
		return sensor.Reading{}, false
	}
	if check(r.TS, enqueued) != nil {
		return sensor.Reading{}, false
	}
	return r, true
}

// fastID is parseID for a string without escapes (its text between the
// quotes: the body is valid UTF-8) or a number.
func fastID(v []byte) (string, bool) {
	if v[0] == '"' {
		return string(v[1 : len(v)-1]), true
	}
	id, err := parseID("", v)
	return id, err == nil
}
