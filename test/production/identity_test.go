package production

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sockgate/sockgate/test/internal/testbin"
)

// writeFile writes content to a new file in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestIdentityBinary runs the real binary (built once) with the identity
// flags: TestIdentityBinary/flags and TestIdentityBinary/errors/<case>.
func TestIdentityBinary(t *testing.T) {
	t.Parallel()
	bin := buildSockgate(t)
	t.Run("flags", func(t *testing.T) { t.Parallel(); testIdentityFlags(t, bin) })
	t.Run("errors", func(t *testing.T) { t.Parallel(); testIdentityFlagErrors(t, bin) })
}

// testIdentityFlags runs the binary with tokens and the backend API from
// their flags: a session without a token gets c[3501], one with a token
// echoes, the API answers only its key, the log names the token's subject
// and never the token, and the refusal is counted.
func testIdentityFlags(t *testing.T, bin string) {
	dir := t.TempDir()
	secret := "prod-secret-prod-secret-prod-secret!"
	secretFile := writeFile(t, dir, "secret", secret+"\n") // an editor's line end is dropped
	keyFile := writeFile(t, dir, "api-key", "prod-api-key-0123456789\n")
	addr, admin := testbin.FreeAddr(t), testbin.FreeAddr(t)
	base, adminBase := "http://"+addr, "http://"+admin
	p := testbin.Start(t, "sockgate", syscall.SIGKILL, bin, "-addr", addr, "-admin-addr", admin,
		"-auth-hmac-secret-file", secretFile, "-auth-audience", "prod", "-api-key-file", keyFile, "-log-level", "info")
	testbin.WaitHTTP(t, p, adminBase+"/healthz", http.StatusOK)

	do(t, http.MethodPost, base+"/echo/000/anon/xhr", nil, "").want(t, http.StatusOK, "o\n")
	do(t, http.MethodPost, base+"/echo/000/anon/xhr", nil, "").want(t, http.StatusOK, "c[3501,\"Unauthorized\"]\n")

	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "prod-user", "aud": "prod", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	q := "?token=" + tok
	do(t, http.MethodPost, base+"/echo/000/authed/xhr"+q, nil, "").want(t, http.StatusOK, "o\n")
	do(t, http.MethodPost, base+"/echo/000/authed/xhr_send"+q, nil, `["hi"]`).want(t, http.StatusNoContent, "")
	do(t, http.MethodPost, base+"/echo/000/authed/xhr"+q, nil, "").want(t, http.StatusOK, "a[\"hi\"]\n")
	// Without the token the session is not found: it is bound to the subject.
	do(t, http.MethodPost, base+"/echo/000/authed/xhr_send", nil, `["x"]`).want(t, http.StatusNotFound, "Session not found.")

	do(t, http.MethodGet, adminBase+"/api/rooms/lobby", nil, "").want(t, http.StatusUnauthorized, `{"error":"missing or wrong API key"}`+"\n")
	bearer := http.Header{"Authorization": {"Bearer prod-api-key-0123456789"}}
	do(t, http.MethodPost, adminBase+"/api/rooms/lobby/messages", bearer, `{"text":"hello"}`).want(t, http.StatusAccepted, `{"accepted":true}`+"\n")
	do(t, http.MethodPost, adminBase+"/api/sessions/authed/close", bearer, `{"code":3000,"reason":"bye"}`).want(t, http.StatusOK, `{"closed":1}`+"\n")
	do(t, http.MethodPost, base+"/echo/000/authed/xhr"+q, nil, "").want(t, http.StatusOK, "c[3000,\"bye\"]\n")

	if got := metric(t, adminBase+"/metrics", `sockgate_refusals_total{cause="unauthorized"}`); got != 1 {
		t.Errorf("unauthorized refusals: %v; want 1", got)
	}
	if got := metric(t, adminBase+"/metrics", `sockgate_sessions_closed_total{code="3501",reason="Unauthorized"}`); got != 1 {
		t.Errorf("sessions closed with 3501: %v; want 1", got)
	}
	p.Terminate(t)
	logs := p.Out.String()
	if strings.Contains(logs, tok) || strings.Contains(logs, strings.Split(tok, ".")[2]) {
		t.Errorf("the token is in the log:\n%s", testbin.Tail(logs, 4096))
	}
	if strings.Contains(logs, secret) {
		t.Errorf("the secret is in the log")
	}
	if !strings.Contains(logs, `"cause":"unauthorized"`) {
		t.Errorf("the refusal at open is not logged:\n%s", testbin.Tail(logs, 4096))
	}
}

// testIdentityFlagErrors: bad identity settings stop the binary at start
// with exit 2 (a setting it refuses) and a message naming the flag.
func testIdentityFlagErrors(t *testing.T, bin string) {
	dir := t.TempDir()
	short := writeFile(t, dir, "short", "too-short")
	empty := writeFile(t, dir, "empty", "\n")
	good := writeFile(t, dir, "good", strings.Repeat("k", 32))
	notPEM := writeFile(t, dir, "key.pem", "not a key")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing secret file", []string{"-auth-hmac-secret-file", filepath.Join(dir, "nope")}, "-auth-hmac-secret-file"},
		{"short secret", []string{"-auth-hmac-secret-file", short}, "at least 32"},
		{"empty secret", []string{"-auth-hmac-secret-file", empty}, "is empty"},
		{"both keys", []string{"-auth-hmac-secret-file", good, "-auth-public-key-file", notPEM}, "not both"},
		{"bad public key", []string{"-auth-public-key-file", notPEM}, "PEM"},
		{"optional without key", []string{"-auth-optional"}, "need -auth-hmac-secret-file"},
		{"short API key", []string{"-api-key-file", short}, "at least 16"},
		{"bad binding", []string{"-session-binding", "cookie"}, "session binding"},
		{"tokens on compat", []string{"-auth-hmac-secret-file", good, "-engine", "sockjs-go"}, "native engine"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, tc.args...)...)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
				t.Fatalf("%v: exit %v, output %q; want exit 2 saying %q", tc.args, err, out, tc.want)
			}
		})
	}
}
