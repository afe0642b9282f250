package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// pollClient polls and sends on one session id over raw HTTP, from one
// client address.
type pollClient struct {
	t      *testing.T
	client *http.Client
	base   string // session URL
	query  string // "" or "token=..."
	jsonp  bool
}

func newPollClient(t *testing.T, e *identityEnv, from, id string, jsonp bool) *pollClient {
	return &pollClient{t: t, client: fromAddr(t, from), base: e.url + "/echo/000/" + id, jsonp: jsonp}
}

func (p *pollClient) url(path string, extra string) string {
	q := p.query
	if extra != "" {
		if q != "" {
			q += "&"
		}
		q += extra
	}
	if q == "" {
		return p.base + path
	}
	return p.base + path + "?" + q
}

// poll makes one receiving request and returns its body.
func (p *pollClient) poll(ctx context.Context) (string, error) {
	method, u := http.MethodPost, p.url("/xhr", "")
	if p.jsonp {
		method, u = http.MethodGet, p.url("/jsonp", "c=cb")
	}
	status, body, err := raw(ctx, p.t, p.client, method, u, "")
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("poll: HTTP %d %q", status, body)
	}
	return body, err
}

// mustPoll polls and wants exactly want (a frame such as `a["x"]`).
func (p *pollClient) mustPoll(want string) {
	p.t.Helper()
	body, err := p.poll(ctxT(p.t))
	if p.jsonp {
		want = "/**/cb(" + jsonString(want) + ");\r\n"
	} else {
		want += "\n"
	}
	if err != nil || body != want {
		p.t.Fatalf("poll: %q, %v; want %q", body, err, want)
	}
}

func jsonString(s string) string { return mustJSON(s) }

// send posts one message and returns the status and body.
func (p *pollClient) send(msg string) (int, string) {
	p.t.Helper()
	payload := mustJSON([]string{msg})
	u, body := p.url("/xhr_send", ""), payload
	if p.jsonp {
		u, body = p.url("/jsonp_send", ""), "d="+url.QueryEscape(payload)
	}
	req, err := http.NewRequestWithContext(ctxT(p.t), http.MethodPost, u, stringsReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if p.jsonp {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatalf("send: %v", err)
	}
	defer resp.Body.Close()
	b := make([]byte, 512)
	n, _ := resp.Body.Read(b)
	return resp.StatusCode, string(b[:n])
}

func randomID() string { return fmt.Sprintf("bind%08d", rand.IntN(1e8)) }

// TestSessionBinding: a client at another address (127.0.0.2) that knows
// a session's id gets 404 on sends, as for an id nobody uses, and a session
// of its own on polls; it can neither read, feed nor abort the victim's
// session. TestSessionBinding/<transport>.
func TestSessionBinding(t *testing.T) {
	t.Parallel()
	e := startIdentityGateway(t, nil)
	for _, jsonp := range []bool{false, true} {
		name := "xhr-polling"
		if jsonp {
			name = "jsonp-polling"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			id := randomID()
			victim := newPollClient(t, e, "127.0.0.1", id, jsonp)
			attacker := newPollClient(t, e, "127.0.0.2", id, jsonp)
			nobody := newPollClient(t, e, "127.0.0.1", randomID(), jsonp)

			victim.mustPoll("o")
			if st, body := victim.send("secret"); st/100 != 2 {
				t.Fatalf("victim send: %d %q", st, body)
			}
			wantStatus, wantBody := nobody.send("x")
			if st, body := attacker.send("evil"); st != http.StatusNotFound || st != wantStatus || body != wantBody {
				t.Fatalf("send from another address: %d %q; want what an unused id gets: %d %q", st, body, wantStatus, wantBody)
			}
			attacker.mustPoll("o") // a session of its own, not the victim's "secret"
			// An aborted poll closes the attacker's own session (1002),
			// not the victim's.
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_, _ = attacker.poll(ctx)
			cancel()
			victim.mustPoll(`a["secret"]`)
			// The victim's next poll waits; the attacker polling meanwhile
			// neither gets 2010 from it nor disturbs it.
			waiting := make(chan string, 1)
			go func() {
				body, err := victim.poll(ctxT(t))
				if err != nil {
					body = err.Error()
				}
				waiting <- body
			}()
			time.Sleep(100 * time.Millisecond)
			if body, err := attacker.poll(ctxT(t)); err != nil || body == "" {
				t.Fatalf("attacker's poll: %q %v", body, err)
			} else if jsonp && body != "/**/cb(\"c[1002,\\\"Connection interrupted\\\"]\");\r\n" || !jsonp && body != "c[1002,\"Connection interrupted\"]\n" {
				t.Fatalf("attacker's poll after its abort: %q; want its own session's 1002", body)
			}
			if st, _ := victim.send("again"); st/100 != 2 {
				t.Fatalf("victim send: %d", st)
			}
			want := `a["again"]` + "\n"
			if jsonp {
				want = "/**/cb(" + jsonString(`a["again"]`) + ");\r\n"
			}
			if got := <-waiting; got != want {
				t.Fatalf("victim's waiting poll: %q; want %q", got, want)
			}
		})
	}
	t.Run("counted", func(t *testing.T) {
		id := randomID()
		newPollClient(t, e, "127.0.0.1", id, false).mustPoll("o")
		before := adminMetric(t, e, `sockgate_refusals_total{cause="session_binding"}`)
		if st, _ := newPollClient(t, e, "127.0.0.2", id, false).send("x"); st != http.StatusNotFound {
			t.Fatalf("send from another address: %d", st)
		}
		if after := adminMetric(t, e, `sockgate_refusals_total{cause="session_binding"}`); after < before+1 {
			t.Fatalf("session_binding refusals %v -> %v; want one more", before, after)
		}
	})
}

// TestSessionBindingNone: with -session-binding=none another address may
// use a session (the trade-off: clients that change network keep theirs).
func TestSessionBindingNone(t *testing.T) {
	t.Parallel()
	e := startIdentityGateway(t, func(c *gateway.Config) { c.SessionBinding = gateway.SessionBindingNone })
	id := randomID()
	first := newPollClient(t, e, "127.0.0.1", id, false)
	moved := newPollClient(t, e, "127.0.0.2", id, false)
	first.mustPoll("o")
	if st, body := moved.send("from the new network"); st != http.StatusNoContent {
		t.Fatalf("send from another address without binding: %d %q", st, body)
	}
	moved.mustPoll(`a["from the new network"]`)
}

// TestSessionBindingSubject: with tokens, a session is bound to its
// token's subject too: the same address with another user's token gets 404.
func TestSessionBindingSubject(t *testing.T) {
	t.Parallel()
	e := startIdentityGateway(t, func(c *gateway.Config) {
		withTokens(false)(c)
		c.SessionBinding = gateway.SessionBindingNone
	})
	id := randomID()
	alice := newPollClient(t, e, "127.0.0.1", id, false)
	alice.query = "token=" + mint(t, "alice", time.Hour, jwt.MapClaims{})
	bob := newPollClient(t, e, "127.0.0.1", id, false)
	bob.query = "token=" + mint(t, "bob", time.Hour, jwt.MapClaims{})
	alice.mustPoll("o")
	if st, _ := bob.send("as bob"); st != http.StatusNotFound {
		t.Fatalf("send with another subject's token: %d; want 404", st)
	}
	if st, _ := alice.send("as alice"); st != http.StatusNoContent {
		t.Fatalf("alice's own send: %d", st)
	}
	alice.mustPoll(`a["as alice"]`)
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// TestSessionBindingStreams: a stream opened from another address on a
// live session's id is a session of its own: it gets "o" and none of the
// victim's messages, and closing it leaves the victim's session working.
// TestSessionBindingStreams/<transport>.
func TestSessionBindingStreams(t *testing.T) {
	t.Parallel()
	e := startIdentityGateway(t, nil)
	for _, tr := range []string{sockjsclient.TransportXHRStreaming, sockjsclient.TransportEventSource, sockjsclient.TransportHTMLFile} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			id := randomID()
			victim := dial(t, e.env, "/echo", sockjsclient.TransportXHRPolling, func(o *sockjsclient.Options) {
				o.SessionID = id
				o.HTTPClient = fromAddr(t, "127.0.0.1")
			})
			attacker := dial(t, e.env, "/echo", tr, func(o *sockjsclient.Options) {
				o.SessionID = id
				o.HTTPClient = fromAddr(t, "127.0.0.2")
			})
			send(t, victim, "secret")
			if m := recv(t, victim); m != "secret" {
				t.Fatalf("victim's echo: %s", abbrev(m))
			}
			send(t, attacker, "own")
			if m := recv(t, attacker); m != "own" {
				t.Fatalf("the attacker's stream got %s; want only its own echo", abbrev(m))
			}
			attacker.Close()
			send(t, victim, "still mine")
			if m := recv(t, victim); m != "still mine" {
				t.Fatalf("victim after the attacker left: %s", abbrev(m))
			}
		})
	}
}
