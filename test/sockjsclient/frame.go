package sockjsclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// FrameType is the first byte of a SockJS frame.
type FrameType byte

// The SockJS frame types.
const (
	FrameOpen      FrameType = 'o'
	FrameHeartbeat FrameType = 'h'
	FrameMessages  FrameType = 'a'
	FrameClose     FrameType = 'c'
)

// Frame is one decoded server-to-client frame. On the raw websocket every
// text message is reported as a FrameMessages frame holding one message, and
// every ping as a FrameHeartbeat.
type Frame struct {
	Type     FrameType
	Messages []string // FrameMessages only
	Code     int      // FrameClose only
	Reason   string   // FrameClose only
}

// CloseError is returned by Recv (and Dial) when the server closes the
// session with a c[code,"reason"] frame, or, on the raw websocket, with a
// websocket close message.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("sockjsclient: session closed: %d %q", e.Code, e.Reason)
}

// ErrBadFrame is wrapped by every frame decoding error.
var ErrBadFrame = errors.New("sockjsclient: bad frame")

// ParseFrame decodes one SockJS frame ("o", "h", `a["m1","m2"]` or
// `c[3000,"Go away!"]`) exactly as the protocol defines it. It does not
// retain data.
func ParseFrame(data []byte) (Frame, error) {
	if len(data) == 0 {
		return Frame{}, fmt.Errorf("%w: empty", ErrBadFrame)
	}
	t := FrameType(data[0])
	switch t {
	case FrameOpen, FrameHeartbeat:
		if len(data) != 1 {
			return Frame{}, badFrame(data)
		}
		return Frame{Type: t}, nil
	case FrameMessages:
		return parseMessages(data)
	case FrameClose:
		return parseClose(data)
	}
	return Frame{}, badFrame(data)
}

func parseMessages(data []byte) (Frame, error) {
	if len(data) < 3 || data[1] != '[' {
		return Frame{}, badFrame(data)
	}
	var msgs []string
	if err := json.Unmarshal(data[1:], &msgs); err != nil {
		return Frame{}, fmt.Errorf("%w: %v: %s", ErrBadFrame, err, abbrev(data))
	}
	return Frame{Type: FrameMessages, Messages: msgs}, nil
}

func parseClose(data []byte) (Frame, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(data[1:], &parts); err != nil || len(parts) != 2 {
		return Frame{}, badFrame(data)
	}
	f := Frame{Type: FrameClose}
	if err := json.Unmarshal(parts[0], &f.Code); err != nil {
		return Frame{}, badFrame(data)
	}
	if !bytes.HasPrefix(parts[1], []byte(`"`)) {
		return Frame{}, badFrame(data)
	}
	if err := json.Unmarshal(parts[1], &f.Reason); err != nil {
		return Frame{}, badFrame(data)
	}
	return f, nil
}

func badFrame(data []byte) error {
	return fmt.Errorf("%w: %q", ErrBadFrame, abbrev(data))
}

// abbrev shortens data for error messages.
func abbrev(data []byte) string {
	const max = 80
	if len(data) > max {
		return string(data[:max]) + "..."
	}
	return string(data)
}

// encodeMessages is the client-to-server payload: a JSON array of strings.
func encodeMessages(msgs []string) ([]byte, error) {
	if msgs == nil {
		msgs = []string{}
	}
	b, err := json.Marshal(msgs)
	if err != nil {
		return nil, fmt.Errorf("sockjsclient: encode messages: %w", err)
	}
	return b, nil
}
