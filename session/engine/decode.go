package engine

import (
	"encoding/json"
	"unicode/utf8"
)

// DecodeMessages parses a client payload, a JSON array of strings such as
// ["a","b"], into its messages. An empty (or all-blank) payload is
// ErrPayloadExpected; anything else that is not an array of strings is
// ErrBrokenJSON, except well-formed JSON of another shape ({}, "x", [1]),
// which is ErrPayloadExpected as on the reference server. Escaped lone UTF-16 surrogates are kept (as WTF-8) so they
// echo back unchanged, as the SockJS protocol tests require.
func DecodeMessages(p []byte) ([]string, error) {
	msgs, err := decodeArray(p)
	if err == ErrBrokenJSON && json.Valid(p) {
		// Well-formed JSON that is not an array of strings: the reference
		// server answers "Payload expected." for it.
		return nil, ErrPayloadExpected
	}
	return msgs, err
}

func decodeArray(p []byte) ([]string, error) {
	d := decoder{p: p}
	d.skipSpace()
	if d.i == len(p) {
		return nil, ErrPayloadExpected
	}
	if !d.consume('[') {
		return nil, ErrBrokenJSON
	}
	var msgs []string
	d.skipSpace()
	if d.consume(']') {
		return msgs, d.end()
	}
	for {
		d.skipSpace()
		s, ok := d.str()
		if !ok {
			return nil, ErrBrokenJSON
		}
		msgs = append(msgs, s)
		d.skipSpace()
		if d.consume(']') {
			if err := d.end(); err != nil {
				return nil, err
			}
			return msgs, nil
		}
		if !d.consume(',') {
			return nil, ErrBrokenJSON
		}
	}
}

type decoder struct {
	p []byte
	i int
}

func (d *decoder) skipSpace() {
	for d.i < len(d.p) {
		switch d.p[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) consume(c byte) bool {
	if d.i < len(d.p) && d.p[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *decoder) end() error {
	d.skipSpace()
	if d.i != len(d.p) {
		return ErrBrokenJSON
	}
	return nil
}

// str reads one JSON string literal.
func (d *decoder) str() (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	start := d.i
	// Fast path: no escapes.
	for d.i < len(d.p) {
		c := d.p[d.i]
		if c == '"' {
			s := string(d.p[start:d.i])
			d.i++
			return s, true
		}
		if c == '\\' {
			break
		}
		d.i++
	}
	buf := append([]byte(nil), d.p[start:d.i]...)
	for d.i < len(d.p) {
		c := d.p[d.i]
		switch {
		case c == '"':
			d.i++
			return string(buf), true
		case c == '\\':
			var ok bool
			if buf, ok = d.escape(buf); !ok {
				return "", false
			}
		default:
			buf = append(buf, c)
			d.i++
		}
	}
	return "", false
}

// escape decodes the escape sequence at d.i (which holds the backslash).
func (d *decoder) escape(buf []byte) ([]byte, bool) {
	if d.i+1 >= len(d.p) {
		return buf, false
	}
	c := d.p[d.i+1]
	d.i += 2
	switch c {
	case '"', '\\', '/':
		return append(buf, c), true
	case 'b':
		return append(buf, '\b'), true
	case 'f':
		return append(buf, '\f'), true
	case 'n':
		return append(buf, '\n'), true
	case 'r':
		return append(buf, '\r'), true
	case 't':
		return append(buf, '\t'), true
	case 'u':
		r, ok := d.hex4()
		if !ok {
			return buf, false
		}
		if r >= 0xd800 && r < 0xdc00 && d.i+1 < len(d.p) && d.p[d.i] == '\\' && d.p[d.i+1] == 'u' {
			save := d.i
			d.i += 2
			if lo, ok := d.hex4(); ok && lo >= 0xdc00 && lo <= 0xdfff {
				return utf8.AppendRune(buf, 0x10000+(r-0xd800)<<10+(lo-0xdc00)), true
			}
			d.i = save
		}
		return appendWTF8(buf, r), true
	}
	return buf, false
}

func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.p) {
		return 0, false
	}
	var r rune
	for _, c := range d.p[d.i : d.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// DecodeWebsocketMessage parses one websocket message from a client: a JSON
// array of strings, or a single JSON string as the reference server also
// accepts. An empty message yields no messages and no error.
func DecodeWebsocketMessage(p []byte) ([]string, error) {
	d := decoder{p: p}
	d.skipSpace()
	if d.i == len(p) {
		return nil, nil
	}
	if p[d.i] != '"' {
		return DecodeMessages(p)
	}
	s, ok := d.str()
	if !ok || d.end() != nil {
		return nil, ErrBrokenJSON
	}
	return []string{s}, nil
}
