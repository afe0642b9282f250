package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/gateway"
)

func TestIdentityFlagsApply(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	key := filepath.Join(dir, "key")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s", 32)+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("api-key-api-key-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parseConfig([]string{"-session-binding", "none", "-auth-optional", "-auth-audience", "chat"},
		env(map[string]string{"SOCKGATE_AUTH_HMAC_SECRET_FILE": secret, "SOCKGATE_API_KEY_FILE": key}))
	if err != nil {
		t.Fatal(err)
	}
	var gc gateway.Config
	if err := c.identity.apply(&gc); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if gc.Auth == nil || !gc.AuthOptional || gc.SessionBinding != gateway.SessionBindingNone || gc.APIKey != "api-key-api-key-1" {
		t.Fatalf("identity config: auth %v optional %v binding %q key %q", gc.Auth != nil, gc.AuthOptional, gc.SessionBinding, gc.APIKey)
	}
}

func TestIdentityFlagsDefaults(t *testing.T) {
	t.Parallel()
	c, err := parseConfig(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var gc gateway.Config
	if err := c.identity.apply(&gc); err != nil {
		t.Fatal(err)
	}
	if gc.Auth != nil || gc.APIKey != "" || gc.SessionBinding != gateway.SessionBindingAddress {
		t.Fatalf("defaults: auth %v key %q binding %q", gc.Auth != nil, gc.APIKey, gc.SessionBinding)
	}
}
