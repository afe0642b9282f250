package engine

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendQuoted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"", `""`},
		{"plain", `"plain"`},
		{`quote " and \ backslash`, `"quote \" and \\ backslash"`},
		{"nl\n cr\r tab\t bs\b ff\f nul\x00 us\x1f", `"nl\n cr\r tab\t bs\b ff\f nul\u0000 us\u001f"`},
		{"\u200c\u200f\u2028\u2029\u202f\u2060\u206f\ufff0\uffff", `"\u200c\u200f\u2028\u2029\u202f\u2060\u206f\ufff0\uffff"`},
		{"한국어 😀 é", `"한국어 😀 é"`},
		{"\u200b\u2030\u205f\ufeff", "\"\u200b\u2030\u205f\ufeff\""},
		{"bad \xff byte", `"bad \ufffd byte"`},
		{"lone \xed\xa0\x80 surrogate", `"lone \ud800 surrogate"`},
	}
	for _, tt := range tests {
		if got := string(AppendQuoted(nil, tt.in)); got != tt.want {
			t.Errorf("AppendQuoted(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFrames(t *testing.T) {
	t.Parallel()
	if got := string(CloseFrame(3000, "Go away!")); got != `c[3000,"Go away!"]` {
		t.Errorf("CloseFrame = %s", got)
	}
	if got := string(MessageFrame("a", "b\"")); got != `a["a","b\""]` {
		t.Errorf("MessageFrame = %s", got)
	}
}

func TestDecodeMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
		err  error
	}{
		{`["a","b"]`, []string{"a", "b"}, nil},
		{` [ "a" , "b" ] `, []string{"a", "b"}, nil},
		{`[]`, nil, nil},
		{`["\u0041\n\"\\\/\b\f\r\t"]`, []string{"A\n\"\\/\b\f\r\t"}, nil},
		{`["\ud83d\ude00"]`, []string{"😀"}, nil},
		{`["\ud800"]`, []string{"\xed\xa0\x80"}, nil},
		{`["한국어"]`, []string{"한국어"}, nil},
		{``, nil, ErrPayloadExpected},
		{"  \n", nil, ErrPayloadExpected},
		{`["a`, nil, ErrBrokenJSON},
		{`["a"`, nil, ErrBrokenJSON},
		{`["a",]`, nil, ErrBrokenJSON},
		// Well-formed JSON of another shape: "Payload expected." as on
		// the reference server.
		{`[1]`, nil, ErrPayloadExpected},
		{`{"a":1}`, nil, ErrPayloadExpected},
		{`"a"`, nil, ErrPayloadExpected},
		{`null`, nil, ErrPayloadExpected},
		{`["a"] x`, nil, ErrBrokenJSON},
		{`["\x"]`, nil, ErrBrokenJSON},
		{`["\u12"]`, nil, ErrBrokenJSON},
	}
	for _, tt := range tests {
		got, err := DecodeMessages([]byte(tt.in))
		if !errors.Is(err, tt.err) {
			t.Errorf("DecodeMessages(%q) error = %v, want %v", tt.in, err, tt.err)
			continue
		}
		if strings.Join(got, "\x01") != strings.Join(tt.want, "\x01") || len(got) != len(tt.want) {
			t.Errorf("DecodeMessages(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodeWebsocketMessage(t *testing.T) {
	t.Parallel()
	if m, err := DecodeWebsocketMessage([]byte(`"a"`)); err != nil || len(m) != 1 || m[0] != "a" {
		t.Errorf("bare string: %q, %v", m, err)
	}
	if m, err := DecodeWebsocketMessage(nil); err != nil || m != nil {
		t.Errorf("empty: %q, %v", m, err)
	}
	if _, err := DecodeWebsocketMessage([]byte(`["a`)); !errors.Is(err, ErrBrokenJSON) {
		t.Errorf("broken: %v", err)
	}
}

// TestAllCodePointsRoundTrip sends every BMP code point, escaped as a
// client would, and checks it comes back identical after re-encoding.
func TestAllCodePointsRoundTrip(t *testing.T) {
	t.Parallel()
	var in strings.Builder
	in.WriteString(`["`)
	for r := 0; r < 0x10000; r++ {
		in.WriteString(`\u`)
		in.WriteString(string([]byte{hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf]}))
	}
	in.WriteString(`"]`)
	msgs, err := DecodeMessages([]byte(in.String()))
	if err != nil || len(msgs) != 1 {
		t.Fatalf("decode: %v", err)
	}
	out := AppendQuoted(nil, msgs[0])
	again, err := DecodeMessages(append(append([]byte{'['}, out...), ']'))
	if err != nil || again[0] != msgs[0] {
		t.Fatalf("round trip changed the string (err %v)", err)
	}
	if !utf8.Valid(out) {
		t.Fatal("encoded output is not valid UTF-8")
	}
}

func FuzzDecodeMessages(f *testing.F) {
	for _, s := range []string{`["a","b"]`, `[]`, ``, `["\ud800\udc00"]`, `["a`, `[1]`, `{"d":1}`, `["\u2028"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		msgs, err := DecodeMessages(p)
		if err != nil {
			if !errors.Is(err, ErrBrokenJSON) && !errors.Is(err, ErrPayloadExpected) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		// Whatever decodes must survive a round trip through the encoder.
		var b []byte
		b = append(b, '[')
		for i, m := range msgs {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendQuoted(b, m)
		}
		b = append(b, ']')
		again, err := DecodeMessages(b)
		if err != nil || len(again) != len(msgs) {
			t.Fatalf("re-decode of %q: %v", b, err)
		}
		// Valid JSON input must agree with encoding/json on valid UTF-8.
		var std []string
		if json.Unmarshal(p, &std) == nil && utf8.Valid(p) && len(std) == len(msgs) {
			for i := range std {
				if utf8.ValidString(msgs[i]) && std[i] != msgs[i] {
					t.Fatalf("message %d: got %q, encoding/json %q", i, msgs[i], std[i])
				}
			}
		}
	})
}

func FuzzQuotedRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a", "\u2028", "한국어", "\x00\"\\", "\xff", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := AppendQuoted(nil, s)
		if !utf8.Valid(q) {
			t.Fatalf("AppendQuoted(%q) is not valid UTF-8", s)
		}
		var std string
		if err := json.Unmarshal(q, &std); err != nil {
			t.Fatalf("AppendQuoted(%q) = %s is not JSON: %v", s, q, err)
		}
		msgs, err := DecodeMessages(append(append([]byte{'['}, q...), ']'))
		if err != nil || len(msgs) != 1 {
			t.Fatalf("decode %s: %v", q, err)
		}
		if utf8.ValidString(s) && msgs[0] != s {
			t.Fatalf("round trip %q -> %q", s, msgs[0])
		}
	})
}
