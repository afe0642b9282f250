package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/gateway/auth"
	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/services"
)

// identityFlags are the settings of session binding, tokens and the
// backend API.
type identityFlags struct {
	binding       string
	hmacFile      string
	publicKeyFile string
	audience      string
	issuer        string
	optional      bool
	expiryGrace   time.Duration
	apiKeyFile    string
}

func (f *identityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.binding, "session-binding", gateway.SessionBindingAddress, "address: a session answers only the client address that opened it; none: any address (clients that change network keep their session)")
	fs.StringVar(&f.hmacFile, "auth-hmac-secret-file", "", "file holding the HS256 secret (at least 32 bytes) that connection tokens (?token=) are signed with; turns tokens on")
	fs.StringVar(&f.publicKeyFile, "auth-public-key-file", "", "PEM file of the RSA (RS256) or P-256 ECDSA (ES256) public key that verifies connection tokens; turns tokens on")
	fs.StringVar(&f.audience, "auth-audience", "", "with tokens: the aud a token must carry")
	fs.StringVar(&f.issuer, "auth-issuer", "", "with tokens: the iss a token must carry")
	fs.BoolVar(&f.optional, "auth-optional", false, "with tokens: let sessions without a token open anonymously (a token given must still verify)")
	fs.DurationVar(&f.expiryGrace, "auth-expiry-grace", 0, "with tokens: how long after its exp a token is still taken")
	fs.StringVar(&f.apiKeyFile, "api-key-file", "", "file holding the key of the backend API under /api/ (off without it)")
}

// apply reads the key files and sets the identity part of gc.
func (f *identityFlags) apply(gc *gateway.Config) error {
	gc.SessionBinding = f.binding
	if f.hmacFile != "" || f.publicKeyFile != "" {
		cfg := auth.Config{Audience: f.audience, Issuer: f.issuer, ExpiryGrace: f.expiryGrace}
		var err error
		if f.hmacFile != "" {
			if cfg.HMACSecret, err = readSecret("-auth-hmac-secret-file", f.hmacFile); err != nil {
				return err
			}
		}
		if f.publicKeyFile != "" {
			if cfg.PublicKeyPEM, err = os.ReadFile(f.publicKeyFile); err != nil {
				return fmt.Errorf("-auth-public-key-file: %w", err)
			}
		}
		if gc.Auth, err = auth.New(cfg); err != nil {
			return fmt.Errorf("tokens: %w", err)
		}
		gc.AuthOptional = f.optional
	} else if f.optional || f.audience != "" || f.issuer != "" {
		return fmt.Errorf("-auth-optional, -auth-audience and -auth-issuer need -auth-hmac-secret-file or -auth-public-key-file")
	}
	if f.apiKeyFile != "" {
		key, err := readSecret("-api-key-file", f.apiKeyFile)
		if err != nil {
			return err
		}
		if len(key) < 16 {
			return fmt.Errorf("-api-key-file: the key is %d bytes; use at least 16", len(key))
		}
		gc.APIKey = string(key)
	}
	return nil
}

// readSecret reads a secret file, without the line end an editor adds.
func readSecret(flagName, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: %s is empty", flagName, path)
	}
	return b, nil
}

// chatAPI is the chat service as the gateway's backend API sees it.
type chatAPI struct{ *services.Chat }

// RoomState implements gateway.ChatAPI.
func (c chatAPI) RoomState(ctx context.Context, room string) (any, error) {
	return c.Room(ctx, room)
}

// newControl joins the backend API to the cluster when there is one, so
// that its session closes and user disconnects reach every node: every
// node answers them, with an API key of its own or not. nil on a single
// node.
func newControl(bus cluster.Bus, gc *gateway.Config) (*cluster.Control, error) {
	nb, ok := bus.(*cluster.NATSBus)
	if !ok {
		return nil, nil
	}
	ctrl, err := nb.NewControl()
	if err != nil {
		return nil, err
	}
	gc.Control = ctrl
	return ctrl, nil
}
