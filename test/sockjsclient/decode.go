package sockjsclient

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// frameDecoder pulls raw frames out of HTTP response bodies. reset starts a
// new response; next returns io.EOF when the body ends cleanly between
// frames. The returned slice is valid only until the next call. One decoder
// serves every response of a Conn, so its buffers are reused.
type frameDecoder interface {
	reset()
	next() ([]byte, error)
}

// lineReader splits a body into '\n'-terminated lines without allocating a
// new buffer per line.
type lineReader struct {
	br      *bufio.Reader
	scratch []byte
}

// readLine returns the next line without its "\n" (and without a trailing
// "\r" when trimCR). A body that ends mid-line is io.ErrUnexpectedEOF.
func (l *lineReader) readLine(trimCR bool) ([]byte, error) {
	line, err := l.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		line, err = l.readLong(line)
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if trimCR && len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, nil
}

// readLong gathers a line longer than the bufio buffer into scratch.
func (l *lineReader) readLong(first []byte) ([]byte, error) {
	buf := append(l.scratch[:0], first...)
	for {
		part, err := l.br.ReadSlice('\n')
		buf = append(buf, part...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		l.scratch = buf
		return buf, err
	}
}

// xhrDecoder reads xhr and xhr_streaming bodies: one frame per line. When
// streaming, the first line of each response is the 2048-byte "hhh...h"
// prelude and is skipped.
type xhrDecoder struct {
	lr        *lineReader
	streaming bool
	prelude   bool // the prelude is still to come
}

func (d *xhrDecoder) reset() { d.prelude = d.streaming }

func (d *xhrDecoder) next() ([]byte, error) {
	line, err := d.lr.readLine(false)
	if err != nil {
		return nil, err
	}
	if d.prelude {
		d.prelude = false
		if !isPrelude(line) {
			return nil, fmt.Errorf("%w: xhr_streaming prelude expected, got %q", ErrBadFrame, abbrev(line))
		}
		return d.next()
	}
	return line, nil
}

// isPrelude reports whether line is the xhr_streaming prelude of 'h' bytes.
func isPrelude(line []byte) bool {
	if len(line) < 2 {
		return false
	}
	for _, b := range line {
		if b != 'h' {
			return false
		}
	}
	return true
}

// eventSourceDecoder reads a text/event-stream body: a "\r\n" prelude, then
// each frame as "data: <frame>\r\n\r\n" with %, CR, LF and NUL
// percent-encoded. It follows the EventSource parsing rules for the parts
// SockJS uses (data fields, comments, blank-line dispatch).
type eventSourceDecoder struct {
	lr   *lineReader
	data []byte
	out  []byte
}

func (d *eventSourceDecoder) reset() {}

func (d *eventSourceDecoder) next() ([]byte, error) {
	d.data = d.data[:0]
	pending := false
	for {
		line, err := d.lr.readLine(true)
		if err != nil {
			if errors.Is(err, io.EOF) && pending {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(line) == 0 {
			if !pending {
				continue
			}
			return d.dispatch()
		}
		name, value := splitField(line)
		if name == "data" {
			if pending {
				d.data = append(d.data, '\n')
			}
			d.data = append(d.data, value...)
			pending = true
		}
	}
}

func (d *eventSourceDecoder) dispatch() ([]byte, error) {
	out, err := decodeURI(d.out[:0], d.data)
	if err != nil {
		return nil, err
	}
	d.out = out
	return out, nil
}

// splitField splits an event-stream line into field name and value; a
// comment line (":...") has an empty name.
func splitField(line []byte) (string, []byte) {
	i := bytes.IndexByte(line, ':')
	switch {
	case i < 0:
		return string(line), nil
	case i == 0:
		return "", nil
	}
	value := line[i+1:]
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return string(line[:i]), value
}

// decodeURI undoes the eventsource escaping the way sockjs-client does
// (JavaScript's decodeURI): %XX sequences become bytes, except those that
// encode a URI reserved character, which stay escaped. A malformed escape or
// a result that is not UTF-8 is an error, as decodeURI throws.
func decodeURI(dst, src []byte) ([]byte, error) {
	if bytes.IndexByte(src, '%') < 0 {
		return append(dst, src...), nil
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(src) || !isHex(src[i+1]) || !isHex(src[i+2]) {
			return nil, fmt.Errorf("%w: malformed %%-escape in %q", ErrBadFrame, abbrev(src))
		}
		b := unhex(src[i+1])<<4 | unhex(src[i+2])
		if b < utf8.RuneSelf && strings.IndexByte(uriReserved, b) >= 0 {
			dst = append(dst, src[i:i+3]...)
		} else {
			dst = append(dst, b)
		}
		i += 2
	}
	if !utf8.Valid(dst) {
		return nil, fmt.Errorf("%w: %%-escapes decode to invalid UTF-8", ErrBadFrame)
	}
	return dst, nil
}

// uriReserved are the characters decodeURI leaves escaped.
const uriReserved = ";/?:@&=+$,#"

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// htmlfileDecoder reads an htmlfile body: a padded HTML page, then each
// frame as "<script>\np(<JSON string>);\n</script>\r\n".
type htmlfileDecoder struct {
	lr  *lineReader
	out []byte
}

func (d *htmlfileDecoder) reset() {}

func (d *htmlfileDecoder) next() ([]byte, error) {
	afterScript := false
	for {
		line, err := d.lr.readLine(true)
		if err != nil {
			return nil, err
		}
		if afterScript && bytes.HasPrefix(line, []byte("p(")) {
			return d.call(line)
		}
		afterScript = string(line) == "<script>"
	}
}

// call decodes `p("...");` and checks the closing "</script>" line.
func (d *htmlfileDecoder) call(line []byte) ([]byte, error) {
	payload, ok := bytes.CutSuffix(line[len("p("):], []byte(");"))
	if !ok {
		return nil, fmt.Errorf("%w: htmlfile call %q", ErrBadFrame, abbrev(line))
	}
	out, err := unquote(d.out[:0], payload)
	if err != nil {
		return nil, err
	}
	d.out = out
	end, err := d.lr.readLine(true)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("htmlfile: after call: %w", err)
	}
	if string(end) != "</script>" {
		return nil, fmt.Errorf("%w: htmlfile: want </script>, got %q", ErrBadFrame, abbrev(end))
	}
	return out, nil
}

// jsonpDecoder reads a jsonp body: `/**/<callback>("<frame>");\r\n` per frame
// (the leading comment is optional; sockjs-go omits it).
type jsonpDecoder struct {
	lr       *lineReader
	callback string
	out      []byte
}

func (d *jsonpDecoder) reset() {}

func (d *jsonpDecoder) next() ([]byte, error) {
	for {
		line, err := d.lr.readLine(true)
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			continue
		}
		return d.call(line)
	}
}

func (d *jsonpDecoder) call(line []byte) ([]byte, error) {
	rest, _ := bytes.CutPrefix(line, []byte("/**/"))
	rest, ok := bytes.CutPrefix(rest, []byte(d.callback))
	if ok {
		rest, ok = bytes.CutPrefix(rest, []byte("("))
	}
	if ok {
		rest, ok = bytes.CutSuffix(rest, []byte(");"))
	}
	if !ok {
		return nil, fmt.Errorf("%w: jsonp call %q (callback %q)", ErrBadFrame, abbrev(line), d.callback)
	}
	out, err := unquote(d.out[:0], rest)
	if err != nil {
		return nil, err
	}
	d.out = out
	return out, nil
}

// unquote decodes a JSON string literal into dst.
func unquote(dst, lit []byte) ([]byte, error) {
	if len(lit) < 2 || lit[0] != '"' {
		return nil, fmt.Errorf("%w: JSON string expected, got %q", ErrBadFrame, abbrev(lit))
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return nil, fmt.Errorf("%w: %v: %q", ErrBadFrame, err, abbrev(lit))
	}
	return append(dst, s...), nil
}
