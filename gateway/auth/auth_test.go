package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
)

func clock() time.Time { return now }

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func good() jwt.MapClaims {
	return jwt.MapClaims{"sub": "u1", "name": "ann", "exp": now.Add(time.Hour).Unix(), "aud": "chat", "iss": "idp", "role": "admin"}
}

func hmacVerifier(t *testing.T, mod func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{HMACSecret: secret, Audience: "chat", Issuer: "idp", Now: clock}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func TestVerifyHMAC(t *testing.T) {
	t.Parallel()
	v := hmacVerifier(t, nil)
	tok, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, good()))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if tok.User.Subject != "u1" || tok.User.Name != "ann" || tok.User.Claims["role"] != "admin" {
		t.Fatalf("identity = %+v", tok.User)
	}
	if !tok.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("expires = %v", tok.Expires)
	}
}

// TestVerifyRefuses says what each bad token gets.
func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	v := hmacVerifier(t, nil)
	with := func(f func(jwt.MapClaims)) jwt.MapClaims { c := good(); f(c); return c }
	other := []byte("ffffffffffffffffffffffffffffffff")
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrMissing},
		{"garbage", "not.a.jwt", ErrInvalid},
		{"bad signature", sign(t, jwt.SigningMethodHS256, other, good()), ErrInvalid},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good()), ErrInvalid},
		{"alg RS256 on an HMAC key", sign(t, jwt.SigningMethodRS256, rsaKey, good()), ErrInvalid},
		{"HS512", sign(t, jwt.SigningMethodHS512, secret, good()), ErrInvalid},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["aud"] = "other" })), ErrInvalid},
		{"no audience", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { delete(c, "aud") })), ErrInvalid},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["iss"] = "evil" })), ErrInvalid},
		{"no sub", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { delete(c, "sub") })), ErrInvalid},
		{"sub not a string", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["sub"] = 7 })), ErrInvalid},
		{"no exp", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { delete(c, "exp") })), ErrInvalid},
		{"not yet valid", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })), ErrInvalid},
		{"expired and wrong audience", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) {
			c["exp"] = now.Add(-time.Minute).Unix()
			c["aud"] = "other"
		})), ErrInvalid},
		{"expired", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })), ErrExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tok, err := v.Verify(c.token)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
			if c.want == ErrExpired && (tok.User == nil || tok.User.Subject != "u1") {
				t.Fatalf("an expired token should still name its subject: %+v", tok)
			}
			if c.want != ErrExpired && tok.User != nil {
				t.Fatalf("a refused token named %+v", tok.User)
			}
		})
	}
}

func TestExpiryGrace(t *testing.T) {
	t.Parallel()
	v := hmacVerifier(t, func(c *Config) { c.ExpiryGrace = 2 * time.Minute })
	c := good()
	c["exp"] = now.Add(-time.Minute).Unix()
	tok, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, c))
	if err != nil {
		t.Fatalf("a token 1 minute past exp with 2 minutes of grace: %v", err)
	}
	if want := now.Add(time.Minute); !v.Deadline(tok).Equal(want) {
		t.Fatalf("deadline = %v, want %v", v.Deadline(tok), want)
	}
}

func pemOf(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestVerifyPublicKeys(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		pub    any
		method jwt.SigningMethod
		priv   any
	}{
		{"RS256", &rsaKey.PublicKey, jwt.SigningMethodRS256, rsaKey},
		{"ES256", &ecKey.PublicKey, jwt.SigningMethodES256, ecKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := New(Config{PublicKeyPEM: pemOf(t, c.pub), Audience: "chat", Now: clock})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if _, err := v.Verify(sign(t, c.method, c.priv, good())); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			// The HMAC-with-public-key confusion: a token "signed" with
			// the PEM bytes as an HMAC secret must not pass.
			if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, pemOf(t, c.pub), good())); !errors.Is(err, ErrInvalid) {
				t.Fatalf("HS256 with the public key as secret: %v", err)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	cases := map[string]Config{
		"no key":       {},
		"both keys":    {HMACSecret: secret, PublicKeyPEM: []byte("x")},
		"short secret": {HMACSecret: []byte("short")},
		"not PEM":      {PublicKeyPEM: []byte("hello")},
		"P-384 key":    {PublicKeyPEM: pemOf(t, &p384.PublicKey)},
	}
	for name, cfg := range cases {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// TestVerifyRemembers: a token verified once is taken again without a
// signature check, but its expiry still counts; bad tokens are not kept.
func TestVerifyRemembers(t *testing.T) {
	t.Parallel()
	at := now
	v, err := New(Config{HMACSecret: secret, Audience: "chat", Issuer: "idp", Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jwt.SigningMethodHS256, secret, good())
	first, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	again, err := v.Verify(tok)
	if err != nil || again.User != first.User {
		t.Fatalf("second Verify: %v, same identity %v", err, again.User == first.User)
	}
	at = now.Add(2 * time.Hour) // past exp
	if got, err := v.Verify(tok); !errors.Is(err, ErrExpired) || got.User.Subject != "u1" {
		t.Fatalf("a remembered token past its exp: %v", err)
	}
	for range 3 {
		if _, err := v.Verify("not.a.jwt"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad token: %v", err)
		}
	}
	v.mu.Lock()
	n := len(v.verified)
	v.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d tokens remembered; want 1 (bad ones are not)", n)
	}
}
