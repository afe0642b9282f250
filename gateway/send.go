package gateway

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/engine"
)

// serveXHRSend takes messages posted as a JSON array: 204 when delivered.
func (svc *service) serveXHRSend(w http.ResponseWriter, r *http.Request, sid string) {
	h := w.Header()
	setNoCache(h)
	setCORS(w, r)
	svc.setCookie(w, r)
	if !svc.deliver(w, r, sid, false) {
		return
	}
	h["Content-Type"] = hdrContentTypeTx
	w.WriteHeader(http.StatusNoContent)
}

// serveJSONPSend takes messages posted as a form field d=<JSON array> or a
// raw JSON body: 200 "ok" when delivered.
func (svc *service) serveJSONPSend(w http.ResponseWriter, r *http.Request, sid string) {
	setNoCache(w.Header())
	svc.setCookie(w, r)
	if !svc.deliver(w, r, sid, true) {
		return
	}
	writeText(w, http.StatusOK, "ok")
}

// deliver reads, decodes and delivers a send request's messages, answering
// the error itself and returning false when it fails.
func (svc *service) deliver(w http.ResponseWriter, r *http.Request, sid string, form bool) bool {
	c := svc.srv.identify(r)
	key := svc.srv.bindKey(sid, c)
	s := svc.reg.Get(key)
	if s == nil {
		if forwarded, ok := svc.forwardSend(w, r, sid, key, form); forwarded {
			return ok // the session lives on another node
		}
		svc.noteForeign(sid, key, c)
		writeText(w, http.StatusNotFound, "Session not found.")
		return false
	}
	body, ok := svc.readPayload(w, r, form)
	if !ok {
		return false
	}
	msgs, err := engine.DecodeMessages(body)
	if err != nil {
		writeText(w, http.StatusInternalServerError, decodeErrorText(err))
		return false
	}
	switch err := s.DeliverAndWait(r.Context(), msgs); {
	case errors.Is(err, engine.ErrRateLimited):
		// The session is closed with c[3009,...], which the client gets
		// on its receiving request; failing the send would hide it.
		svc.srv.metrics.refused(refusedRateLimited)
	case err != nil && !errors.Is(err, session.ErrClosed):
		writeText(w, http.StatusServiceUnavailable, "Could not deliver the messages.")
		return false
	}
	return true
}

// readPayload reads a send request's payload (the d field of a form for
// jsonp_send), answering the error itself and returning false when it
// cannot. A forwarded send validates it here too, so that bad input gets
// the same answer on every node.
func (svc *service) readPayload(w http.ResponseWriter, r *http.Request, form bool) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(svc.cfg.MaxMessageBytes)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			svc.srv.metrics.refused(refusedTooLarge)
			writeText(w, http.StatusRequestEntityTooLarge, "Payload too large.")
			return nil, false
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The connection cannot carry another request: what is left
			// of this body would be read as one.
			svc.srv.metrics.refused(refusedBodyTimeout)
			w.Header().Set("Connection", "close")
			writeText(w, http.StatusRequestTimeout, "Request body not received in time.")
			return nil, false
		}
		writeText(w, http.StatusBadRequest, "Could not read the request body.")
		return nil, false
	}
	if form && isForm(r) {
		body = formPayload(body)
	}
	return body, true
}

// decodeErrorText is the SockJS answer to a payload that did not decode.
func decodeErrorText(err error) string {
	if errors.Is(err, engine.ErrPayloadExpected) {
		return "Payload expected."
	}
	return "Broken JSON encoding."
}

func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded"
}

// formPayload returns the d field of a form body, or nothing.
func formPayload(body []byte) []byte {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil
	}
	return []byte(v.Get("d"))
}
