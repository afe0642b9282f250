package gateway

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// The RFC 6455 handshake is ours, not gorilla's: gorilla's Upgrader
// accepts any permessage-deflate offer whatever its parameters (and
// answers one fixed line that is wrong for an offer naming
// server_max_window_bits), and does not let a caller answer the extension
// itself. The handshake is short: the checks gorilla made, with the same
// answers, then 101.

// wsGUID is the key suffix of RFC 6455 4.2.2.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// errHandshakeAnswered is returned by upgradeWS when the request was not
// a valid handshake; the client got an HTTP error.
var errHandshakeAnswered = errors.New("gateway: not a websocket handshake")

// upgradeWS takes over the connection of the RFC 6455 handshake r
// (checkUpgrade already passed) and returns it with its answer, the 101
// with extensions as the Sec-WebSocket-Extensions answer when not empty,
// for the caller to write with answerWS once the session is set up (so a
// client that has its 101 finds its session registered). A request that is
// not a valid handshake is answered with gorilla's errors (405, or 400
// naming version 13) and errHandshakeAnswered.
func upgradeWS(w http.ResponseWriter, r *http.Request, extensions string) (net.Conn, []byte, error) {
	switch {
	case r.Method != http.MethodGet:
		return nil, nil, handshakeError(w, http.StatusMethodNotAllowed)
	case !headerHasToken(r.Header, "Sec-Websocket-Version", "13"):
		return nil, nil, handshakeError(w, http.StatusBadRequest)
	}
	key := r.Header.Get("Sec-Websocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return nil, nil, handshakeError(w, http.StatusBadRequest)
	}
	h, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, handshakeError(w, http.StatusInternalServerError)
	}
	conn, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack the websocket connection: %w", err)
	}
	if brw.Reader.Buffered() > 0 { // nothing may come before our answer
		_ = conn.Close()
		return nil, nil, errors.New("gateway: websocket client sent data before the handshake was answered")
	}
	_ = conn.SetDeadline(time.Time{}) // net/http's
	return conn, appendHandshake(nil, key, extensions), nil
}

// answerWS writes the 101 answer that upgradeWS returned; on failure the
// connection is closed, so its reader ends the session.
func answerWS(conn net.Conn, answer []byte) error {
	_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := conn.Write(answer); err != nil {
		_ = conn.Close()
		return fmt.Errorf("write the websocket handshake: %w", err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	return nil
}

// handshakeError answers a bad handshake as gorilla did.
func handshakeError(w http.ResponseWriter, status int) error {
	w.Header().Set("Sec-Websocket-Version", "13")
	http.Error(w, http.StatusText(status), status)
	return errHandshakeAnswered
}

// appendHandshake appends the 101 answer to key.
func appendHandshake(dst []byte, key, extensions string) []byte {
	sum := sha1.Sum([]byte(key + wsGUID))
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = base64.StdEncoding.AppendEncode(dst, sum[:])
	dst = append(dst, "\r\n"...)
	if extensions != "" {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = append(dst, extensions...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// negotiateDeflate reads the client's Sec-WebSocket-Extensions offers and
// returns the answer that accepts the first permessage-deflate offer
// sockgate can take, or "" when there is none. An offer is refused (and
// the next one tried; none left means no compression, never a failed
// handshake) when it has an unknown or repeated parameter, a parameter
// value RFC 7692 does not allow, server_max_window_bits under 15
// (compress/flate writes only 32 KiB windows), or does not parse.
//
// The answer always holds server_no_context_takeover and
// client_no_context_takeover: neither side keeps a compression context
// between messages, so a connection holds none while it is idle.
// client_max_window_bits needs no answer (sockgate inflates any window);
// server_max_window_bits=15 is echoed, as RFC 7692 7.1.2.1 asks.
func negotiateDeflate(h http.Header) string {
	for _, ext := range parseExtensions(strings.Join(h.Values("Sec-Websocket-Extensions"), ",")) {
		if ext.bad || !strings.EqualFold(ext.name, "permessage-deflate") {
			continue
		}
		if answer, ok := acceptDeflate(ext.params); ok {
			return answer
		}
	}
	return ""
}

// deflateAnswer is the answer to every accepted offer, before the
// parameters echoed.
const deflateAnswer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// acceptDeflate checks one permessage-deflate offer's parameters and
// returns its answer.
func acceptDeflate(params []wsParam) (string, bool) {
	answer := deflateAnswer
	seen := map[string]bool{}
	for _, p := range params {
		name := strings.ToLower(p.name)
		if seen[name] {
			return "", false
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if p.hasValue {
				return "", false
			}
		case "server_max_window_bits":
			if !p.hasValue || !windowBits(p.value) || p.value != "15" {
				return "", false
			}
			answer += "; server_max_window_bits=15"
		case "client_max_window_bits":
			if p.hasValue && !windowBits(p.value) {
				return "", false
			}
		default:
			return "", false
		}
	}
	return answer, true
}

// windowBits reports whether v is a window size RFC 7692 allows: 8 to 15,
// in decimal without leading zeros.
func windowBits(v string) bool {
	switch v {
	case "8", "9", "10", "11", "12", "13", "14", "15":
		return true
	}
	return false
}

// wsExtension is one element of a Sec-WebSocket-Extensions list; bad when
// it does not parse (RFC 6455 9.1).
type wsExtension struct {
	name   string
	params []wsParam
	bad    bool
}

// wsParam is one extension parameter; a quoted value is unquoted.
type wsParam struct {
	name, value string
	hasValue    bool
}

// parseExtensions splits an extension list into its elements. One that
// does not parse is kept, marked bad, and parsing goes on after the next
// comma outside a quoted string.
func parseExtensions(s string) []wsExtension {
	var out []wsExtension
	p := extParser{s: s}
	for {
		p.space()
		if p.done() {
			return out
		}
		if p.peek() == ',' { // an empty element
			p.i++
			continue
		}
		ext, ok := p.extension()
		if !ok {
			ext.bad = true
			p.skipElement()
		}
		out = append(out, ext)
	}
}

// extParser reads an extension list.
type extParser struct {
	s string
	i int
}

func (p *extParser) done() bool { return p.i >= len(p.s) }
func (p *extParser) peek() byte { return p.s[p.i] }

func (p *extParser) space() {
	for !p.done() && (p.peek() == ' ' || p.peek() == '\t') {
		p.i++
	}
}

// extension reads one element up to and including its comma.
func (p *extParser) extension() (wsExtension, bool) {
	ext := wsExtension{name: p.token()}
	if ext.name == "" {
		return ext, false
	}
	for {
		p.space()
		if p.done() {
			return ext, true
		}
		switch p.peek() {
		case ',':
			p.i++
			return ext, true
		case ';':
			p.i++
		default:
			return ext, false
		}
		p.space()
		param, ok := p.param()
		if !ok {
			return ext, false
		}
		ext.params = append(ext.params, param)
	}
}

// param reads name[=value], the value a token or a quoted string whose
// content is a token (RFC 6455 9.1).
func (p *extParser) param() (wsParam, bool) {
	param := wsParam{name: p.token()}
	if param.name == "" {
		return param, false
	}
	p.space()
	if p.done() || p.peek() != '=' {
		return param, true
	}
	p.i++
	p.space()
	param.hasValue = true
	if !p.done() && p.peek() == '"' {
		v, ok := p.quoted()
		param.value = v
		return param, ok && v != "" && strings.IndexFunc(v, func(r rune) bool { return r > 0x7f || !isTokenChar(byte(r)) }) < 0
	}
	param.value = p.token()
	return param, param.value != ""
}

// quoted reads a quoted string and returns its content.
func (p *extParser) quoted() (string, bool) {
	var b strings.Builder
	for p.i++; !p.done(); p.i++ {
		switch c := p.peek(); c {
		case '"':
			p.i++
			return b.String(), true
		case '\\':
			p.i++
			if p.done() {
				return "", false
			}
			b.WriteByte(p.peek())
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// token reads a token ("" when there is none).
func (p *extParser) token() string {
	start := p.i
	for !p.done() && isTokenChar(p.peek()) {
		p.i++
	}
	return p.s[start:p.i]
}

// skipElement skips past the next comma outside a quoted string.
func (p *extParser) skipElement() {
	quoted := false
	for ; !p.done(); p.i++ {
		switch c := p.peek(); {
		case c == '\\' && quoted:
			p.i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			p.i++
			return
		}
	}
}

// isTokenChar reports whether c may be part of an RFC 7230 token.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
