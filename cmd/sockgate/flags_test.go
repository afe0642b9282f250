package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestBadValues: every bad value is one line naming the flag, the value and
// a good example, and exits 2; the cases first.
func TestBadValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string // the whole line after "sockgate: "
	}{
		{[]string{"-log-level", "loud"}, nil, `-log-level "loud": must be one of debug, info, warn, error (for example -log-level info)`},
		{[]string{"-heartbeat-delay", "25"}, nil, `-heartbeat-delay "25": a duration needs a unit (for example -heartbeat-delay 25s)`},
		{[]string{"-max-sessions", "-5"}, nil, `-max-sessions "-5": must be at least 0 (for example -max-sessions 100000)`},
		{[]string{"-disconnect-delay", "-1s"}, nil, `-disconnect-delay "-1s": must be at least 1ms (for example -disconnect-delay 5s)`},
		{[]string{"-response-limit", "10"}, nil, `-response-limit "10": must be at least 4096 (for example -response-limit 131072)`},
		{[]string{"-log-format", "xml"}, nil, `-log-format "xml": must be one of json, console (for example -log-format console)`},
		{[]string{"-engine", "fast"}, nil, `-engine "fast": must be one of native, sockjs-go (for example -engine native)`},
		{[]string{"-addr", "8080"}, nil, `-addr "8080": not host:port (for example -addr :8080)`},
		{[]string{"-base-path", "sg"}, nil, `-base-path "sg": must start with / (for example -base-path /sockgate)`},
		{[]string{"-drain-timeout", "-1s"}, nil, `-drain-timeout "-1s": must not be negative (for example -drain-timeout 10s)`},
		{[]string{"-max-queue-bytes", "lots"}, nil, `-max-queue-bytes "lots": not a whole number (for example -max-queue-bytes 1048576)`},
		{[]string{"-max-session-id-length", "2"}, nil, `-max-session-id-length "2": must be at least 8 (for example -max-session-id-length 128)`},
		{[]string{"-node-heartbeat", "1ms"}, nil, `-node-heartbeat "1ms": must be at least 100ms (for example -node-heartbeat 2s)`},
		{[]string{"-jsessionid=maybe"}, nil, `-jsessionid "maybe": not a valid value (for example -jsessionid true)`},
		{[]string{"-nope"}, nil, `flag provided but not defined: -nope (sockgate -help lists every flag)`},
		{[]string{"extra"}, nil, `unexpected argument "extra": every setting is a -flag (sockgate -help lists them)`},
		{nil, map[string]string{"SOCKGATE_HEARTBEAT_DELAY": "25"}, `SOCKGATE_HEARTBEAT_DELAY="25": a duration needs a unit (for example -heartbeat-delay 25s)`},
		{nil, map[string]string{"SOCKGATE_DISCONNECT_DELAY": "soon"}, `SOCKGATE_DISCONNECT_DELAY="soon": not a duration (for example -disconnect-delay 5s)`},
	} {
		t.Run(strings.Join(tc.args, " ")+fmtEnv(tc.env), func(t *testing.T) {
			t.Parallel()
			_, err := parseConfig(tc.args, env(tc.env))
			var stdout, stderr bytes.Buffer
			if code := exitCode(err, &stdout, &stderr); code != 2 {
				t.Fatalf("exit code %d (err %v), want 2", code, err)
			}
			if got := stderr.String(); got != "sockgate: "+tc.want+"\n" {
				t.Errorf("stderr:\n%q\nwant\n%q", got, "sockgate: "+tc.want+"\n")
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing (no usage dump)", stdout.String())
			}
		})
	}
}

func fmtEnv(m map[string]string) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k + "=" + v)
	}
	return b.String()
}

// TestGoodValuesPass: the examples the errors offer are themselves accepted.
func TestGoodValuesPass(t *testing.T) {
	t.Parallel()
	for name, r := range rules {
		if _, err := parseConfig([]string{"-" + name, r.example}, env(nil)); err != nil {
			t.Errorf("-%s %s: %v", name, r.example, err)
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	_, err := parseConfig([]string{"-help"}, env(nil))
	var stdout, stderr bytes.Buffer
	if code := exitCode(err, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	out := stdout.String()
	if first, _, _ := strings.Cut(out, "\n"); first != description {
		t.Errorf("first line %q, want the description", first)
	}
	for _, want := range []string{"SOCKGATE_<NAME>", "-heartbeat-delay duration", "(default 25s)", "environment: SOCKGATE_MAX_SESSIONS_PER_IP"} {
		if !strings.Contains(out, want) {
			t.Errorf("-help lacks %q", want)
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	c, err := parseConfig([]string{"-version"}, env(nil))
	if err != nil || !c.version {
		t.Fatalf("-version: %v %v", c.version, err)
	}
	if line := versionLine(); !strings.HasPrefix(line, "sockgate ") || !strings.Contains(line, "commit ") {
		t.Errorf("version line %q", line)
	}
}

func TestRuntimeErrorsExit1(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := exitCode(errors.New("listen: address in use"), &stdout, &stderr); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}
