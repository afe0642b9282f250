package main

import (
	"flag"
	"os"
	"regexp"
	"testing"
)

// TestREADMEFlags: every flag of -help has a row in the README's flags
// table, and every row names a flag that exists.
func TestREADMEFlags(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `-([a-z0-9-]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		rows[m[1]] = true
	}
	flags := map[string]bool{}
	fs := commandFlags()
	fs.VisitAll(func(f *flag.Flag) { flags[f.Name] = true })
	for name := range flags {
		if !rows[name] {
			t.Errorf("-%s is in -help but has no row in the README flags table", name)
		}
	}
	for name := range rows {
		if !flags[name] {
			t.Errorf("the README documents -%s, which sockgate does not have", name)
		}
	}
}

// commandFlags is the command's flag set, as -help lists it.
func commandFlags() *flag.FlagSet {
	var fs *flag.FlagSet
	_, _ = parseConfigFlags(nil, func(string) string { return "" }, func(f *flag.FlagSet) { fs = f })
	return fs
}
