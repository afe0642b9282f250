package sockjsclient

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// decodeAll runs a fresh decoder of kind over body and collects the frames.
func decodeAll(t *testing.T, newDec func(*lineReader) frameDecoder, body string) ([]string, error) {
	t.Helper()
	// A small buffer exercises the long-line path.
	lr := &lineReader{br: bufio.NewReaderSize(strings.NewReader(body), 16)}
	dec := newDec(lr)
	dec.reset()
	var frames []string
	for {
		f, err := dec.next()
		if errors.Is(err, io.EOF) {
			return frames, nil
		}
		if err != nil {
			return frames, err
		}
		frames = append(frames, string(f))
	}
}

type decoderCase struct {
	name string
	body string
	want []string
	err  error // wrapped by the error expected after want
}

func runDecoderCases(t *testing.T, newDec func(*lineReader) frameDecoder, tests []decoderCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeAll(t, newDec, tt.body)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("frames = %q; want %q", got, tt.want)
			}
			switch {
			case tt.err == nil && err != nil:
				t.Errorf("error %v; want none", err)
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Errorf("error %v; want %v", err, tt.err)
			}
		})
	}
}

var prelude = strings.Repeat("h", 2048) + "\n"

func TestXHRDecoder(t *testing.T) {
	t.Parallel()
	poll := func(lr *lineReader) frameDecoder { return &xhrDecoder{lr: lr} }
	stream := func(lr *lineReader) frameDecoder { return &xhrDecoder{lr: lr, streaming: true} }
	long := `a["` + strings.Repeat("x", 100) + `"]`
	t.Run("polling", func(t *testing.T) {
		t.Parallel()
		runDecoderCases(t, poll, []decoderCase{
			{name: "open", body: "o\n", want: []string{"o"}},
			{name: "several", body: "a[\"x\"]\nh\nc[3000,\"Go away!\"]\n",
				want: []string{`a["x"]`, "h", `c[3000,"Go away!"]`}},
			{name: "long line", body: long + "\n", want: []string{long}},
			{name: "empty body", body: ""},
			{name: "truncated", body: "o\na[\"x", want: []string{"o"}, err: io.ErrUnexpectedEOF},
		})
	})
	t.Run("streaming", func(t *testing.T) {
		t.Parallel()
		runDecoderCases(t, stream, []decoderCase{
			{name: "prelude and frames", body: prelude + "o\nh\n" + long + "\n", want: []string{"o", "h", long}},
			{name: "prelude only", body: prelude},
			{name: "no prelude", body: "o\n", err: ErrBadFrame},
			{name: "truncated prelude", body: "hhhh", err: io.ErrUnexpectedEOF},
		})
	})
}

func TestEventSourceDecoder(t *testing.T) {
	t.Parallel()
	es := func(lr *lineReader) frameDecoder { return &eventSourceDecoder{lr: lr} }
	runDecoderCases(t, es, []decoderCase{
		{name: "prelude and open", body: "\r\ndata: o\r\n\r\n", want: []string{"o"}},
		{name: "frames", body: "\r\ndata: o\r\n\r\ndata: h\r\n\r\ndata: a[\"x\"]\r\n\r\n",
			want: []string{"o", "h", `a["x"]`}},
		{name: "escapes", body: "\r\ndata: a[\"%25 %0D%0A %00 100%25\"]\r\n\r\n",
			want: []string{"a[\"% \r\n \x00 100%\"]"}},
		{name: "reserved stay escaped", body: "data: a[\"%3B%2f%23\"]\r\n\r\n", want: []string{`a["%3B%2f%23"]`}},
		{name: "utf-8 escapes", body: "data: a[\"%E2%80%A8\"]\r\n\r\n", want: []string{"a[\"\u2028\"]"}},
		{name: "no space after colon", body: "data:o\n\n", want: []string{"o"}},
		{name: "lf only", body: "\ndata: o\n\ndata: h\n\n", want: []string{"o", "h"}},
		{name: "comment and other fields", body: ": hi\r\nid: 1\r\nevent: x\r\ndata: o\r\n\r\n", want: []string{"o"}},
		{name: "multi-line data", body: "data: a\r\ndata: b\r\n\r\n", want: []string{"a\nb"}},
		{name: "blank lines only", body: "\r\n\r\n\r\n"},
		{name: "malformed escape", body: "data: a[\"%zz\"]\r\n\r\n", err: ErrBadFrame},
		{name: "short escape", body: "data: a[\"%2\r\n\r\n", err: ErrBadFrame},
		{name: "invalid utf-8", body: "data: %FF\r\n\r\n", err: ErrBadFrame},
		{name: "unterminated event", body: "\r\ndata: o\r\n", err: io.ErrUnexpectedEOF},
	})
}

func TestHTMLFileDecoder(t *testing.T) {
	t.Parallel()
	hf := func(lr *lineReader) frameDecoder { return &htmlfileDecoder{lr: lr} }
	page := "<!doctype html>\n<html><head>\n</head><body><h2>Don't panic!</h2>\n  <script>\n" +
		"    document.domain = document.domain;\n    var c = parent.cb;\n    c.start();\n" +
		"    function p(d) {c.message(d);};\n  </script>\n" + strings.Repeat(" ", 900) + "\r\n\r\n"
	chunk := func(lit string) string { return "<script>\np(" + lit + ");\n</script>\r\n" }
	runDecoderCases(t, hf, []decoderCase{
		{name: "open", body: page + chunk(`"o"`), want: []string{"o"}},
		{name: "frames", body: page + chunk(`"o"`) + chunk(`"h"`) + chunk(`"a[\"x\\\"y\"]"`) + chunk(`"c[3000,\"Go away!\"]"`),
			want: []string{"o", "h", `a["x\"y"]`, `c[3000,"Go away!"]`}},
		{name: "escaped payload", body: page + chunk(`"a[\"\\u2028\u003c/script\u003e\"]"`),
			want: []string{`a["\u2028</script>"]`}},
		{name: "page only", body: page},
		{name: "bad literal", body: page + chunk(`o`), err: ErrBadFrame},
		{name: "missing end tag", body: page + "<script>\np(\"o\");\n", err: io.ErrUnexpectedEOF},
		{name: "wrong end tag", body: page + "<script>\np(\"o\");\n</scrip>\r\n", err: ErrBadFrame},
		{name: "missing semicolon", body: page + "<script>\np(\"o\")\n</script>\r\n", err: ErrBadFrame},
	})
}

func TestJSONPDecoder(t *testing.T) {
	t.Parallel()
	jp := func(lr *lineReader) frameDecoder { return &jsonpDecoder{lr: lr, callback: "_jp.a1"} }
	runDecoderCases(t, jp, []decoderCase{
		{name: "open", body: "/**/_jp.a1(\"o\");\r\n", want: []string{"o"}},
		{name: "without comment", body: "_jp.a1(\"o\");\r\n", want: []string{"o"}},
		{name: "messages", body: "/**/_jp.a1(\"a[\\\"x\\\\u2028\\\"]\");\r\n", want: []string{`a["x\u2028"]`}},
		{name: "several", body: "/**/_jp.a1(\"h\");\r\n/**/_jp.a1(\"c[2010,\\\"Another connection still open\\\"]\");\r\n",
			want: []string{"h", `c[2010,"Another connection still open"]`}},
		{name: "wrong callback", body: "/**/cb(\"o\");\r\n", err: ErrBadFrame},
		{name: "no call", body: "o\r\n", err: ErrBadFrame},
		{name: "not a string", body: "/**/_jp.a1(o);\r\n", err: ErrBadFrame},
		{name: "truncated", body: "/**/_jp.a1(\"o\"", err: io.ErrUnexpectedEOF},
	})
}

func TestDecodeURI(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"%25%0A%0d%00", "%\n\r\x00"},
		{"%3b%40", "%3b%40"},
		{"%C3%A9", "é"},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := decodeURI(nil, []byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("decodeURI(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzEventSourceDecoder(f *testing.F) {
	f.Add("\r\ndata: o\r\n\r\ndata: a[\"%25\"]\r\n\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		lr := &lineReader{br: bufio.NewReaderSize(strings.NewReader(body), 16)}
		dec := &eventSourceDecoder{lr: lr}
		for range 1000 {
			if _, err := dec.next(); err != nil {
				return
			}
		}
	})
}
