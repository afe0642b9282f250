package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// clientFrame is one masked frame as a client sends it.
func clientFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xFFFF:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i&3])
	}
	return out
}

// readerFor returns a reader over a connection the test writes stream to
// (then closes), and the control frames the reader answers with.
func readerFor(t *testing.T, stream []byte, limit int64) (*wsConnRFC6455, func() []string) {
	t.Helper()
	server, client := net.Pipe()
	t.Cleanup(func() { _ = server.Close(); _ = client.Close() })
	go func() {
		_, _ = client.Write(stream)
		_ = client.Close()
	}()
	c := newWSConn(server, time.Hour)
	c.SetReadLimit(limit)
	var mu sync.Mutex
	var controls []string
	c.OnControl(func(frame []byte, closing bool) {
		mu.Lock()
		defer mu.Unlock()
		kind := map[byte]string{0x8A: "pong", 0x88: "close"}[frame[0]]
		payload := string(frame[2:])
		if frame[0] == 0x88 && len(frame) >= 4 {
			payload = fmt.Sprintf("%d %s", binary.BigEndian.Uint16(frame[2:4]), frame[4:])
		}
		if closing != (frame[0] == 0x88) {
			t.Errorf("control frame %x: closing = %v", frame, closing)
		}
		controls = append(controls, kind+" "+payload)
	})
	return c, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), controls...)
	}
}

// TestWSReaderMessages: text messages of every length encoding, split into
// fragments with control frames between them, arrive whole; pings are
// answered with their payload; binary messages are dropped.
func TestWSReaderMessages(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte("x"), 70000) // a 64-bit length
	mid := bytes.Repeat([]byte("é"), 200)    // a 16-bit length, over the buffer
	var stream []byte
	stream = append(stream, clientFrame(true, 0x1, []byte("hello"))...)
	stream = append(stream, clientFrame(true, 0x2, []byte{0, 1, 2})...) // binary: dropped
	stream = append(stream, clientFrame(false, 0x1, []byte("frag"))...)
	stream = append(stream, clientFrame(true, 0x9, []byte("p1"))...) // ping inside a message
	stream = append(stream, clientFrame(false, 0x0, []byte("men"))...)
	stream = append(stream, clientFrame(true, 0xA, nil)...) // unsolicited pong: ignored
	stream = append(stream, clientFrame(true, 0x0, []byte("ted"))...)
	stream = append(stream, clientFrame(true, 0x1, mid)...)
	stream = append(stream, clientFrame(true, 0x1, long)...)
	stream = append(stream, clientFrame(true, 0x1, nil)...)
	c, controls := readerFor(t, stream, 1<<20)
	for _, want := range [][]byte{[]byte("hello"), []byte("fragmented"), mid, long, {}} {
		got, err := c.ReadText()
		if err != nil {
			t.Fatalf("ReadText: %v (want %d bytes)", err, len(want))
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("ReadText = %d bytes %.20q, want %d bytes %.20q", len(got), got, len(want), want)
		}
	}
	if _, err := c.ReadText(); !errors.Is(err, io.EOF) {
		t.Errorf("at the end: %v, want EOF", err)
	}
	if got := controls(); len(got) != 1 || got[0] != "pong p1" {
		t.Errorf("control frames %q, want one pong with the ping's payload", got)
	}
}

// TestWSReaderClose: the client's close is answered with its code and
// ends reading with that code; without a code the answer has none.
func TestWSReaderClose(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		payload []byte
		code    int
		answer  string
	}{
		{"with code", []byte{0x0B, 0xB9, 'b', 'y', 'e'}, 3001, "close 3001 "},
		{"no code", nil, closeNoStatus, "close "},
	} {
		c, controls := readerFor(t, clientFrame(true, 0x8, tc.payload), 0)
		_, err := c.ReadText()
		var ce *wsCloseError
		if !errors.As(err, &ce) || ce.code != tc.code {
			t.Errorf("%s: ReadText = %v, want a close with %d", tc.name, err, tc.code)
		}
		if got := controls(); len(got) != 1 || got[0] != tc.answer {
			t.Errorf("%s: answers %q, want %q", tc.name, got, tc.answer)
		}
	}
}

// TestWSReaderProtocolErrors: each frame RFC 6455 forbids is answered with
// a 1002 close (1007 for a close reason that is not UTF-8) and ends
// reading with errWSProtocol.
func TestWSReaderProtocolErrors(t *testing.T) {
	t.Parallel()
	unmasked := []byte{0x81, 0x02, 'h', 'i'}
	for _, tc := range []struct {
		name   string
		stream []byte
		answer string
	}{
		{"unmasked", unmasked, "close 1002 unmasked client frame"},
		{"reserved bits", append([]byte{0xC1}, clientFrame(true, 0x1, []byte("x"))[1:]...), "close 1002 reserved bits set"},
		{"continuation first", clientFrame(true, 0x0, []byte("x")), "close 1002 unexpected frame"},
		{"text inside a message", append(clientFrame(false, 0x1, []byte("a")), clientFrame(true, 0x1, []byte("b"))...), "close 1002 unexpected frame"},
		{"unknown opcode", clientFrame(true, 0x3, nil), "close 1002 unexpected frame"},
		{"long control frame", clientFrame(true, 0x9, bytes.Repeat([]byte("p"), 126)), "close 1002 control frame too long"},
		{"unknown control opcode", clientFrame(true, 0xB, nil), "close 1002 unknown control opcode"},
		{"close of one byte", clientFrame(true, 0x8, []byte{3}), "close 1002 close frame of one byte"},
		{"invalid close code", clientFrame(true, 0x8, []byte{0x03, 0xED}), "close 1002 invalid close code"}, // 1005
		{"close reason not UTF-8", clientFrame(true, 0x8, []byte{0x03, 0xE8, 0xff}), "close 1007 "},
		{"64-bit length overflow", []byte{0x81, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, "close 1002 frame too long"},
	} {
		c, controls := readerFor(t, tc.stream, 0)
		if _, err := c.ReadText(); !errors.Is(err, errWSProtocol) {
			t.Errorf("%s: ReadText = %v, want errWSProtocol", tc.name, err)
		}
		if got := controls(); len(got) != 1 || got[0] != tc.answer {
			t.Errorf("%s: answers %q, want %q", tc.name, got, tc.answer)
		}
	}
}

// TestWSReaderLimit: a message over the limit, whole or fragmented, is
// errMessageTooBig as soon as a header declares a length that goes over
// it, before its payload is read: a header declaring 2^62 bytes is
// refused at once, not waited on.
func TestWSReaderLimit(t *testing.T) {
	t.Parallel()
	fragmented := append(clientFrame(false, 0x1, bytes.Repeat([]byte("b"), 8)),
		clientFrame(true, 0x0, bytes.Repeat([]byte("b"), 8))...) // over: 16 > 10
	huge := []byte{0x81, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4} // 2^62 bytes declared, none sent
	for _, tc := range []struct {
		name   string
		stream []byte
	}{
		{"whole", clientFrame(true, 0x1, bytes.Repeat([]byte("a"), 20))},
		{"fragmented", fragmented},
		{"2^62 declared", huge},
	} {
		server, client := net.Pipe()
		go func() { _, _ = client.Write(tc.stream) }() // and stays open: nothing more comes
		c := newWSConn(server, time.Hour)
		c.SetReadLimit(10)
		done := make(chan error, 1)
		go func() { _, err := c.ReadText(); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, errMessageTooBig) {
				t.Errorf("%s: %v, want errMessageTooBig", tc.name, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: ReadText still waits for the payload of a message over the limit", tc.name)
		}
		_ = server.Close()
		_ = client.Close()
	}
}

// TestWSReaderStrict: RFC 6455 cases a lenient reader gets wrong. A text
// message that is not UTF-8 (whole, or split inside a character across
// fragments and then invalid) is closed with 1007 and never returned; a
// ping split into fragments is closed with 1002 and never answered.
func TestWSReaderStrict(t *testing.T) {
	t.Parallel()
	euro := []byte("\u20ac") // 3 bytes
	for _, tc := range []struct {
		name   string
		stream []byte
		answer string
	}{
		{"invalid UTF-8", clientFrame(true, 0x1, []byte{'a', 0xff, 'b'}), "close 1007 invalid UTF-8"},
		{"truncated character", clientFrame(true, 0x1, euro[:2]), "close 1007 invalid UTF-8"},
		{"invalid across fragments", append(clientFrame(false, 0x1, euro[:1]), clientFrame(true, 0x0, []byte("zz"))...), "close 1007 invalid UTF-8"},
		{"fragmented ping", append(clientFrame(false, 0x9, []byte("p")), clientFrame(true, 0x0, []byte("q"))...), "close 1002 fragmented control frame"},
		{"fragmented close", clientFrame(false, 0x8, []byte{0x03, 0xE8}), "close 1002 fragmented control frame"},
	} {
		c, controls := readerFor(t, tc.stream, 0)
		p, err := c.ReadText()
		if !errors.Is(err, errWSProtocol) {
			t.Errorf("%s: ReadText = %q, %v, want errWSProtocol", tc.name, p, err)
		}
		if got := controls(); len(got) != 1 || got[0] != tc.answer {
			t.Errorf("%s: answers %q, want only %q", tc.name, got, tc.answer)
		}
	}
	// A character split across fragments is fine once whole.
	c, _ := readerFor(t, append(clientFrame(false, 0x1, euro[:1]), clientFrame(true, 0x0, euro[1:])...), 0)
	if p, err := c.ReadText(); err != nil || !bytes.Equal(p, euro) {
		t.Errorf("a character split across fragments: %q, %v", p, err)
	}
}

// FuzzWSReader: any byte stream ends in a message, an error or EOF, never
// a panic or a hang, and never a message over the limit.
func FuzzWSReader(f *testing.F) {
	f.Add(clientFrame(true, 0x1, []byte("hello")))
	f.Add(append(clientFrame(false, 0x1, []byte("a")), clientFrame(true, 0x0, []byte("b"))...))
	f.Add(clientFrame(true, 0x8, []byte{0x03, 0xE8}))
	f.Add([]byte{0x81, 0xFE, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, stream []byte) {
		c, _ := readerFor(t, stream, 300)
		for range 100 {
			p, err := c.ReadText()
			if err != nil {
				return
			}
			if len(p) > 300 {
				t.Fatalf("message of %d bytes over the 300-byte limit", len(p))
			}
		}
	})
}

// FuzzWSReaderControl drives the control-frame and UTF-8 paths: a stream
// of frames built from the input (opcode, final bit and payload of each)
// must never yield a text message that is not UTF-8, never answer a ping
// that was not final, answer each final ping with a pong carrying its
// payload, write nothing after a close, and end with a close whenever it
// ends with a protocol error.
func FuzzWSReaderControl(f *testing.F) {
	f.Add([]byte{0x89, 1, 'p', 0x81, 2, 0xce, 0xbb})           // ping, then text "λ"
	f.Add([]byte{0x09, 1, 'p', 0x80, 1, 'q'})                  // fragmented ping
	f.Add([]byte{0x01, 1, 0xe2, 0x80, 2, 0x82, 0xac})          // "€" split across fragments
	f.Add([]byte{0x81, 2, 0xc3, 0x28})                         // invalid UTF-8
	f.Add([]byte{0x88, 3, 0x03, 0xe8, 0xff})                   // close reason not UTF-8
	f.Add([]byte{0x89, 0, 0x89, 0, 0x89, 0, 0x8A, 0, 0x88, 0}) // pings, a pong, a close
	f.Fuzz(func(t *testing.T, in []byte) {
		var stream []byte
		var pings []string // payloads of the final pings, in order
		for len(in) >= 2 {
			b0, n := in[0], int(in[1])
			in = in[2:]
			n = min(n, len(in))
			fin, op := b0&0x80 != 0, b0&0x0f
			stream = append(stream, clientFrame(fin, op, in[:n])...)
			if op == 0x9 && fin && n <= 125 {
				pings = append(pings, "pong "+string(in[:n]))
			}
			in = in[n:]
		}
		c, controls := readerFor(t, stream, 1<<16)
		var err error
		for range 1000 {
			var p []byte
			if p, err = c.ReadText(); err != nil {
				break
			}
			if !utf8.Valid(p) {
				t.Fatalf("text message %q is not UTF-8", p)
			}
		}
		got := controls()
		for i, ans := range got {
			closing := strings.HasPrefix(ans, "close")
			if closing && i != len(got)-1 {
				t.Fatalf("answers %q: something after the close", got)
			}
			if !closing && (i >= len(pings) || ans != pings[i]) {
				t.Fatalf("answer %d %q: the pings were %q", i, ans, pings)
			}
		}
		if errors.Is(err, errWSProtocol) && (len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "close")) {
			t.Fatalf("protocol error %v answered with %q, want a close", err, got)
		}
	})
}
