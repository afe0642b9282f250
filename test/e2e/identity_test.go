package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/gateway/auth"
	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/services"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// tokenSecret signs the tokens of the identity tests (HS256).
var tokenSecret = []byte("e2e-secret-e2e-secret-e2e-secret")

// tokenAudience is what the identity gateways want in "aud".
const tokenAudience = "sockgate-e2e"

// mint signs a token for sub that expires in ttl, with extra claims.
func mint(t *testing.T, sub string, ttl time.Duration, extra jwt.MapClaims) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": sub, "exp": time.Now().Add(ttl).Unix(), "aud": tokenAudience}
	for k, v := range extra {
		claims[k] = v
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(tokenSecret)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok
}

// facts is what the /whoami service sends on open: the session's Request.
type facts struct {
	RemoteAddr string         `json:"remote_addr"`
	Header     string         `json:"x_test"`
	Query      string         `json:"q"`
	Token      string         `json:"token"`
	Subject    string         `json:"sub"`
	Name       string         `json:"name"`
	Claims     map[string]any `json:"claims"`
}

// whoami sends the session's Request facts, then echoes.
var whoami = session.EventFuncs{
	Open: func(s session.Session) {
		r := s.Request()
		f := facts{RemoteAddr: r.RemoteAddr.String(), Header: r.Header.Get("X-Test"), Query: r.Query.Get("q"), Token: r.Query.Get("token")}
		if r.User != nil {
			f.Subject, f.Name, f.Claims = r.User.Subject, r.User.Name, r.User.Claims
		}
		b, _ := json.Marshal(f)
		_ = s.Send(string(b))
	},
	Message: func(s session.Session, m string) { _ = s.Send(m) },
}

// identityEnv is a native gateway with /whoami, /echo and /chat.
type identityEnv struct {
	*env
	srv   *gateway.Server
	admin string // the admin listener's URL
}

// startIdentityGateway runs a native gateway configured by mod.
func startIdentityGateway(t *testing.T, mod func(*gateway.Config)) *identityEnv {
	t.Helper()
	chat := services.NewChat(services.ChatOptions{})
	cfg := gateway.Config{
		Addr:            "127.0.0.1:0",
		AdminAddr:       "127.0.0.1:0",
		Logger:          zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
		ShutdownTimeout: 2 * time.Second,
		Chat:            chatAPI{chat},
		Services: []gateway.Service{
			{Prefix: "/whoami", Events: whoami},
			{Prefix: "/echo", Events: services.EchoEvents},
			{Prefix: "/chat", Handler: chat.Handler},
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := gateway.New(cfg)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	if err := srv.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("gateway Close: %v", err)
		}
	})
	ie := &identityEnv{env: &env{engine: gateway.EngineNative, url: srv.URL()}, srv: srv, admin: srv.URL()}
	if a := srv.AdminAddr(); a != nil {
		ie.admin = "http://" + a.String()
	}
	return ie
}

// chatAPI is services.Chat as the gateway's API wants it.
type chatAPI struct{ *services.Chat }

func (c chatAPI) RoomState(ctx context.Context, room string) (any, error) { return c.Room(ctx, room) }

func withTokens(optional bool) func(*gateway.Config) {
	return func(c *gateway.Config) {
		v, err := auth.New(auth.Config{HMACSecret: tokenSecret, Audience: tokenAudience})
		if err != nil {
			panic(err)
		}
		c.Auth, c.AuthOptional = v, optional
	}
}

func readFacts(t *testing.T, c *client) facts {
	t.Helper()
	var f facts
	if raw := recv(t, c); json.Unmarshal([]byte(raw), &f) != nil {
		t.Fatalf("whoami sent %s", abbrev(raw))
	}
	return f
}

// TestRequestFacts: a service sees the client address (with and without
// trusted proxies), headers, query and the token's identity on every
// transport: TestRequestFacts/<case>/<transport>.
func TestRequestFacts(t *testing.T) {
	t.Parallel()
	direct := startIdentityGateway(t, withTokens(false))
	proxied := startIdentityGateway(t, func(c *gateway.Config) {
		withTokens(false)(c)
		c.TrustedProxies = []string{"127.0.0.0/8"}
	})
	anon := startIdentityGateway(t, nil)
	cases := []struct {
		name     string
		e        *identityEnv
		token    bool
		wantAddr string
	}{
		{"token", direct, true, "127.0.0.1"},
		{"trusted-proxy", proxied, true, "203.0.113.7"},
		{"no-auth", anon, false, "127.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, tr := range transports {
				t.Run(tr, func(t *testing.T) {
					t.Parallel()
					u := "/whoami?q=hello%20world"
					if tc.token {
						u += "&token=" + mint(t, "user-"+tr, time.Hour, jwt.MapClaims{"name": "Ann", "role": "admin"})
					}
					h := http.Header{"X-Test": {"h-" + tr}, "X-Forwarded-For": {"203.0.113.7"}}
					c := dial(t, tc.e.env, u, tr, func(o *sockjsclient.Options) { o.Header = h })
					f := readFacts(t, c)
					if f.RemoteAddr != tc.wantAddr || f.Header != "h-"+tr || f.Query != "hello world" {
						t.Fatalf("facts %+v; want address %s, header h-%s, query \"hello world\"", f, tc.wantAddr, tr)
					}
					if f.Token != "" {
						t.Fatalf("the token reached the service in the query: %q", f.Token)
					}
					if tc.token && (f.Subject != "user-"+tr || f.Name != "Ann" || f.Claims["role"] != "admin") {
						t.Fatalf("identity %+v; want user-%s, Ann, role admin", f, tr)
					}
					if !tc.token && f.Subject != "" {
						t.Fatalf("anonymous session has subject %q", f.Subject)
					}
				})
			}
		})
	}
}

// wantClose dials u and expects the session to end with code, whether
// Dial itself reports it or the first Recv after "o" does.
func wantCloseAtOpen(t *testing.T, e *env, u, tr string, code int, reason string) {
	t.Helper()
	c, err := sockjsclient.Dial(ctxT(t), e.url+u, sockjsclient.Options{Transport: tr})
	if err == nil {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		var m string
		m, err = c.Recv(ctx)
		if err == nil {
			t.Fatalf("%s: got message %s; want close %d", tr, abbrev(m), code)
		}
	}
	var ce *sockjsclient.CloseError
	if !errors.As(err, &ce) || ce.Code != code || ce.Reason != reason {
		t.Fatalf("%s: session ended with %v; want c[%d,%q]", tr, err, code, reason)
	}
}

// TestTokenRefused: each bad token closes the session at open with its
// code, on every transport: TestTokenRefused/<case>/<transport>.
func TestTokenRefused(t *testing.T) {
	t.Parallel()
	e := startIdentityGateway(t, withTokens(false))
	other := func(t *testing.T) string {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u", "aud": tokenAudience,
			"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("another-secret-another-secret-00"))
		return tok
	}
	cases := []struct {
		name  string
		token func(t *testing.T) string
		code  int
		why   string
	}{
		{"none", func(*testing.T) string { return "" }, session.CodeUnauthorized, session.ReasonUnauthorized},
		{"garbage", func(*testing.T) string { return "abc.def.ghi" }, session.CodeUnauthorized, session.ReasonUnauthorized},
		{"bad-signature", other, session.CodeUnauthorized, session.ReasonUnauthorized},
		{"wrong-audience", func(t *testing.T) string { return mint(t, "u", time.Hour, jwt.MapClaims{"aud": "elsewhere"}) }, session.CodeUnauthorized, session.ReasonUnauthorized},
		{"no-sub", func(t *testing.T) string { return mint(t, "", time.Hour, nil) }, session.CodeUnauthorized, session.ReasonUnauthorized},
		{"expired", func(t *testing.T) string { return mint(t, "u", -time.Minute, nil) }, session.CodeTokenExpired, session.ReasonTokenExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, tr := range transports {
				t.Run(tr, func(t *testing.T) {
					t.Parallel()
					wantCloseAtOpen(t, e.env, "/whoami?token="+tc.token(t), tr, tc.code, tc.why)
				})
			}
		})
	}
	t.Run("counted", func(t *testing.T) {
		// Not parallel: it runs before the cases above and makes its own
		// refusal, on a service other than /whoami.
		wantCloseAtOpen(t, e.env, "/echo", sockjsclient.TransportXHRPolling, session.CodeUnauthorized, session.ReasonUnauthorized)
		if n := adminMetric(t, e, `sockgate_refusals_total{cause="unauthorized"}`); n < 1 {
			t.Fatalf("unauthorized refusals counted %v", n)
		}
	})
}

// TestTokenExpiresMidSession: a session whose token expires while it is
// open gets c[3502,"Token expired"], on every transport.
func TestTokenExpiresMidSession(t *testing.T) {
	t.Parallel()
	e := startIdentityGateway(t, withTokens(false))
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			// exp has one-second precision: 2s leaves at least 1s open.
			tok := mint(t, "short-lived", 2*time.Second, nil)
			c := dial(t, e.env, "/whoami?token="+tok, tr)
			if f := readFacts(t, c); f.Subject != "short-lived" {
				t.Fatalf("identity %+v", f)
			}
			send(t, c, "still valid")
			if m := recv(t, c); m != "still valid" {
				t.Fatalf("echo %s", abbrev(m))
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			m, err := c.Recv(ctx)
			var ce *sockjsclient.CloseError
			if !errors.As(err, &ce) || ce.Code != session.CodeTokenExpired || ce.Reason != session.ReasonTokenExpired {
				t.Fatalf("after exp: message %s, error %v; want c[3502,\"Token expired\"]", abbrev(m), err)
			}
		})
	}
}

// TestTokenOptional: with optional tokens a session without one opens
// anonymously, and a bad one is still refused.
func TestTokenOptional(t *testing.T) {
	t.Parallel()
	e := startIdentityGateway(t, withTokens(true))
	c := dial(t, e.env, "/whoami", sockjsclient.TransportXHRStreaming)
	if f := readFacts(t, c); f.Subject != "" {
		t.Fatalf("a session without a token has subject %q", f.Subject)
	}
	wantCloseAtOpen(t, e.env, "/whoami?token=nonsense", sockjsclient.TransportXHRStreaming, session.CodeUnauthorized, session.ReasonUnauthorized)
	c2 := dial(t, e.env, "/whoami?token="+mint(t, "opt", time.Hour, nil), sockjsclient.TransportWebsocket)
	if f := readFacts(t, c2); f.Subject != "opt" {
		t.Fatalf("a good token's subject %q", f.Subject)
	}
}

// TestTokenNameIsNick: a token's name is its holder's chat nickname,
// whatever nickname the join asks for.
func TestTokenNameIsNick(t *testing.T) {
	t.Parallel()
	e := startIdentityGateway(t, withTokens(false))
	c := dial(t, e.env, "/chat?token="+mint(t, "u-ann", time.Hour, jwt.MapClaims{"name": "ann"}), sockjsclient.TransportXHRPolling)
	send(t, c, joinCmd("named", "mallory"))
	if ev := recvEvent(t, c); ev.Type != "welcome" || ev.Nick != "ann" {
		t.Fatalf("join as mallory with a token named ann: %+v; want welcome as ann", ev)
	}
	send(t, c, postCmd("hi"))
	if ev := recvEvent(t, c); ev.Type != "message" || ev.Nick != "ann" {
		t.Fatalf("post: %+v; want a message from ann", ev)
	}
}

func adminMetric(t *testing.T, e *identityEnv, sample string) float64 {
	t.Helper()
	r := do(t, http.MethodGet, e.admin+"/metrics", "", "")
	for _, line := range strings.Split(r.body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return 0
}

// fromAddr is an HTTP client whose connections come from local (e.g.
// 127.0.0.2, a second client address on the loopback).
func fromAddr(t *testing.T, local string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// raw makes one request with client and returns the status and body.
func raw(ctx context.Context, t *testing.T, client *http.Client, method, u, body string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
