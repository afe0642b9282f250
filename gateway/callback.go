package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Callback errors, answered with 500 and these texts.
var (
	errCallbackRequired = errors.New(`"callback" parameter required`)
	errCallbackInvalid  = errors.New(`invalid "callback" parameter`)
)

// maxCallbackLen bounds a callback name, as on the reference server;
// sockjs-client's are far shorter.
const maxCallbackLen = 32

// callbackParam reads and validates the "c" query parameter of htmlfile and
// jsonp: only [a-zA-Z0-9-_.] is allowed, so it cannot inject script.
func callbackParam(r *http.Request) (string, error) {
	cb, found := queryValue(r.URL.RawQuery, "c")
	if !found || cb == "" {
		return "", errCallbackRequired
	}
	if !validCallback(cb) {
		return "", errCallbackInvalid
	}
	return cb, nil
}

// validCallback reports whether cb is a safe JavaScript callback name.
func validCallback(cb string) bool {
	if cb == "" || len(cb) > maxCallbackLen {
		return false
	}
	for i := 0; i < len(cb); i++ {
		c := cb[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// queryValue returns the first value of key in a raw query. Unlike
// url.ParseQuery it splits on '&' only, so "c=a;b" reads as "a;b" and is
// refused as invalid rather than silently dropped.
func queryValue(rawQuery, key string) (string, bool) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k != key {
			continue
		}
		if u, err := url.QueryUnescape(v); err == nil {
			return u, true
		}
		return v + "%", true // undecodable: kept invalid on purpose
	}
	return "", false
}
