package engine

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// Frames with fixed content.
var (
	// OpenFrame starts every session.
	OpenFrame = []byte("o")
	// HeartbeatFrame keeps an idle receiver alive.
	HeartbeatFrame = []byte("h")
)

// Errors of the message decoder; the gateway maps them to SockJS answers.
var (
	// ErrPayloadExpected means an empty body ("Payload expected.").
	ErrPayloadExpected = errors.New("engine: payload expected")
	// ErrBrokenJSON means a body that is not a JSON array of strings
	// ("Broken JSON encoding.").
	ErrBrokenJSON = errors.New("engine: broken JSON encoding")
)

// CloseFrame encodes c[code,"reason"].
func CloseFrame(code int, reason string) []byte {
	b := make([]byte, 0, 16+len(reason))
	b = append(b, "c["...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ',')
	b = AppendQuoted(b, reason)
	return append(b, ']')
}

// MessageFrame encodes a["m1","m2",...].
func MessageFrame(msgs ...string) []byte {
	n := 3
	for _, m := range msgs {
		n += len(m) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, "a["...)
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendQuoted(b, m)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// AppendQuoted appends s to b as a JSON string literal the way SockJS needs
// it: quotes, backslashes and control characters escaped, and the code
// points that break some browsers' parsers (U+200C-U+200F, U+2028-U+202F,
// U+2060-U+206F, U+FFF0-U+FFFF) written as lower-case \uXXXX. Lone UTF-16
// surrogates that DecodeMessages kept (as WTF-8) come out as \udXXX again;
// any other invalid UTF-8 byte becomes \ufffd.
func AppendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = appendASCIIEscape(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			if sr, ok := decodeSurrogate(s[i:]); ok {
				b = appendUnicodeEscape(b, sr)
				size = 3
			} else {
				b = append(b, `\ufffd`...)
			}
			i += size
			start = i
			continue
		}
		if escapedByServer(r) {
			b = append(b, s[start:i]...)
			b = appendUnicodeEscape(b, r)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// escapedByServer reports whether r must travel as \uXXXX.
func escapedByServer(r rune) bool {
	switch {
	case r >= 0x200c && r <= 0x200f, r >= 0x2028 && r <= 0x202f,
		r >= 0x2060 && r <= 0x206f, r >= 0xfff0 && r <= 0xffff:
		return true
	}
	return false
}

func appendASCIIEscape(b []byte, c byte) []byte {
	switch c {
	case '"':
		return append(b, '\\', '"')
	case '\\':
		return append(b, '\\', '\\')
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return appendUnicodeEscape(b, rune(c))
}

func appendUnicodeEscape(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf],
		hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// decodeSurrogate reads a WTF-8 encoded lone surrogate (ED A0-BF 80-BF).
func decodeSurrogate(s string) (rune, bool) {
	if len(s) < 3 || s[0] != 0xed || s[1] < 0xa0 || s[1] > 0xbf || s[2] < 0x80 || s[2] > 0xbf {
		return 0, false
	}
	return 0xd000 | rune(s[1]&0x3f)<<6 | rune(s[2]&0x3f), true
}

// appendWTF8 appends r, which may be a lone surrogate, in (generalised)
// UTF-8 so that AppendQuoted can restore it.
func appendWTF8(b []byte, r rune) []byte {
	if r >= 0xd800 && r <= 0xdfff {
		return append(b, 0xed, byte(0x80|(r>>6)&0x3f), byte(0x80|r&0x3f))
	}
	return utf8.AppendRune(b, r)
}
