package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// warmEvery is how often the publisher repeats its warm-up message.
const warmEvery = 200 * time.Millisecond

// errNotJoined counts a subscriber that saw no warm-up message in time.
var errNotJoined = errors.New("no warm-up message within the timeout: not joined")

// broadcastRun is the state of one broadcast scenario.
type broadcastRun struct {
	c config
	// Message prefixes, with a nonce so that another run's messages on the
	// same service are not counted: warm-up messages ("w<nonce>:<n>")
	// prove every subscriber has joined before the measured ones
	// ("b<nonce>:<send unix ns>:<seq>:xxx...") are published.
	warm, mark string
	errs       *errorCounter
	hist       histogram
	closing    atomic.Bool
	warmed     atomic.Int64
	got        atomic.Int64
	last       atomic.Int64 // unix ns of the latest measured delivery
	readers    sync.WaitGroup
}

// runBroadcast opens c.sessions subscribers and one publisher, which sends
// c.messages timestamped messages at c.rate; every subscriber should get
// every message.
func runBroadcast(ctx context.Context, c config, d *dialer) result {
	nonce := strconv.FormatUint(rand.Uint64(), 36)
	b := &broadcastRun{c: c, errs: newErrorCounter(), warm: "w" + nonce + ":", mark: "b" + nonce + ":"}
	r := newResult(c)
	subs := openAll(ctx, d, c.sessions, c.concurrency, c.timeout, b.errs)
	pubs := openAll(ctx, d, 1, 1, c.timeout, b.errs)
	defer d.closeIdle()
	defer b.stop(append(subs, pubs...))
	pub := pubs[0]
	opened := countOpen(subs)
	for _, s := range subs {
		b.read(s, true)
	}
	if pub == nil {
		r.setErrors(b.errs)
		return r
	}
	b.read(pub, false)
	b.warmUp(ctx, pub, opened)
	cpu := startCPU(c.pid)
	first, lastSend := b.publish(ctx, pub)
	expected := int64(opened) * int64(c.messages)
	b.waitDelivered(ctx, expected, lastSend.Add(c.timeout))
	use := cpu.used(b.errs)

	r.Subscribed = int(b.warmed.Load())
	r.Messages = c.messages
	r.Expected = expected
	r.Delivered = b.got.Load()
	if expected > 0 {
		r.Fraction = round(float64(r.Delivered)/float64(expected), 4)
	}
	r.P50ms = millis(b.hist.quantile(0.50))
	r.P99ms = millis(b.hist.quantile(0.99))
	r.setCPU(use, r.Delivered)
	if last := b.last.Load(); last > 0 {
		r.DeliverAllMs = millis(time.Duration(last - first.UnixNano()))
		r.TailMs = millis(time.Duration(last - lastSend.UnixNano()))
	}
	r.Seconds = round(time.Since(first).Seconds(), 2)
	b.closing.Store(true)
	r.setErrors(b.errs)
	return r
}

// read starts the receiving loop of one session; a subscriber's messages
// are measured, the publisher's own copies only drained.
func (b *broadcastRun) read(cn conn, subscriber bool) {
	if cn == nil {
		return
	}
	stage := "publisher"
	if subscriber {
		stage = "subscriber"
	}
	b.readers.Add(1)
	go func() {
		defer b.readers.Done()
		warmed := false
		for {
			m, err := cn.Next(time.Time{})
			if err != nil {
				if !b.closing.Load() {
					b.errs.add(stage, err)
				}
				return
			}
			if !subscriber {
				continue
			}
			switch {
			case strings.HasPrefix(m, b.mark):
				b.delivered(m)
			case !warmed && strings.HasPrefix(m, b.warm):
				warmed = true
				b.warmed.Add(1)
			}
		}
	}()
}

// delivered measures one measured message.
func (b *broadcastRun) delivered(m string) {
	now := time.Now().UnixNano()
	rest := m[len(b.mark):]
	if i := strings.IndexByte(rest, ':'); i > 0 {
		if sent, err := strconv.ParseInt(rest[:i], 10, 64); err == nil {
			b.hist.record(time.Duration(now - sent))
		}
	}
	b.got.Add(1)
	for {
		l := b.last.Load()
		if now <= l || b.last.CompareAndSwap(l, now) {
			return
		}
	}
}

// warmUp repeats a warm-up message until every open subscriber has seen
// one (the server has joined them all) or the timeout passes.
func (b *broadcastRun) warmUp(ctx context.Context, pub conn, opened int) {
	deadline := time.Now().Add(b.c.timeout)
	for n := 0; b.warmed.Load() < int64(opened) && time.Now().Before(deadline) && ctx.Err() == nil; n++ {
		if err := pub.Send(b.warm+strconv.Itoa(n), time.Now().Add(b.c.timeout)); err != nil {
			b.errs.add("warm-up", err)
			return
		}
		sleep(ctx, warmEvery)
	}
	for range int64(opened) - b.warmed.Load() {
		b.errs.add("join", errNotJoined)
	}
}

// publish sends the measured messages on schedule and returns when the
// first and the last were sent.
func (b *broadcastRun) publish(ctx context.Context, pub conn) (first, last time.Time) {
	interval := time.Duration(float64(time.Second) / b.c.rate)
	pad := padding(b.c.size)
	var buf []byte
	first = time.Now()
	for seq := range b.c.messages {
		if ctx.Err() != nil {
			break
		}
		sleep(ctx, time.Until(first.Add(time.Duration(seq)*interval)))
		now := time.Now()
		buf = strconv.AppendInt(append(buf[:0], b.mark...), now.UnixNano(), 10)
		buf = strconv.AppendInt(append(buf, ':'), int64(seq), 10)
		buf = append(buf, ':')
		if n := b.c.size - len(buf); n > 0 {
			buf = append(buf, pad[:n]...)
		}
		if err := pub.Send(string(buf), now.Add(b.c.timeout)); err != nil {
			b.errs.add("publish", err)
		}
		last = now
	}
	return first, last
}

// waitDelivered waits until expected messages arrived or deadline passes.
func (b *broadcastRun) waitDelivered(ctx context.Context, expected int64, deadline time.Time) {
	for b.got.Load() < expected && time.Now().Before(deadline) && ctx.Err() == nil {
		sleep(ctx, 10*time.Millisecond)
	}
}

// stop closes the sessions and waits for their receiving loops.
func (b *broadcastRun) stop(conns []conn) {
	b.closing.Store(true)
	closeAll(conns)
	b.readers.Wait()
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
