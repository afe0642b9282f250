package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/sockgate/sockgate/test/sockjsclient"
)

// errMismatch is an echo that is not the message sent.
var errMismatch = errors.New("echo differs from the message sent")

// errorCounter counts errors by kind ("<stage>:<class>") and keeps the
// first message of each kind. Safe for concurrent use.
type errorCounter struct {
	mu       sync.Mutex
	kinds    map[string]int64
	samples  map[string]string
	total    atomic.Int64
	spurious atomic.Int64
}

func newErrorCounter() *errorCounter {
	return &errorCounter{kinds: map[string]int64{}, samples: map[string]string{}}
}

// add counts err, which happened while doing stage ("dial", "echo", ...).
func (e *errorCounter) add(stage string, err error) {
	class := classify(err)
	if class == "close_2010" {
		e.spurious.Add(1)
	}
	e.total.Add(1)
	kind := stage + ":" + class
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kinds[kind] == 0 {
		e.samples[kind] = err.Error()
	}
	e.kinds[kind]++
}

// classify names the cause of err for grouping.
func classify(err error) string {
	var ce *sockjsclient.CloseError
	var he *sockjsclient.HTTPError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return "close_" + strconv.Itoa(ce.Code)
	case errors.As(err, &he):
		return "http_" + strconv.Itoa(he.StatusCode)
	case errors.Is(err, errMismatch):
		return "mismatch"
	case errors.Is(err, errNotJoined):
		return "not_joined"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, sockjsclient.ErrBadFrame):
		return "bad_frame"
	}
	return "other"
}

// snapshot copies the counts and samples.
func (e *errorCounter) snapshot() (map[string]int64, map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	kinds := make(map[string]int64, len(e.kinds))
	samples := make(map[string]string, len(e.samples))
	for k, v := range e.kinds {
		kinds[k] = v
		samples[k] = e.samples[k]
	}
	return kinds, samples
}

// errorLines formats error counts and samples by kind, most frequent first.
func errorLines(kinds map[string]int64, samples map[string]string) []string {
	keys := make([]string, 0, len(kinds))
	for k := range kinds {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if kinds[keys[i]] != kinds[keys[j]] {
			return kinds[keys[i]] > kinds[keys[j]]
		}
		return keys[i] < keys[j]
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%6d x %s (first: %s)", kinds[k], k, samples[k])
	}
	return out
}
