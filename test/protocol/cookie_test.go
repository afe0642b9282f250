package protocol

import (
	"net/http"
	"testing"
)

// Official: JsessionidCookie.test_basic.
func TestCookieInfo(t *testing.T) {
	t.Parallel()
	r, in := getInfo(t, "/cookie_needed_echo", nil)
	r.wantStatus(t, http.StatusOK)
	r.wantNoCookie(t)
	if in.CookieNeeded == nil || !*in.CookieNeeded {
		t.Errorf("%s: cookie_needed %v, want true (body %s)", r.req, in.CookieNeeded, r.body)
	}
}

// Official: JsessionidCookie.test_xhr, test_xhr_streaming,
// test_eventsource, test_htmlfile, test_jsonp: every session response sets
// JSESSIONID=dummy; path=/, or echoes the client's own JSESSIONID.
func TestCookieTransports(t *testing.T) {
	t.Parallel()
	for _, own := range []string{"", "abcdef"} {
		hdr, want := h{}, "dummy"
		if own != "" {
			hdr["Cookie"], want = "JSESSIONID="+own, own
		}
		s := sess("/cookie_needed_echo")
		r := do(t, "POST", s+"/xhr", hdr, "")
		r.wantStatus(t, http.StatusOK)
		r.wantBody(t, "o\n")
		r.wantCookie(t, want)

		r = do(t, "POST", s+"/xhr_send", hdr, `["x"]`)
		r.wantStatus(t, http.StatusNoContent)
		r.wantCookie(t, want)

		for _, st := range []*stream{
			open(t, "POST", sess("/cookie_needed_echo")+"/xhr_streaming", hdr, ""),
			open(t, "GET", sess("/cookie_needed_echo")+"/eventsource", hdr, ""),
			open(t, "GET", sess("/cookie_needed_echo")+"/htmlfile?c=%63allback", hdr, ""),
		} {
			st.resp.wantStatus(t, http.StatusOK)
			st.resp.wantCookie(t, want)
			st.close()
		}

		s = sess("/cookie_needed_echo")
		r = do(t, "GET", s+"/jsonp?c=%63allback", hdr, "")
		r.wantStatus(t, http.StatusOK)
		r.wantCookie(t, want)
		r.wantBody(t, "/**/callback(\"o\");\r\n")
		form := h{"Content-Type": formType}
		if own != "" {
			form["Cookie"] = hdr["Cookie"]
		}
		r = do(t, "POST", s+"/jsonp_send", form, "d=%5B%22x%22%5D")
		r.wantStatus(t, http.StatusOK)
		r.wantBody(t, "ok")
		r.wantCookie(t, want)
	}
}

// SOCKJS.md: services without cookie mode set no cookie, even when the
// client sends one.
func TestCookieNotNeeded(t *testing.T) {
	t.Parallel()
	r := do(t, "POST", sess("/echo")+"/xhr", h{"Cookie": "JSESSIONID=abcdef"}, "")
	r.wantStatus(t, http.StatusOK)
	r.wantNoCookie(t)
}
