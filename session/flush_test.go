package session

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingMember is a fastMember that counts its flushes.
type countingMember struct {
	flushes atomic.Int64
}

func (m *countingMember) EncodeShared(msg string) []byte { return []byte(msg) }
func (m *countingMember) QueueShared(string, []byte) (flush, over bool, err error) {
	return true, false, nil
}
func (m *countingMember) FlushShared()            { m.flushes.Add(1) }
func (m *countingMember) AwaitSoftMark(time.Time) {}

// waitIdle waits until f has no worker left, or fails.
func waitIdle(t *testing.T, f *flusher) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		workers, left := f.workers, len(f.pending)
		f.mu.Unlock()
		if workers == 0 && left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("flusher still busy: %d workers, %d chunks left", workers, left)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFlusherFlushesEachOnce: every member submitted is flushed once per
// submission, from several goroutines submitting at once, and the workers
// end when there is nothing left (an idle room holds no goroutine).
func TestFlusherFlushesEachOnce(t *testing.T) {
	t.Parallel()
	var f flusher
	members := make([]*countingMember, 1000)
	batch := make([]fastMember, len(members))
	for i := range members {
		members[i] = &countingMember{}
		batch[i] = members[i]
	}
	const submitters, rounds = 4, 50
	var wg sync.WaitGroup
	for range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				for i := 0; i < len(batch); i += flushChunk {
					f.submit(batch[i:min(i+flushChunk, len(batch))])
				}
			}
		}()
	}
	wg.Wait()
	waitIdle(t, &f)
	for i, m := range members {
		if got := m.flushes.Load(); got != submitters*rounds {
			t.Fatalf("member %d flushed %d times, want %d", i, got, submitters*rounds)
		}
	}
}

// TestFlusherEmpty: nothing to flush starts no worker.
func TestFlusherEmpty(t *testing.T) {
	t.Parallel()
	var f flusher
	f.submit(nil)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.workers != 0 {
		t.Fatalf("%d workers for nothing", f.workers)
	}
}

// TestRoomBroadcastFlushes: Broadcast flushes the members that asked for
// it, and a member that is not a fastMember gets Send.
func TestRoomBroadcastFlushes(t *testing.T) {
	t.Parallel()
	r := NewRoom("r")
	var ms []*countingSession
	for range 300 {
		m := &countingSession{}
		ms = append(ms, m)
		r.Join(m)
	}
	if n := r.Broadcast("hi"); n != len(ms) {
		t.Fatalf("Broadcast reached %d, want %d", n, len(ms))
	}
	waitIdle(t, &r.flush)
	for i, m := range ms {
		if m.flushes.Load() != 1 {
			t.Fatalf("member %d flushed %d times, want 1", i, m.flushes.Load())
		}
	}
}

// countingSession is a Session and a fastMember.
type countingSession struct {
	Session
	countingMember
}
