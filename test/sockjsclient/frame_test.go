package sockjsclient

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseFrame(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Frame
		bad  bool
	}{
		{name: "open", in: "o", want: Frame{Type: FrameOpen}},
		{name: "heartbeat", in: "h", want: Frame{Type: FrameHeartbeat}},
		{name: "one message", in: `a["x"]`, want: Frame{Type: FrameMessages, Messages: []string{"x"}}},
		{name: "messages", in: `a["a","b\"c","\u2028\\",""]`,
			want: Frame{Type: FrameMessages, Messages: []string{"a", `b"c`, "\u2028\\", ""}}},
		{name: "escaped unicode", in: `a["\u200c\ufff0\ud83d\ude00\u0000"]`,
			want: Frame{Type: FrameMessages, Messages: []string{"\u200c\ufff0😀\x00"}}},
		{name: "empty array", in: `a[]`, want: Frame{Type: FrameMessages, Messages: []string{}}},
		{name: "close", in: `c[3000,"Go away!"]`, want: Frame{Type: FrameClose, Code: 3000, Reason: "Go away!"}},
		{name: "close 2010", in: `c[2010,"Another connection still open"]`,
			want: Frame{Type: FrameClose, Code: 2010, Reason: "Another connection still open"}},
		{name: "close spaces", in: `c[ 1002 , "x" ]`, want: Frame{Type: FrameClose, Code: 1002, Reason: "x"}},
		{name: "empty", in: "", bad: true},
		{name: "open with tail", in: "oo", bad: true},
		{name: "heartbeat newline", in: "h\n", bad: true},
		{name: "prelude", in: "hhhh", bad: true},
		{name: "unknown type", in: `m"x"`, bad: true},
		{name: "a alone", in: "a", bad: true},
		{name: "a null", in: "anull", bad: true},
		{name: "a object", in: `a{"x":1}`, bad: true},
		{name: "a number", in: `a[1]`, bad: true},
		{name: "a broken", in: `a["x"`, bad: true},
		{name: "a trailing", in: `a["x"]x`, bad: true},
		{name: "close one elem", in: `c[3000]`, bad: true},
		{name: "close three elems", in: `c[3000,"a","b"]`, bad: true},
		{name: "close string code", in: `c["3000","a"]`, bad: true},
		{name: "close float code", in: `c[3000.5,"a"]`, bad: true},
		{name: "close null reason", in: `c[3000,null]`, bad: true},
		{name: "close broken", in: `c[3000,"a"`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFrame([]byte(tt.in))
			if tt.bad {
				if !errors.Is(err, ErrBadFrame) {
					t.Fatalf("ParseFrame(%q) = %+v, %v; want ErrBadFrame", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFrame(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseFrame(%q) = %+v; want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestEncodeMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []string
		want string
	}{
		{in: nil, want: `[]`},
		{in: []string{"a", `"\`}, want: `["a","\"\\"]`},
		{in: []string{"\x00\u2028"}, want: `["\u0000\u2028"]`},
	}
	for _, tt := range tests {
		got, err := encodeMessages(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("encodeMessages(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{"o", "h", `a["x","y"]`, `c[3000,"Go away!"]`, "a[", `c[1,""]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ParseFrame(data)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error %v does not wrap ErrBadFrame", err)
			}
			return
		}
		if FrameType(data[0]) != fr.Type {
			t.Fatalf("type %q for %q", fr.Type, data)
		}
	})
}

func BenchmarkParseFrame(b *testing.B) {
	frame := []byte(`a["{\"type\":\"message\",\"room\":\"lobby\",\"nick\":\"ann\",\"text\":\"hello there\",\"ts\":1700000000000}"]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := ParseFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// A query in the base URL is kept on every request, before the
// transport's own parameters, as sockjs-client keeps it.
func TestBaseURLQueryKept(t *testing.T) {
	t.Parallel()
	c, err := newConn("http://127.0.0.1:1/echo?token=a%2Bb&x=1", Options{ServerID: "000", SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.sessionURL != "http://127.0.0.1:1/echo/000/s" {
		t.Errorf("session URL %s", c.sessionURL)
	}
	for _, tc := range []struct{ u, extra, want string }{
		{c.sessionURL + "/xhr", "", "http://127.0.0.1:1/echo/000/s/xhr?token=a%2Bb&x=1"},
		{c.sessionURL + "/jsonp", "c=cb", "http://127.0.0.1:1/echo/000/s/jsonp?token=a%2Bb&x=1&c=cb"},
	} {
		if got := c.withQuery(tc.u, tc.extra); got != tc.want {
			t.Errorf("withQuery(%s, %q) = %s, want %s", tc.u, tc.extra, got, tc.want)
		}
	}
	if got := c.websocketURL(); got != "ws://127.0.0.1:1/echo/000/s/websocket?token=a%2Bb&x=1" {
		t.Errorf("websocket URL %s", got)
	}
	plain, _ := newConn("http://127.0.0.1:1/echo", Options{})
	if got := plain.withQuery("http://h/x", ""); got != "http://h/x" {
		t.Errorf("without a query: %s", got)
	}
}
