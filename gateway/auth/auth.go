// Package auth verifies the connection tokens (JWT) that clients put in the
// SockJS URL's query, ?token=..., since sockjs-client cannot send an
// Authorization header. A Verifier is built once from the gateway's key and
// is safe for concurrent use.
package auth

import (
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sockgate/sockgate/session"
)

// QueryParam is the query parameter of the SockJS URL that carries the token.
const QueryParam = "token"

// Sentinel errors of Verify. The gateway maps ErrMissing and ErrInvalid to
// c[3501,"Unauthorized"] and ErrExpired to c[3502,"Token expired"].
var (
	// ErrMissing means the request carried no token.
	ErrMissing = errors.New("auth: no token")
	// ErrInvalid means the token is malformed, its signature or algorithm
	// is wrong, or a claim (sub, exp, aud, iss, nbf) does not hold.
	ErrInvalid = errors.New("auth: invalid token")
	// ErrExpired means the token is genuine but its exp (plus the grace)
	// has passed.
	ErrExpired = errors.New("auth: token expired")
)

// Config is what a Verifier checks. Exactly one of HMACSecret and
// PublicKeyPEM must be set.
type Config struct {
	// HMACSecret verifies HS256 tokens.
	HMACSecret []byte
	// PublicKeyPEM is an RSA (RS256) or ECDSA (ES256) public key in PEM.
	PublicKeyPEM []byte
	// Audience, when set, must be one of the token's "aud".
	Audience string
	// Issuer, when set, must be the token's "iss".
	Issuer string
	// ExpiryGrace is how long after "exp" a token is still taken (0).
	ExpiryGrace time.Duration
	// Now is the clock (time.Now); tests set it.
	Now func() time.Time
}

// cacheSize bounds how many verified tokens a Verifier remembers. The
// gateway verifies the token of every request of a session (each poll and
// send), and a signature check costs far more than a map lookup; when full
// the cache starts over.
const cacheSize = 4096

// Verifier checks tokens against one key.
type Verifier struct {
	key       any
	parser    *jwt.Parser
	validator *jwt.Validator
	now       func() time.Time
	grace     time.Duration

	mu       sync.Mutex
	verified map[string]Token // tokens that verified, by their text
}

// New builds a Verifier from cfg.
func New(cfg Config) (*Verifier, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{now: cfg.Now, grace: cfg.ExpiryGrace, verified: make(map[string]Token)}
	var methods []string
	switch {
	case len(cfg.HMACSecret) > 0 && len(cfg.PublicKeyPEM) > 0:
		return nil, errors.New("auth: give an HMAC secret or a public key, not both")
	case len(cfg.HMACSecret) > 0:
		if len(cfg.HMACSecret) < 32 {
			return nil, fmt.Errorf("auth: HMAC secret is %d bytes; HS256 needs at least 32", len(cfg.HMACSecret))
		}
		v.key, methods = cfg.HMACSecret, []string{"HS256"}
	case len(cfg.PublicKeyPEM) > 0:
		key, m, err := parsePublicKey(cfg.PublicKeyPEM)
		if err != nil {
			return nil, err
		}
		v.key, methods = key, []string{m}
	default:
		return nil, errors.New("auth: no key: give an HMAC secret or a public key")
	}
	v.parser = jwt.NewParser(jwt.WithValidMethods(methods), jwt.WithoutClaimsValidation())
	opts := []jwt.ParserOption{jwt.WithExpirationRequired(), jwt.WithLeeway(cfg.ExpiryGrace), jwt.WithTimeFunc(cfg.Now)}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	v.validator = jwt.NewValidator(opts...)
	return v, nil
}

// parsePublicKey reads an RSA or ECDSA (P-256) public key in PEM and names
// the one algorithm it verifies.
func parsePublicKey(data []byte) (any, string, error) {
	if b, _ := pem.Decode(data); b == nil {
		return nil, "", errors.New("auth: public key: no PEM block")
	}
	if k, err := jwt.ParseRSAPublicKeyFromPEM(data); err == nil {
		return k, "RS256", nil
	}
	k, err := jwt.ParseECPublicKeyFromPEM(data)
	if err != nil {
		return nil, "", fmt.Errorf("auth: public key: neither RSA nor ECDSA: %w", err)
	}
	if k.Curve.Params().Name != "P-256" {
		return nil, "", fmt.Errorf("auth: public key: ES256 needs a P-256 key, not %s", k.Curve.Params().Name)
	}
	return k, "ES256", nil
}

// Token is a verified token: who it names and until when.
type Token struct {
	// User is the identity the token proves.
	User *session.Identity
	// Expires is the token's "exp"; with the grace added, the session ends
	// then.
	Expires time.Time
}

// Deadline is when a session opened with t must close: exp plus the grace.
func (v *Verifier) Deadline(t Token) time.Time { return t.Expires.Add(v.grace) }

// Verify checks a token. It returns ErrMissing for "", ErrInvalid (wrapped
// with the cause) for any fault, and ErrExpired when only the expiry fails:
// then the Token is returned too, since its signature holds.
func (v *Verifier) Verify(raw string) (Token, error) {
	if raw == "" {
		return Token{}, ErrMissing
	}
	if t, ok := v.remembered(raw); ok {
		if v.now().After(v.Deadline(t)) {
			return t, ErrExpired
		}
		return t, nil
	}
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(raw, claims, v.keyFunc); err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	t, err := tokenOf(claims)
	if err != nil {
		return Token{}, err
	}
	if err := v.validator.Validate(claims); err != nil {
		if onlyExpired(err) {
			return t, ErrExpired
		}
		return Token{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	v.remember(raw, t)
	return t, nil
}

// remembered returns the token raw verified as before, if it did. Only
// good tokens are kept: what a client sends that does not verify costs a
// check each time, and cannot fill the cache.
func (v *Verifier) remembered(raw string) (Token, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.verified[raw]
	return t, ok
}

func (v *Verifier) remember(raw string, t Token) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.verified) >= cacheSize {
		clear(v.verified)
	}
	v.verified[raw] = t
}

func (v *Verifier) keyFunc(*jwt.Token) (any, error) { return v.key, nil }

// tokenOf reads sub, name and exp from verified claims.
func tokenOf(claims jwt.MapClaims) (Token, error) {
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return Token{}, fmt.Errorf("%w: no sub claim", ErrInvalid)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return Token{}, fmt.Errorf("%w: no valid exp claim", ErrInvalid)
	}
	name, _ := claims["name"].(string)
	return Token{
		User:    &session.Identity{Subject: sub, Name: name, Claims: claims},
		Expires: exp.Time,
	}, nil
}

// onlyExpired reports whether every fault in err is the expiry.
func onlyExpired(err error) bool {
	multi, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return errors.Is(err, jwt.ErrTokenExpired)
	}
	for _, e := range multi.Unwrap() {
		if !onlyExpired(e) {
			return false
		}
	}
	return true
}
