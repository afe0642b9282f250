package protocol

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"
)

const (
	// attachWait is how long a test lets the server attach a receiving
	// request before racing a second one against it (the official suite
	// sleeps 0.25 s).
	attachWait = 250 * time.Millisecond
	// abortWait lets the server notice a client's aborted request.
	abortWait = 100 * time.Millisecond
)

const (
	frame2010 = `c[2010,"Another connection still open"]` + "\n"
	frame1002 = `c[1002,"Connection interrupted"]` + "\n"
	frame3000 = `c[3000,"Go away!"]` + "\n"
)

// Official: SessionURLs.test_anyValue.
func TestSessionAnyServerAndSessionID(t *testing.T) {
	t.Parallel()
	r := strconv.Itoa(rand.IntN(1 << 30))
	for _, part := range []string{"/a/a" + r, "/_/_" + r, "/1/" + r,
		"/abcdefgh_i-j%20/abcdefg_i-j%20" + r, "/~!$&'()*+,;=:@/-" + r} {
		poll(t, "/echo"+part, "o\n")
	}
}

// Official: SessionURLs.test_invalidPaths.
func TestSessionInvalidPaths(t *testing.T) {
	t.Parallel()
	for _, part := range []string{"//", "/a./a", "/a/a.", "/./.", "/", "///", "/a/a/a"} {
		do(t, "GET", "/echo"+part+"/xhr", nil, "").wantStatus(t, http.StatusNotFound)
		do(t, "POST", "/echo"+part+"/xhr", nil, "").wantStatus(t, http.StatusNotFound)
	}
}

// Official: Protocol.test_simpleSession (second half),
// HandlingClose.test_abort_xhr_polling (first half). SOCKJS.md adds that the
// first receiver is unaffected.
func TestSessionSecondPoll2010(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	poll(t, s, "o\n")
	first := begin(t, "POST", s+"/xhr", nil, "")
	time.Sleep(attachWait)
	poll(t, s, frame2010)
	// The first poll still waits and gets the next message.
	xhrSend(t, s, `["still here"]`)
	st := first.stream()
	st.resp.wantStatus(t, http.StatusOK)
	eq(t, "first poll after a 2010 to a second one", st.readUntil("\n"), "a[\"still here\"]\n")
	st.wantEOF()
}

// Official: HandlingClose.test_close_request.
func TestSessionSecondStream2010(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	r1 := open(t, "POST", s+"/xhr_streaming", nil, "")
	r1.readN(2049)
	eq(t, "first stream", r1.readUntil("\n"), "o\n")
	r2 := open(t, "POST", s+"/xhr_streaming", nil, "")
	r2.resp.wantStatus(t, http.StatusOK)
	eq(t, "second stream prelude", r2.readN(2049), prelude)
	eq(t, "second stream", r2.readUntil("\n"), frame2010)
	r2.wantEOF()
	xhrSend(t, s, `["x"]`)
	eq(t, "first stream after the 2010", r1.readUntil("\n"), "a[\"x\"]\n")
}

// Official: Protocol.test_closeSession.
func TestSessionCloseFrameReplayed(t *testing.T) {
	t.Parallel()
	s := sess("/close")
	poll(t, s, "o\n")
	poll(t, s, frame3000)
	poll(t, s, frame3000)
}

// Official: HandlingClose.test_close_frame.
func TestSessionCloseFrameStreaming(t *testing.T) {
	t.Parallel()
	s := sess("/close")
	r1 := open(t, "POST", s+"/xhr_streaming", nil, "")
	eq(t, "first stream prelude", r1.readN(2049), prelude)
	eq(t, "first stream", r1.readUntil("\n"), "o\n")
	eq(t, "first stream", r1.readUntil("\n"), frame3000)
	r1.wantEOF()

	r2 := open(t, "POST", s+"/xhr_streaming", nil, "")
	eq(t, "second stream prelude", r2.readN(2049), prelude)
	eq(t, "second stream", r2.readUntil("\n"), frame3000)
	r2.wantEOF()
}

// Official: HandlingClose.test_abort_xhr_streaming.
func TestSessionAbortStreaming(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	r1 := open(t, "POST", s+"/xhr_streaming", nil, "")
	r1.readN(2049)
	eq(t, "first stream", r1.readUntil("\n"), "o\n")

	r2 := open(t, "POST", s+"/xhr_streaming", nil, "")
	r2.readN(2049)
	eq(t, "second stream", r2.readUntil("\n"), frame2010)
	r2.wantEOF()

	r1.close()
	time.Sleep(abortWait)
	r3 := open(t, "POST", s+"/xhr_streaming", nil, "")
	r3.readN(2049)
	if got := r3.readUntil("\n"); got != "o\n" && got != frame1002 {
		t.Errorf("stream after an aborted one: got %q, want %q or %q", got, "o\n", frame1002)
	}
	r3.close()
}

// Official: HandlingClose.test_abort_xhr_polling.
func TestSessionAbortPolling(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	poll(t, s, "o\n")
	r1 := begin(t, "POST", s+"/xhr", nil, "")
	time.Sleep(attachWait)
	poll(t, s, frame2010)
	r1.close()
	time.Sleep(abortWait)
	r := do(t, "POST", s+"/xhr", nil, "")
	if r.body != "o\n" && r.body != frame1002 {
		t.Errorf("%s after an aborted poll: body %q, want %q or %q", r.req, r.body, "o\n", frame1002)
	}
}

// SOCKJS.md: messages sent while no receiver is attached are flushed as
// one frame on the next receiving request.
func TestSessionBuffering(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	poll(t, s, "o\n")
	xhrSend(t, s, `["1"]`)
	xhrSend(t, s, `["2","3"]`)
	xhrSend(t, s, `["4"]`)
	poll(t, s, "a[\"1\",\"2\",\"3\",\"4\"]\n")
}

// SOCKJS.md: a poll that waits gets a message as soon as it is sent.
func TestSessionPollWaits(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	poll(t, s, "o\n")
	r := begin(t, "POST", s+"/xhr", nil, "")
	time.Sleep(attachWait)
	xhrSend(t, s, `["late"]`)
	st := r.stream()
	eq(t, "waiting poll", st.readUntil("\n"), "a[\"late\"]\n")
	st.wantEOF()
}

// SOCKJS.md: a session with no receiver for disconnect_delay is forgotten:
// sends are 404 and the next poll opens a new session.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	needTimed(t)
	s := sess("/echo")
	doAt(t, timedURL, "POST", s+"/xhr", nil, "").wantBody(t, "o\n")
	time.Sleep(disconnectDelay + disconnectDelay/2 + 500*time.Millisecond)
	doAt(t, timedURL, "POST", s+"/xhr_send", nil, `["x"]`).wantStatus(t, http.StatusNotFound)
	doAt(t, timedURL, "POST", s+"/xhr", nil, "").wantBody(t, "o\n")
}

// SOCKJS.md: a closed session serves its close frame until it times out,
// then the id is free again.
func TestSessionClosedExpiry(t *testing.T) {
	t.Parallel()
	needTimed(t)
	s := sess("/close")
	doAt(t, timedURL, "POST", s+"/xhr", nil, "").wantBody(t, "o\n")
	doAt(t, timedURL, "POST", s+"/xhr", nil, "").wantBody(t, frame3000)
	time.Sleep(disconnectDelay + disconnectDelay/2 + 500*time.Millisecond)
	doAt(t, timedURL, "POST", s+"/xhr", nil, "").wantBody(t, "o\n")
}

// SOCKJS.md: a session with a receiver attached does not expire.
func TestSessionNoExpiryWhileReceiving(t *testing.T) {
	t.Parallel()
	needTimed(t)
	s := sess("/echo")
	st := openAt(t, timedURL, "POST", s+"/xhr_streaming", nil, "")
	st.readN(2049)
	eq(t, "stream", st.readUntil("\n"), "o\n")
	time.Sleep(disconnectDelay * 2)
	doAt(t, timedURL, "POST", s+"/xhr_send", nil, `["x"]`).wantStatus(t, http.StatusNoContent)
	for {
		f := st.readUntil("\n")
		if f != "h\n" {
			eq(t, "stream after 2 disconnect delays", f, "a[\"x\"]\n")
			break
		}
	}
}

// SOCKJS.md: an idle receiver gets an "h" frame every heartbeat_delay.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	needTimed(t)
	s := sess("/echo")
	doAt(t, timedURL, "POST", s+"/xhr", nil, "").wantBody(t, "o\n")
	start := time.Now()
	doAt(t, timedURL, "POST", s+"/xhr", nil, "").wantBody(t, "h\n")
	if el := time.Since(start); el < heartbeatDelay/2 || el > heartbeatDelay*3 {
		t.Errorf("idle poll answered h after %v, heartbeat delay is %v", el, heartbeatDelay)
	}

	st := openAt(t, timedURL, "POST", sess("/echo")+"/xhr_streaming", nil, "")
	st.readN(2049)
	eq(t, "stream", st.readUntil("\n"), "o\n")
	eq(t, "idle stream", st.readUntil("\n"), "h\n")
	eq(t, "idle stream", st.readUntil("\n"), "h\n")
	st.close()
}
