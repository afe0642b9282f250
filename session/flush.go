package session

import (
	"runtime"
	"sync"
)

// flushChunk is how many members one flusher takes at a time: small
// enough that the flushers share a large room's writes, large enough that
// taking a chunk costs little beside its writes.
const flushChunk = 128

// flusher writes the connections of the members a Room queued a broadcast
// for, in goroutines of its own: at most one per CPU, started when there
// is work and ended when there is none, so an idle room holds no
// goroutine. The zero value is ready.
type flusher struct {
	mu      sync.Mutex
	pending [][]fastMember // chunks of members to flush, oldest first
	head    int            // pending[:head] are taken
	workers int
}

// submit flushes ms, in order of submission chunk by chunk; it returns at
// once.
func (f *flusher) submit(ms []fastMember) {
	if len(ms) == 0 {
		return
	}
	f.mu.Lock()
	for len(ms) > 0 {
		n := min(len(ms), flushChunk)
		f.pending = append(f.pending, ms[:n:n])
		ms = ms[n:]
	}
	start := min(runtime.GOMAXPROCS(0)-f.workers, len(f.pending)-f.head)
	f.workers += max(start, 0)
	f.mu.Unlock()
	for range start {
		go f.work()
	}
}

// work flushes chunks until none is left.
func (f *flusher) work() {
	for {
		f.mu.Lock()
		if f.head == len(f.pending) {
			f.pending, f.head = f.pending[:0], 0
			f.workers--
			f.mu.Unlock()
			return
		}
		chunk := f.pending[f.head]
		f.pending[f.head] = nil
		f.head++
		if f.head >= 64 && 2*f.head >= len(f.pending) {
			// Never empty at saturation: drop the taken head.
			n := copy(f.pending, f.pending[f.head:])
			clear(f.pending[n:])
			f.pending, f.head = f.pending[:n], 0
		}
		f.mu.Unlock()
		for _, m := range chunk {
			m.FlushShared()
		}
	}
}
