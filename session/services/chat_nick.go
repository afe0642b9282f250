package services

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// nickFold folds case for nickKey; a cases.Caser is not safe for
// concurrent use, so each call makes its own (they are cheap).
func nickFold() cases.Caser { return cases.Fold() }

// normalizeNick checks a nickname and returns it in Unicode NFC, the form
// every node shows and stores; or an error message for bad_nick. Refused:
// an empty or over-long name, invalid UTF-8, leading or trailing spaces,
// white space other than the plain space, and every control, format
// (zero-width, bidi embedding and isolate, soft hyphen...), private-use,
// surrogate or unassigned character, so that nothing invisible can make
// "ann" and another "ann" differ.
func normalizeNick(nick string, maxRunes int) (string, string) {
	if !utf8.ValidString(nick) {
		return "", "nickname is not valid UTF-8"
	}
	nick = norm.NFC.String(nick)
	n := utf8.RuneCountInString(nick)
	switch {
	case n == 0:
		return "", "nickname is empty"
	case n > maxRunes:
		return "", fmt.Sprintf("nickname is longer than %d characters", maxRunes)
	case strings.HasPrefix(nick, " ") || strings.HasSuffix(nick, " "):
		return "", "nickname starts or ends with a space"
	}
	for _, r := range nick {
		if msg := badNickRune(r); msg != "" {
			return "", fmt.Sprintf("nickname has %s (U+%04X)", msg, r)
		}
	}
	return nick, ""
}

// badNickRune says what is wrong with r in a nickname, or "".
func badNickRune(r rune) string {
	switch {
	case r == utf8.RuneError:
		return "an invalid character"
	case unicode.IsControl(r):
		return "a control character"
	case unicode.Is(unicode.Cf, r):
		return "an invisible format character (zero-width or bidi control)"
	case r != ' ' && unicode.IsSpace(r), unicode.In(r, unicode.Zl, unicode.Zp):
		return "white space other than a plain space"
	case unicode.In(r, unicode.Co, unicode.Cs):
		return "a private-use character"
	case unicode.In(r, unicode.Variation_Selector):
		return "a variation selector"
	case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs):
		return "an unassigned character"
	}
	return ""
}

// nickKey is what two nicknames must not share in one room: the NFKC form
// of the case-folded name, so "Ann", "ann" and "ａｎｎ" (full-width) are
// one nickname.
func nickKey(nick string) string {
	return norm.NFKC.String(nickFold().String(nick))
}
