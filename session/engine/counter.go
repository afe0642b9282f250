package engine

import (
	"context"
	"sync"
	"sync/atomic"
)

// Counter counts sessions in one state (see Options.Busy and
// Options.Unfinished), so that a drain can wait until none is, on a
// channel, without walking the sessions. The zero value counts zero; a nil
// *Counter counts nothing. Safe for concurrent use.
type Counter struct {
	n       atomic.Int64
	waiting atomic.Bool // a Wait is (or was) waiting: an add to zero signals
	mu      sync.Mutex
	zero    chan struct{} // made by Wait; closed by the add that reaches zero
}

// add moves the count by d and signals a waiter when it reaches zero.
func (c *Counter) add(d int64) {
	if c == nil {
		return
	}
	if c.n.Add(d) != 0 || !c.waiting.Load() {
		return
	}
	c.mu.Lock()
	if c.zero != nil && c.n.Load() == 0 {
		close(c.zero)
		c.zero = nil
	}
	c.mu.Unlock()
}

// Len is the count now.
func (c *Counter) Len() int { return int(c.n.Load()) }

// Wait blocks until the count is zero, and reports true, or until ctx
// ends, and reports false.
func (c *Counter) Wait(ctx context.Context) bool {
	c.waiting.Store(true)
	for {
		c.mu.Lock()
		if c.n.Load() == 0 {
			c.mu.Unlock()
			return true
		}
		if c.zero == nil {
			c.zero = make(chan struct{})
		}
		ch := c.zero
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}
