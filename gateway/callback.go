package gateway

import (
	"errors"
	"net/http"
)

// Callback errors, answered with 500 and these texts.
var (
	errCallbackRequired = errors.New(`"callback" parameter required`)
	errCallbackInvalid  = errors.New(`invalid "callback" parameter`)
)

// maxCallbackLen bounds a callback name; sockjs-client's are short.
const maxCallbackLen = 256

// callbackParam reads and validates the "c" query parameter of htmlfile and
// jsonp: only [a-zA-Z0-9-_.] is allowed, so it cannot inject script.
func callbackParam(r *http.Request) (string, error) {
	cb := r.URL.Query().Get("c")
	if cb == "" {
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
