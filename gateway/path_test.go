package gateway

import "testing"

func TestParsePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rest string
		kind pathKind
		sp   sessionPath
	}{
		{"", pathGreeting, sessionPath{}},
		{"/", pathGreeting, sessionPath{}},
		{"/info", pathInfo, sessionPath{}},
		{"/websocket", pathRawWebsocket, sessionPath{}},
		{"/iframe.html", pathIframe, sessionPath{}},
		{"/iframe-.html", pathIframe, sessionPath{}},
		{"/iframe-0.1.2abc-dirty.2144.html", pathIframe, sessionPath{}},
		{"/iframe-/.html", pathNotFound, sessionPath{}},
		{"/iframe.htm", pathNotFound, sessionPath{}},
		{"/IFRAME.HTML", pathNotFound, sessionPath{}},
		{"/a", pathNotFound, sessionPath{}},
		{"//", pathNotFound, sessionPath{}},
		{"/a/a/", pathNotFound, sessionPath{}},
		{"/a/a/a/a", pathNotFound, sessionPath{}},
		{"/a.b/c/xhr", pathNotFound, sessionPath{}},
		{"/a/c.d/xhr", pathNotFound, sessionPath{}},
		{"/../../xhr", pathNotFound, sessionPath{}},
		{"/000/abc/xhr", pathSession, sessionPath{"000", "abc", "xhr"}},
	}
	for _, tt := range tests {
		kind, sp := parsePath(tt.rest)
		if kind != tt.kind || sp != tt.sp {
			t.Errorf("parsePath(%q) = %v %+v, want %v %+v", tt.rest, kind, sp, tt.kind, tt.sp)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"", "/", "/info", "/a/b/xhr", "/iframe-1.html", "//", "/a/b/c/d", "/a.b/c/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		kind, sp := parsePath(rest)
		if kind != pathSession {
			return
		}
		want := "/" + sp.server + "/" + sp.session + "/" + sp.transport
		if want != rest || !validSegment(sp.server) || !validSegment(sp.session) || sp.transport == "" {
			t.Fatalf("parsePath(%q) accepted %+v", rest, sp)
		}
	})
}

func TestValidCallback(t *testing.T) {
	t.Parallel()
	for cb, want := range map[string]bool{
		"callback": true, "a.b_c-1": true, "": false, "a b": false, "alert(1)": false,
		"</script>": false, "x;y": false, "\u00e9": false,
	} {
		if got := validCallback(cb); got != want {
			t.Errorf("validCallback(%q) = %v, want %v", cb, got, want)
		}
	}
}

func FuzzValidCallback(f *testing.F) {
	for _, s := range []string{"cb", "a.b", "x(1)", "<script>", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cb string) {
		if !validCallback(cb) {
			return
		}
		for _, c := range []byte(cb) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				t.Fatalf("validCallback accepted %q", cb)
			}
		}
	})
}
