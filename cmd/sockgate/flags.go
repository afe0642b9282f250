package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// usageError is a bad command line or environment: main prints it as one
// line and exits 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// description is the first line of -help.
const description = "sockgate: a SockJS gateway. Browsers connect with sockjs-client over websocket or an HTTP fallback; services see one session."

// rule checks one flag's value before it is set: check gets the raw text
// and says what is wrong with it; example is a good value, shown in every
// error so that the fix is one copy away.
type rule struct {
	example string
	check   func(v string) error
}

// rules are the value checks of the flags that have constraints beyond
// their type. A flag without one still gets a typed example on a parse
// error (see checkedValue).
var rules = map[string]rule{
	"addr":                    {":8080", hostPort(false)},
	"admin-addr":              {"127.0.0.1:9090", hostPort(true)},
	"engine":                  {"native", oneOf("native", "sockjs-go")},
	"log-format":              {"console", oneOf("json", "console")},
	"log-level":               {"info", oneOf("debug", "info", "warn", "error")},
	"base-path":               {"/sockgate", basePath},
	"heartbeat-delay":         {"25s", duration(time.Millisecond)},
	"disconnect-delay":        {"5s", duration(time.Millisecond)},
	"drain-timeout":           {"10s", duration(0)},
	"proxy-idle-timeout":      {"60s", duration(0)},
	"node-heartbeat":          {"2s", duration(100 * time.Millisecond)},
	"body-read-timeout":       {"10s", duration(time.Millisecond)},
	"max-connections-per-ip":  {"2000", atLeast(0)},
	"response-limit":          {"131072", atLeast(4096)},
	"max-message-bytes":       {"1048576", atLeast(1)},
	"max-queue-bytes":         {"1048576", atLeast(1024)},
	"max-sessions":            {"100000", atLeast(0)},
	"max-sessions-per-ip":     {"1000", atLeast(0)},
	"max-session-id-length":   {"128", atLeast(8)},
	"max-messages-per-second": {"100", atLeast(0)},
	"upstream":                {"/ws/chat=ws://127.0.0.1:9000/ws/chat", nil},

	"websocket-compression-min-bytes": {"256", atLeast(1)},
}

// checkFlags wraps every flag of fs so that a bad value, from the command
// line or the environment, fails with one line naming the flag, the value
// and a good example, and so that the flag package prints no usage dump.
func checkFlags(fs *flag.FlagSet) {
	fs.SetOutput(io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		f.Value = checkedValue{Value: f.Value, name: f.Name, rule: ruleFor(f)}
	})
}

// ruleFor is the flag's rule, or one that only names an example of its
// type.
func ruleFor(f *flag.Flag) rule {
	if r, ok := rules[f.Name]; ok {
		return r
	}
	switch flagValue(f).(type) {
	case time.Duration:
		return rule{example: "10s", check: duration(0)}
	case bool:
		return rule{example: "true"}
	case int, int64, uint, uint64:
		return rule{example: "100", check: atLeast(0)}
	}
	return rule{example: strconv.Quote("...")}
}

// checkedValue is a flag.Value that checks its rule before setting.
type checkedValue struct {
	flag.Value
	name string
	rule rule
}

// Set implements flag.Value.
func (v checkedValue) Set(s string) error {
	if v.rule.check != nil {
		if err := v.rule.check(s); err != nil {
			return fmt.Errorf("%w (for example -%s %s)", err, v.name, v.rule.example)
		}
	}
	if err := v.Value.Set(s); err != nil {
		why := err.Error()
		if generic := strings.Contains(why, "parse error") || strings.Contains(why, "invalid syntax") ||
			strings.Contains(why, "out of range"); generic {
			why = "not a valid value"
		}
		return fmt.Errorf("%s (for example -%s %s)", why, v.name, v.rule.example)
	}
	return nil
}

// IsBoolFlag keeps -flag (without =true) working for boolean flags.
func (v checkedValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// Get implements flag.Getter.
func (v checkedValue) Get() any {
	if g, ok := v.Value.(flag.Getter); ok {
		return g.Get()
	}
	return v.Value.String()
}

// flagValue is f's current value, typed for the flag package's own kinds
// (a custom Value without Get is its text).
func flagValue(f *flag.Flag) any {
	if g, ok := f.Value.(flag.Getter); ok {
		return g.Get()
	}
	return f.Value.String()
}

// parseError rewrites the flag package's error into one line: the flag,
// the value, what is wrong and an example.
func parseError(err error) error {
	msg := err.Error()
	// The flag package says: invalid value "25" for flag -heartbeat-delay: <our error>
	// (for a boolean: invalid boolean value "x" for -name: <our error>).
	rest, ok := strings.CutPrefix(msg, "invalid value ")
	sep := " for flag "
	if !ok {
		rest, ok = strings.CutPrefix(msg, "invalid boolean value ")
		sep = " for "
	}
	if ok {
		if val, tail, ok := strings.Cut(rest, sep); ok {
			if name, why, ok := strings.Cut(tail, ": "); ok {
				msg = fmt.Sprintf("%s %s: %s", name, val, why)
			}
		}
	}
	if strings.HasPrefix(msg, "flag provided but not defined: ") {
		msg += " (sockgate -help lists every flag)"
	}
	return usageError{errors.New(msg)}
}

func duration(min time.Duration) func(string) error {
	return func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
				return errors.New("a duration needs a unit")
			}
			return errors.New("not a duration")
		}
		if d < min || d < 0 {
			if min == 0 {
				return errors.New("must not be negative")
			}
			return fmt.Errorf("must be at least %s", min)
		}
		return nil
	}
}

func atLeast(min int) func(string) error {
	return func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return errors.New("not a whole number")
		}
		if n < min {
			return fmt.Errorf("must be at least %d", min)
		}
		return nil
	}
}

func oneOf(choices ...string) func(string) error {
	return func(s string) error {
		for _, c := range choices {
			if s == c {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(choices, ", "))
	}
}

func hostPort(emptyOK bool) func(string) error {
	return func(s string) error {
		if s == "" && emptyOK {
			return nil
		}
		_, port, err := net.SplitHostPort(s)
		if err != nil {
			return errors.New("not host:port")
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return fmt.Errorf("port %q is not a number from 0 to 65535", port)
		}
		return nil
	}
}

func basePath(s string) error {
	if s != "" && !strings.HasPrefix(s, "/") {
		return errors.New("must start with /")
	}
	return nil
}

// printUsage writes -help: the description, how the environment maps to
// flags, and every flag with its default.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, description)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: sockgate [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every flag can also be set in the environment as SOCKGATE_<NAME>, upper-case with - as _")
	fmt.Fprintln(w, "(for example SOCKGATE_ALLOWED_ORIGINS=https://app.example.com). A flag on the command line wins.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags:")
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  -%s %s\n    \t%s", f.Name, typeName(f), f.Usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "\n    \tenvironment: SOCKGATE_%s\n", strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")))
	})
}

// typeName is the kind of value a flag takes, as -help shows it.
func typeName(f *flag.Flag) string {
	switch flagValue(f).(type) {
	case time.Duration:
		return "duration"
	case bool:
		return ""
	case int, int64, uint, uint64:
		return "int"
	}
	return "string"
}
