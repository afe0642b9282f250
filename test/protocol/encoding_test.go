package protocol

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// serverEscapes are the code points a server must send as \uXXXX
// (escapable_by_server in the official suite, from U+00FF up).
var serverEscapes = [][2]rune{
	{0x200c, 0x200f}, {0x2028, 0x202f}, {0x2060, 0x206f}, {0xfff0, 0xffff},
}

// clientEscapes are the code points sockjs-client escapes when sending
// (escapable_by_client in the official suite).
var clientEscapes = [][2]rune{
	{0x0000, 0x001f}, {0x0022, 0x0022}, {0x007f, 0x009f}, {0x00ad, 0x00ad}, {0x0300, 0x0333},
	{0x033d, 0x0346}, {0x034a, 0x034c}, {0x0350, 0x0352}, {0x0357, 0x0358}, {0x035c, 0x0362},
	{0x0374, 0x0374}, {0x037e, 0x037e}, {0x0387, 0x0387}, {0x0591, 0x05af}, {0x05c4, 0x05c4},
	{0x0600, 0x0604}, {0x0610, 0x0617}, {0x0653, 0x0654}, {0x0657, 0x065b}, {0x065d, 0x065e},
	{0x06df, 0x06e2}, {0x06eb, 0x06ec}, {0x070f, 0x070f}, {0x0730, 0x0730}, {0x0732, 0x0733},
	{0x0735, 0x0736}, {0x073a, 0x073a}, {0x073d, 0x073d}, {0x073f, 0x0741}, {0x0743, 0x0743},
	{0x0745, 0x0745}, {0x0747, 0x0747}, {0x07eb, 0x07f1}, {0x0951, 0x0951}, {0x0958, 0x095f},
	{0x09dc, 0x09dd}, {0x09df, 0x09df}, {0x0a33, 0x0a33}, {0x0a36, 0x0a36}, {0x0a59, 0x0a5b},
	{0x0a5e, 0x0a5e}, {0x0b5c, 0x0b5d}, {0x0e38, 0x0e39}, {0x0f43, 0x0f43}, {0x0f4d, 0x0f4d},
	{0x0f52, 0x0f52}, {0x0f57, 0x0f57}, {0x0f5c, 0x0f5c}, {0x0f69, 0x0f69}, {0x0f72, 0x0f76},
	{0x0f78, 0x0f78}, {0x0f80, 0x0f83}, {0x0f93, 0x0f93}, {0x0f9d, 0x0f9d}, {0x0fa2, 0x0fa2},
	{0x0fa7, 0x0fa7}, {0x0fac, 0x0fac}, {0x0fb9, 0x0fb9}, {0x17b4, 0x17b5}, {0x1939, 0x193a},
	{0x1a17, 0x1a17}, {0x1b6b, 0x1b6b}, {0x1cda, 0x1cdb}, {0x1dc0, 0x1dcf}, {0x1dfc, 0x1dfc},
	{0x1dfe, 0x1dfe}, {0x1f71, 0x1f71}, {0x1f73, 0x1f73}, {0x1f75, 0x1f75}, {0x1f77, 0x1f77},
	{0x1f79, 0x1f79}, {0x1f7b, 0x1f7b}, {0x1f7d, 0x1f7d}, {0x1fbb, 0x1fbb}, {0x1fbe, 0x1fbe},
	{0x1fc9, 0x1fc9}, {0x1fcb, 0x1fcb}, {0x1fd3, 0x1fd3}, {0x1fdb, 0x1fdb}, {0x1fe3, 0x1fe3},
	{0x1feb, 0x1feb}, {0x1fee, 0x1fef}, {0x1ff9, 0x1ff9}, {0x1ffb, 0x1ffb}, {0x1ffd, 0x1ffd},
	{0x2000, 0x20ff}, {0x2126, 0x2126}, {0x212a, 0x212b}, {0x2329, 0x232a}, {0x2adc, 0x2adc},
	{0x302b, 0x302c}, {0xaab2, 0xaab3}, {0xf900, 0xfa0d}, {0xfa10, 0xfa10}, {0xfa12, 0xfa12},
	{0xfa15, 0xfa1e}, {0xfa20, 0xfa20}, {0xfa22, 0xfa22}, {0xfa25, 0xfa26}, {0xfa2a, 0xfa2d},
	{0xfa30, 0xfa6d}, {0xfa70, 0xfad9}, {0xfb1d, 0xfb1d}, {0xfb1f, 0xfb1f}, {0xfb2a, 0xfb36},
	{0xfb38, 0xfb3c}, {0xfb3e, 0xfb3e}, {0xfb40, 0xfb41}, {0xfb43, 0xfb44}, {0xfb46, 0xfb4e},
	{0xfeff, 0xfeff}, {0xfff0, 0xffff},
}

// escaped spells every code point of ranges as a lower-case \uXXXX escape.
func escaped(ranges [][2]rune) string {
	var b strings.Builder
	for _, r := range ranges {
		for c := r[0]; c <= r[1]; c++ {
			fmt.Fprintf(&b, `\u%04x`, c)
		}
	}
	return b.String()
}

// raw spells every code point of ranges as UTF-8.
func raw(ranges [][2]rune) string {
	var b strings.Builder
	for _, r := range ranges {
		for c := r[0]; c <= r[1]; c++ {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Official: JSONEncoding.test_xhr_server_encodes: the server sends the
// escapable ranges as lower-case \uXXXX, exactly.
func TestJSONServerEncodes(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	poll(t, s, "o\n")
	xhrSend(t, s, `["`+raw(serverEscapes)+`"]`)
	poll(t, s, `a["`+escaped(serverEscapes)+`"]`+"\n")
}

// SOCKJS.md: the same escaping holds on websocket frames.
func TestJSONServerEncodesWebsocket(t *testing.T) {
	t.Parallel()
	c := wsDial(t, sess("/echo")+"/websocket")
	eq(t, "websocket", wsRead(t, c), "o")
	wsWrite(t, c, `["`+raw(serverEscapes)+`"]`)
	eq(t, "websocket", wsRead(t, c), `a["`+escaped(serverEscapes)+`"]`)
}

// Official: JSONEncoding.test_xhr_server_decodes: whatever the client
// escapes, the server decodes (and may re-encode as it likes).
func TestJSONServerDecodes(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	poll(t, s, "o\n")
	sent := `"` + escaped(clientEscapes) + `"`
	xhrSend(t, s, "["+sent+"]")
	r := do(t, "POST", s+"/xhr", nil, "")
	body := strings.TrimSpace(r.body)
	if !strings.HasPrefix(body, "a[") || !strings.HasSuffix(body, "]") {
		t.Fatalf("%s: body %q is not an a[...] frame", r.req, clip(body))
	}
	var got, want string
	if err := json.Unmarshal([]byte(body[2:len(body)-1]), &got); err != nil {
		t.Fatalf("%s: frame does not hold one JSON string: %v", r.req, err)
	}
	_ = json.Unmarshal([]byte(sent), &want)
	if got != want {
		t.Errorf("%s: echoed string differs from the sent one (%d vs %d runes)",
			r.req, utf8.RuneCountInString(got), utf8.RuneCountInString(want))
	}
	// What the server sends must also follow its own escaping rule.
	for _, rg := range serverEscapes {
		for c := rg[0]; c <= rg[1]; c++ {
			if strings.ContainsRune(body, c) {
				t.Errorf("%s: U+%04X sent raw, want \\u%04x", r.req, c, c)
			}
		}
	}
	for i := 0; i+6 <= len(body); i++ {
		switch {
		case body[i] != '\\':
		case body[i+1] == 'u':
			if hex := body[i+2 : i+6]; hex != strings.ToLower(hex) {
				t.Errorf("%s: escape \\u%s is not lower-case hex", r.req, hex)
				return
			}
			i += 5
		default:
			i++ // \\, \" and the like
		}
	}
}

// SOCKJS.md: escapes from the client are decoded on every sending path.
func TestJSONServerDecodesJSONPAndWebsocket(t *testing.T) {
	t.Parallel()
	const sent, want = `["\u0041\u00e9\ud83d\ude00\n\"\\\/"]`, "A\u00e9\U0001F600\n\"\\/"
	s := sess("/echo")
	jsonp(t, s, "/**/x(\"o\");\r\n")
	jsonpSend(t, s, "text/plain", sent)
	r := do(t, "GET", s+"/jsonp?c=x", nil, "")
	var frame string
	lit := strings.TrimSuffix(strings.TrimPrefix(r.body, "/**/x("), ");\r\n")
	if err := json.Unmarshal([]byte(lit), &frame); err != nil {
		t.Fatalf("%s: body %q: %v", r.req, r.body, err)
	}
	var msgs []string
	if err := json.Unmarshal([]byte(strings.TrimPrefix(frame, "a")), &msgs); err != nil || len(msgs) != 1 {
		t.Fatalf("%s: frame %q is not a[one string]: %v", r.req, frame, err)
	}
	eq(t, "jsonp echo of escaped input", msgs[0], want)

	c := wsDial(t, sess("/echo")+"/websocket")
	eq(t, "websocket", wsRead(t, c), "o")
	wsWrite(t, c, sent)
	got := wsRead(t, c)
	msgs = nil
	if err := json.Unmarshal([]byte(strings.TrimPrefix(got, "a")), &msgs); err != nil || len(msgs) != 1 {
		t.Fatalf("websocket frame %q is not a[one string]: %v", got, err)
	}
	eq(t, "websocket echo of escaped input", msgs[0], want)
}
