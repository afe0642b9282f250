package engine

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// Handler progress. The reference server runs an application's message
// handler synchronously, so when an xhr_send is answered its echo is
// already queued, and when "o" reaches a client its handler has set itself
// up (joined its rooms). sockgate runs handlers in their own goroutines;
// these two waits give the same guarantees for handlers written in the
// usual Recv loop, each bounded so that a slow handler cannot stall its
// transport.

// Bounds of the waits.
const (
	// OpenGrace bounds how long the open frame waits for the handler to
	// reach its first Recv (or Send, Close, or return).
	OpenGrace = 250 * time.Millisecond
	// SendGrace bounds how long a send request waits for the handler to
	// be done with the messages it delivered.
	SendGrace = 250 * time.Millisecond
)

// progress tracks a handler through the messages delivered to it. A
// message counts as handled once the handler asks for the next one (or
// returns).
type progress struct {
	readyOnce sync.Once
	ready     chan struct{}

	mu        sync.Mutex
	delivered uint64        // messages put into the inbox
	taken     uint64        // messages Recv returned
	handled   uint64        // messages taken before the latest Recv call
	waiters   int           // goroutines in waitHandled
	advanced  chan struct{} // closed when handled moves, if waiters > 0
	done      bool          // the handler takes no more messages
	busy      *Counter      // counts the session while handled < delivered
	counted   bool          // the session is counted in busy
}

func newProgress(busy *Counter) progress {
	return progress{ready: make(chan struct{}), busy: busy}
}

// countLocked keeps the session counted in busy exactly while a message
// delivered is not handled.
func (p *progress) countLocked() {
	if b := p.handled < p.delivered; b != p.counted {
		p.counted = b
		if b {
			p.busy.add(1)
		} else {
			p.busy.add(-1)
		}
	}
}

// markReady records that the handler has set itself up.
func (p *progress) markReady() { p.readyOnce.Do(func() { close(p.ready) }) }

// waitReady waits for markReady, OpenGrace, or ctx.
func (p *progress) waitReady(ctx context.Context) {
	select {
	case <-p.ready:
		return
	default:
	}
	t := time.NewTimer(OpenGrace)
	defer t.Stop()
	select {
	case <-p.ready:
	case <-t.C:
	case <-ctx.Done():
	}
}

// delivering counts n more messages and returns the sequence number the
// last of them will have.
func (p *progress) delivering(n int) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delivered += uint64(n)
	if p.done { // nobody will take it: handled as far as anyone waits
		p.handled = p.delivered
	}
	p.countLocked()
	return p.delivered
}

// took counts one message returned by Recv.
func (p *progress) took() {
	p.mu.Lock()
	p.taken++
	p.mu.Unlock()
}

// asking records that the handler asks for its next message, so every
// message taken so far is handled; all reports that the handler is done
// with every message it will ever take.
func (p *progress) asking(all bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if all {
		p.done = true
	}
	target := p.taken
	if p.done {
		target = p.delivered
	}
	if target == p.handled {
		return
	}
	p.handled = target
	p.countLocked()
	if p.waiters > 0 && p.advanced != nil {
		close(p.advanced)
		p.advanced = nil
	}
}

// waitHandled waits until the message numbered seq is handled, SendGrace
// passes, done closes or ctx ends.
func (p *progress) waitHandled(ctx context.Context, seq uint64, done <-chan struct{}) {
	// A handler in a Recv loop usually catches up as soon as it runs: let
	// it, before paying for a timer and a channel.
	for range 3 {
		if p.handledUpTo(seq) {
			return
		}
		runtime.Gosched()
	}
	var timer *time.Timer
	for {
		p.mu.Lock()
		if p.handled >= seq {
			p.mu.Unlock()
			return
		}
		if p.advanced == nil {
			p.advanced = make(chan struct{})
		}
		ch := p.advanced
		p.waiters++
		p.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(SendGrace)
			defer timer.Stop()
		}
		var stop bool
		select {
		case <-ch:
		case <-timer.C:
			stop = true
		case <-done:
			stop = true
		case <-ctx.Done():
			stop = true
		}
		p.mu.Lock()
		p.waiters--
		p.mu.Unlock()
		if stop {
			return
		}
	}
}

func (p *progress) handledUpTo(seq uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handled >= seq
}
