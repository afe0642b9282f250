package gateway

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/gateway/auth"
	"github.com/sockgate/sockgate/session"
)

func testVerifier(t *testing.T) *auth.Verifier {
	t.Helper()
	v, err := auth.New(auth.Config{HMACSecret: []byte(strings.Repeat("s", 32))})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCheckIdentity(t *testing.T) {
	t.Parallel()
	v := testVerifier(t)
	bad := map[string]Config{
		"unknown binding":      {SessionBinding: "cookie"},
		"tokens on compat":     {Auth: v, Engine: EngineSockJSGo},
		"optional without key": {AuthOptional: true},
	}
	for name, cfg := range bad {
		if err := checkIdentity(&cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	cfg := Config{}
	if err := checkIdentity(&cfg); err != nil || cfg.SessionBinding != SessionBindingAddress {
		t.Fatalf("default binding %q, %v; want address", cfg.SessionBinding, err)
	}
}

// TestBindKey: the registry key of a session names what it is bound to,
// and nothing else.
func TestBindKey(t *testing.T) {
	t.Parallel()
	v := testVerifier(t)
	one, two := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	ann := caller{addr: one, tok: auth.Token{User: &session.Identity{Subject: "ann"}}}
	bob := caller{addr: one, tok: auth.Token{User: &session.Identity{Subject: "bob"}}}
	annMoved := caller{addr: two, tok: ann.tok}
	key := func(binding string, a *auth.Verifier, c caller) string {
		return (&Server{cfg: Config{SessionBinding: binding, Auth: a}}).bindKey("sid", c)
	}
	if k := key(SessionBindingNone, nil, ann); k != "sid" {
		t.Errorf("no binding, no tokens: key %q; want the id", k)
	}
	if key(SessionBindingAddress, nil, ann) == key(SessionBindingAddress, nil, annMoved) {
		t.Error("address binding: two addresses share a key")
	}
	if key(SessionBindingAddress, nil, ann) != key(SessionBindingAddress, nil, bob) {
		t.Error("address binding without tokens: the subject changed the key")
	}
	if key(SessionBindingNone, v, ann) == key(SessionBindingNone, v, bob) {
		t.Error("tokens: two subjects share a key")
	}
	if key(SessionBindingNone, v, ann) != key(SessionBindingNone, v, annMoved) {
		t.Error("binding none with tokens: the address changed the key")
	}
	if key(SessionBindingAddress, v, ann) == key(SessionBindingAddress, v, caller{addr: one}) {
		t.Error("tokens: a caller without a token shares the key of one with")
	}
}

// TestRefusal maps each verdict of a token to its close code.
func TestRefusal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		code int
	}{
		{nil, 0},
		{auth.ErrMissing, session.CodeUnauthorized},
		{auth.ErrInvalid, session.CodeUnauthorized},
		{auth.ErrExpired, session.CodeTokenExpired},
	}
	for _, c := range cases {
		code, _, _, refused := caller{err: c.err}.refusal()
		if code != c.code || refused != (c.code != 0) {
			t.Errorf("%v: code %d refused %v; want %d", c.err, code, refused, c.code)
		}
	}
}
