package gateway

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/engine"
)

// ChatAPI is what the backend API's room calls ask of the chat service
// (services.Chat implements it through an adapter in cmd/sockgate).
type ChatAPI interface {
	// PostMessage posts text into room as nick, as a member would.
	PostMessage(ctx context.Context, room, nick, text string) error
	// RoomState returns room's members and last messages, JSON-encodable.
	RoomState(ctx context.Context, room string) (any, error)
}

// Control carries the backend API's closes to every node of a cluster
// (cluster.Control implements it). Each call returns how many sessions
// were closed, on every node, this one included.
type Control interface {
	// CloseSession closes every session with id on any node.
	CloseSession(ctx context.Context, id string, code int, reason string) (int, error)
	// DisconnectUser closes every session whose token names subject.
	DisconnectUser(ctx context.Context, subject string, code int, reason string) (int, error)
}

// badInput is an error a ChatAPI returns for input it cannot take (400).
type badInput interface{ BadInput() bool }

// API limits.
const (
	// apiMaxBody bounds the JSON body of an API call.
	apiMaxBody = 64 << 10
	// apiTimeout bounds one API call, cluster round trips included.
	apiTimeout = 10 * time.Second
	// apiMaxReason bounds a close reason, in bytes.
	apiMaxReason = 123 // what fits a websocket close frame
)

// apiPrefix is where the backend API is mounted: every path that starts
// with it, as gorilla/mux's PathPrefix matches.
const apiPrefix = "/api"

// registerAPIRoutes mounts the backend API under /api/ on r.
func (s *Server) registerAPIRoutes(r *mux.Router) {
	api := r.PathPrefix(apiPrefix).Subrouter()
	api.Use(s.apiAuth)
	api.HandleFunc("/rooms/{room}/messages", s.apiPostMessage).Methods(http.MethodPost)
	api.HandleFunc("/rooms/{room}", s.apiRoom).Methods(http.MethodGet)
	api.HandleFunc("/sessions/{id}/close", s.apiCloseSession).Methods(http.MethodPost)
	api.HandleFunc("/users/{sub}/disconnect", s.apiDisconnectUser).Methods(http.MethodPost)
	api.NotFoundHandler = s.apiAuth(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusNotFound, "no such API call")
	}))
	api.MethodNotAllowedHandler = s.apiAuth(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusMethodNotAllowed, "method not allowed")
	}))
}

// apiAuth lets through only calls with "Authorization: Bearer <key>",
// compared in constant time; the rest get 401.
func (s *Server) apiAuth(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.cfg.APIKey)
	return routeLabel("api", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			s.metrics.refused(refusedAPIKey)
			w.Header().Set("WWW-Authenticate", `Bearer realm="sockgate"`)
			apiError(w, http.StatusUnauthorized, "missing or wrong API key")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	}))
}

// refusedAPIKey labels API calls refused for their key.
const refusedAPIKey = "api_key"

func (s *Server) apiPostMessage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Text string `json:"text"`
		Nick string `json:"nick"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if s.cfg.Chat == nil {
		apiError(w, http.StatusNotFound, "no chat service")
		return
	}
	if err := s.cfg.Chat.PostMessage(r.Context(), mux.Vars(r)["room"], in.Nick, in.Text); err != nil {
		s.apiFailure(w, "post message", err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"accepted": true})
}

func (s *Server) apiRoom(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Chat == nil {
		apiError(w, http.StatusNotFound, "no chat service")
		return
	}
	st, err := s.cfg.Chat.RoomState(r.Context(), mux.Vars(r)["room"])
	if err != nil {
		s.apiFailure(w, "read room", err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// closeRequest is the body of the close calls; both fields are optional.
type closeRequest struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// readClose reads a close call's body, answering 400 itself for a code a
// client may not be sent or a reason too long for a close frame.
func readClose(w http.ResponseWriter, r *http.Request) (closeRequest, bool) {
	in := closeRequest{Code: session.CodeGoAway, Reason: session.ReasonGoAway}
	if !readJSON(w, r, &in) {
		return in, false
	}
	if in.Code != session.CodeNormal && (in.Code < 3000 || in.Code > 4999) || len(in.Reason) > apiMaxReason {
		apiError(w, http.StatusBadRequest, "code must be 1000 or 3000-4999, reason at most 123 bytes")
		return in, false
	}
	return in, true
}

func (s *Server) apiCloseSession(w http.ResponseWriter, r *http.Request) {
	in, ok := readClose(w, r)
	if !ok {
		return
	}
	id := mux.Vars(r)["id"]
	s.apiClosed(w, "session", id, func() (int, error) {
		if s.cfg.Control != nil {
			return s.cfg.Control.CloseSession(r.Context(), id, in.Code, in.Reason)
		}
		return s.CloseSession(id, in.Code, in.Reason), nil
	})
}

func (s *Server) apiDisconnectUser(w http.ResponseWriter, r *http.Request) {
	in, ok := readClose(w, r)
	if !ok {
		return
	}
	sub := mux.Vars(r)["sub"]
	s.apiClosed(w, "user", sub, func() (int, error) {
		if s.cfg.Control != nil {
			return s.cfg.Control.DisconnectUser(r.Context(), sub, in.Code, in.Reason)
		}
		return s.DisconnectUser(sub, in.Code, in.Reason), nil
	})
}

// apiClosed runs a close and answers how many sessions it closed, 404 for
// none.
func (s *Server) apiClosed(w http.ResponseWriter, what, name string, close func() (int, error)) {
	n, err := close()
	switch {
	case err != nil:
		s.apiFailure(w, "close "+what, err)
	case n == 0:
		apiError(w, http.StatusNotFound, "no open session for this "+what)
	default:
		s.log.Info().Str(what, name).Int("closed", n).Msg("sessions closed through the API")
		writeJSON(w, http.StatusOK, map[string]int{"closed": n})
	}
}

// apiFailure maps a failed call to its status: 400 for bad input, 503 for
// the rest (the cluster bus away, a timeout).
func (s *Server) apiFailure(w http.ResponseWriter, what string, err error) {
	var bad badInput
	if errors.As(err, &bad) && bad.BadInput() {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.log.Warn().Err(err).Msg("API: " + what)
	apiError(w, http.StatusServiceUnavailable, what+" failed; try again")
}

// readJSON decodes an API call's body into v (an empty body keeps v's
// defaults), answering 400 itself when it cannot.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, apiMaxBody))
	if err != nil {
		apiError(w, http.StatusBadRequest, "could not read the body (at most 64 KiB)")
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("body is not the expected JSON object: %v", err))
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		apiError(w, http.StatusBadRequest, "body has more than one JSON value")
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	setNoCache(h)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// CloseSession closes every session of this node whose id is id (with
// address binding, other clients may use the same id for sessions of
// their own) and returns how many it closed.
func (s *Server) CloseSession(id string, code int, reason string) int {
	return s.closeWhere(code, reason, func(ss session.Session) bool { return ss.ID() == id })
}

// DisconnectUser closes every session of this node whose token names
// subject and returns how many it closed.
func (s *Server) DisconnectUser(subject string, code int, reason string) int {
	return s.closeWhere(code, reason, func(ss session.Session) bool {
		u := ss.Request().User
		return u != nil && u.Subject == subject
	})
}

// closeWhere closes the open sessions of every service that match.
func (s *Server) closeWhere(code int, reason string, match func(session.Session) bool) int {
	n := 0
	closeIt := func(ss session.Session) {
		select {
		case <-ss.Done():
			return // closed already
		default:
		}
		if match(ss) {
			_ = ss.Close(code, reason)
			n++
		}
	}
	for _, svc := range s.services {
		svc.reg.Range(func(ss *engine.SockJS) bool { closeIt(ss); return true })
		for _, ss := range svc.ws.snapshot() {
			closeIt(ss)
		}
	}
	return n
}
