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
	workers int
}

// submit flushes the members of chunk (Room.BroadcastLocal makes chunks of
// flushChunk); chunks are taken in order of submission. It returns at once.
func (f *flusher) submit(chunk []fastMember) {
	if len(chunk) == 0 {
		return
	}
	f.mu.Lock()
	f.pending = append(f.pending, chunk)
	start := f.workers < runtime.GOMAXPROCS(0)
	if start {
		f.workers++
	}
	f.mu.Unlock()
	if start {
		go f.work()
	}
}

// work flushes chunks until none is left.
func (f *flusher) work() {
	for {
		f.mu.Lock()
		if len(f.pending) == 0 {
			f.workers--
			f.mu.Unlock()
			return
		}
		chunk := f.pending[0]
		f.pending[0] = nil
		f.pending = f.pending[1:] // append reallocates without the taken head
		f.mu.Unlock()
		for _, m := range chunk {
			m.FlushShared()
		}
	}
}
