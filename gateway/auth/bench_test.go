package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The gateway verifies the token of every request of a session (the
// binding needs its subject), so a poll or a send pays one Verify: a
// signature check the first time ("cold"), a lookup after ("warm").

func benchVerify(b *testing.B, v *Verifier, tok string) {
	for _, cold := range []bool{true, false} {
		name := "warm"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if cold {
					v.mu.Lock()
					clear(v.verified)
					v.mu.Unlock()
				}
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchClaims() jwt.MapClaims {
	return jwt.MapClaims{"sub": "u1", "name": "ann", "exp": time.Now().Add(time.Hour).Unix()}
}

func BenchmarkVerifyHS256(b *testing.B) {
	v, _ := New(Config{HMACSecret: secret})
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, benchClaims()).SignedString(secret)
	benchVerify(b, v, tok)
}

func benchPublic(b *testing.B, pub any, m jwt.SigningMethod, priv any) {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	v, err := New(Config{PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := jwt.NewWithClaims(m, benchClaims()).SignedString(priv)
	benchVerify(b, v, tok)
}

func BenchmarkVerifyES256(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	benchPublic(b, &k.PublicKey, jwt.SigningMethodES256, k)
}

func BenchmarkVerifyRS256(b *testing.B) {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	benchPublic(b, &k.PublicKey, jwt.SigningMethodRS256, k)
}
