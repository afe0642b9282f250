package sockjsclient

import (
	"context"
	"sync"
)

// queue is the unbounded FIFO of received messages Recv reads, followed by
// the terminal error. It never blocks the receiving goroutine, so a slow
// reader never stalls heartbeats or polling (like a browser's event queue).
type queue struct {
	mu     sync.Mutex
	msgs   []string
	head   int
	err    error
	notify chan struct{} // cap 1: "something was pushed"
	done   chan struct{} // closed when err is set
}

func (q *queue) init() {
	q.notify = make(chan struct{}, 1)
	q.done = make(chan struct{})
}

func (q *queue) push(msgs []string) {
	if len(msgs) == 0 {
		return
	}
	q.mu.Lock()
	if q.head > 0 && q.head >= len(q.msgs)/2 {
		// Drop the consumed front before append can grow the slice.
		n := copy(q.msgs, q.msgs[q.head:])
		clear(q.msgs[n:])
		q.msgs, q.head = q.msgs[:n], 0
	}
	q.msgs = append(q.msgs, msgs...)
	q.mu.Unlock()
	q.signal()
}

func (q *queue) signal() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// fail sets the terminal error once.
func (q *queue) fail(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err == nil {
		q.err = err
		close(q.done)
	}
}

func (q *queue) terminal() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

func (q *queue) pop(ctx context.Context) (string, error) {
	for {
		if msg, err, ok := q.tryPop(); ok {
			return msg, err
		}
		select {
		case <-q.notify:
		case <-q.done:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (q *queue) tryPop() (string, error, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head < len(q.msgs) {
		msg := q.msgs[q.head]
		q.msgs[q.head] = ""
		q.head++
		if q.head < len(q.msgs) {
			q.signal() // wake another waiting Recv
		}
		return msg, nil, true
	}
	if q.err != nil {
		return "", q.err, true
	}
	return "", nil, false
}
