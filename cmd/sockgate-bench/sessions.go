package main

import (
	"context"
	"sync"
	"time"
)

// openAll opens n sessions, at most concurrency at a time, each dial bounded
// by timeout. A failed dial is counted under "dial" and leaves a nil slot.
func openAll(ctx context.Context, d *dialer, n, concurrency int, timeout time.Duration, errs *errorCounter) []conn {
	conns := make([]conn, n)
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i := range conns {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			dctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			c, err := d.dial(dctx)
			if err != nil {
				errs.add("dial", err)
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	return conns
}

// closeAll closes every session, a few hundred at a time.
func closeAll(conns []conn) {
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for _, c := range conns {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.Close()
		}()
	}
	wg.Wait()
}

// countOpen counts the sessions that opened.
func countOpen(conns []conn) int {
	n := 0
	for _, c := range conns {
		if c != nil {
			n++
		}
	}
	return n
}
