package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// warmEvery is how often the publisher repeats its warm-up message.
const warmEvery = 200 * time.Millisecond

// quietEnd ends the wait for the last deliveries once none has come for
// this long after the last send (a dropped subscriber's never come).
const quietEnd = time.Second

// maxSeq bounds the sequence number a delivery may carry.
const maxSeq = 1 << 24

var (
	// errNotJoined counts a subscriber that saw no warm-up message in time.
	errNotJoined = errors.New("no warm-up message within the timeout: not joined")
	// errNoOwn is a saturation publisher that got none of its own
	// messages back within the timeout.
	errNoOwn = errors.New("none of the publisher's own messages came back within the timeout")
	// errBadSeq is a measured message without a valid sequence number.
	errBadSeq = errors.New("measured message without a valid send time and sequence number")
)

// broadcastRun is the state of one broadcast or saturation scenario.
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
	got        atomic.Int64 // measured deliveries, duplicates included
	seq        seqCounts
	last       atomic.Int64 // unix ns of the latest measured delivery
	own        chan int64   // saturation: the publisher's own messages back
	readers    sync.WaitGroup
}

// seqCounts adds up what the subscribers' seqTrackers saw.
type seqCounts struct {
	distinct   atomic.Int64 // deliveries of a message not seen before
	duplicates atomic.Int64 // deliveries of a message seen before
	outOfOrder atomic.Int64 // first deliveries after a later message
}

// seqTracker is one subscriber's record of the sequence numbers it got;
// only its receiving loop uses it.
type seqTracker struct {
	seen []uint64 // bit per sequence number
	last int64    // highest seen, -1 before the first
}

func newSeqTracker() *seqTracker { return &seqTracker{last: -1} }

// add records a delivery of seq (0 <= seq < maxSeq) in counts.
func (t *seqTracker) add(seq int64, counts *seqCounts) {
	i, bit := seq/64, uint64(1)<<(seq%64)
	for int64(len(t.seen)) <= i {
		t.seen = append(t.seen, 0)
	}
	if t.seen[i]&bit != 0 {
		counts.duplicates.Add(1)
		return
	}
	t.seen[i] |= bit
	counts.distinct.Add(1)
	if seq < t.last {
		counts.outOfOrder.Add(1)
		return
	}
	t.last = seq
}

// runBroadcast opens c.sessions subscribers and one publisher. In a
// broadcast, the publisher sends c.messages timestamped messages at c.rate;
// in a saturation run, it keeps c.window messages in flight for c.duration,
// sending the next when one of its own comes back (the server has taken it
// and queued it for every member; no queue grows without bound). Every
// subscriber should get every message, in order.
func runBroadcast(ctx context.Context, c config, d *dialer) result {
	nonce := strconv.FormatUint(rand.Uint64(), 36)
	b := &broadcastRun{c: c, errs: newErrorCounter(), warm: "w" + nonce + ":", mark: "b" + nonce + ":",
		own: make(chan int64, c.window+1)}
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
	cpu := startCPU(c.pids)
	var first, lastSend time.Time
	var published int
	if c.scenario == scenarioSaturation {
		first, lastSend, published = b.publishWindow(ctx, pub)
	} else {
		first, lastSend, published = b.publish(ctx, pub)
	}
	expected := int64(opened) * int64(published)
	b.waitDelivered(ctx, expected, lastSend.Add(c.timeout))
	use := cpu.used(b.errs)
	b.closing.Store(true)

	r.Subscribed = int(b.warmed.Load())
	r.Messages = published
	r.Expected = expected
	r.Delivered = b.got.Load()
	r.Duplicates = b.seq.duplicates.Load()
	r.OutOfOrder = b.seq.outOfOrder.Load()
	r.Lost = max(expected-b.seq.distinct.Load(), 0)
	if expected > 0 {
		r.Fraction = round(float64(b.seq.distinct.Load())/float64(expected), 4)
	}
	r.P50ms = millis(b.hist.quantile(0.50))
	r.P99ms = millis(b.hist.quantile(0.99))
	r.setCPU(use, r.Delivered)
	r.Seconds = round(time.Since(first).Seconds(), 2)
	if last := b.last.Load(); last > 0 {
		r.DeliverAllMs = millis(time.Duration(last - first.UnixNano()))
		r.TailMs = millis(time.Duration(last - lastSend.UnixNano()))
		if span := time.Duration(last - first.UnixNano()); span > 0 {
			r.DeliveriesSec = round(float64(r.Delivered)/span.Seconds(), 1)
		}
	}
	r.setErrors(b.errs)
	return r
}

// read starts the receiving loop of one session; a subscriber's messages
// are measured, the publisher's own copies drained (in a saturation run,
// handed to the publishing loop).
func (b *broadcastRun) read(cn conn, subscriber bool) {
	if cn == nil {
		return
	}
	stage := "publisher"
	if subscriber {
		stage = "subscriber"
	}
	saturation := b.c.scenario == scenarioSaturation
	b.readers.Add(1)
	go func() {
		defer b.readers.Done()
		warmed := false
		seqs := newSeqTracker()
		for {
			m, err := cn.Next(time.Time{})
			if err != nil {
				if !b.closing.Load() {
					b.errs.add(stage, err)
				}
				return
			}
			if !strings.HasPrefix(m, b.mark) {
				if subscriber && !warmed && strings.HasPrefix(m, b.warm) {
					warmed = true
					b.warmed.Add(1)
				}
				continue
			}
			sent, seq, ok := parseMeasured(m[len(b.mark):])
			switch {
			case !ok:
				b.errs.add(stage, fmt.Errorf("%w: %.40q", errBadSeq, m))
			case subscriber:
				b.delivered(sent, seq, seqs)
			case saturation:
				select {
				case b.own <- seq:
				default: // a duplicate beyond the window: the publisher has enough
				}
			}
		}
	}()
}

// parseMeasured reads "<send unix ns>:<seq>:..." (a measured message after
// its prefix).
func parseMeasured(rest string) (sent time.Time, seq int64, ok bool) {
	ns, rest, ok1 := strings.Cut(rest, ":")
	sq, _, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return time.Time{}, 0, false
	}
	n, err1 := strconv.ParseInt(ns, 10, 64)
	s, err2 := strconv.ParseInt(sq, 10, 64)
	if err1 != nil || err2 != nil || n <= 0 || s < 0 || s >= maxSeq {
		return time.Time{}, 0, false
	}
	return time.Unix(0, n), s, true
}

// delivered measures one measured message a subscriber got.
func (b *broadcastRun) delivered(sent time.Time, seq int64, seqs *seqTracker) {
	now := time.Now()
	b.hist.record(now.Sub(sent))
	seqs.add(seq, &b.seq)
	b.got.Add(1)
	ns := now.UnixNano()
	for {
		l := b.last.Load()
		if ns <= l || b.last.CompareAndSwap(l, ns) {
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

// publisher builds the measured messages.
type publisher struct {
	b   *broadcastRun
	pub conn
	pad string
	buf []byte
}

// send publishes message seq stamped with the time now.
func (p *publisher) send(seq int) time.Time {
	now := time.Now()
	p.buf = strconv.AppendInt(append(p.buf[:0], p.b.mark...), now.UnixNano(), 10)
	p.buf = strconv.AppendInt(append(p.buf, ':'), int64(seq), 10)
	p.buf = append(p.buf, ':')
	if n := p.b.c.size - len(p.buf); n > 0 {
		p.buf = append(p.buf, p.pad[:n]...)
	}
	if err := p.pub.Send(string(p.buf), now.Add(p.b.c.timeout)); err != nil {
		p.b.errs.add("publish", err)
	}
	return now
}

// publish sends the measured messages on schedule and returns when the
// first and the last were sent, and how many were.
func (b *broadcastRun) publish(ctx context.Context, pub conn) (first, last time.Time, n int) {
	interval := time.Duration(float64(time.Second) / b.c.rate)
	p := publisher{b: b, pub: pub, pad: padding(b.c.size)}
	first = time.Now()
	for ; n < b.c.messages && ctx.Err() == nil; n++ {
		sleep(ctx, time.Until(first.Add(time.Duration(n)*interval)))
		last = p.send(n)
	}
	return first, last, n
}

// publishWindow sends c.window messages, then one more each time one of
// the publisher's own comes back, until c.duration has passed; it returns
// when the first and the last were sent, and how many were.
func (b *broadcastRun) publishWindow(ctx context.Context, pub conn) (first, last time.Time, n int) {
	p := publisher{b: b, pub: pub, pad: padding(b.c.size)}
	first = time.Now()
	end := first.Add(b.c.duration)
	for ; n < b.c.window && n < maxSeq; n++ {
		last = p.send(n)
	}
	wait := time.NewTimer(b.c.timeout)
	defer wait.Stop()
	for time.Now().Before(end) && n < maxSeq {
		wait.Reset(b.c.timeout)
		select {
		case <-b.own:
			last = p.send(n)
			n++
		case <-wait.C:
			b.errs.add("publisher", errNoOwn)
			return first, last, n
		case <-ctx.Done():
			return first, last, n
		}
	}
	return first, last, n
}

// waitDelivered waits until expected messages arrived, or deadline passes,
// or none has arrived for quietEnd.
func (b *broadcastRun) waitDelivered(ctx context.Context, expected int64, deadline time.Time) {
	quietSince, seen := time.Now(), b.got.Load()
	for b.got.Load() < expected && time.Now().Before(deadline) && ctx.Err() == nil {
		sleep(ctx, 10*time.Millisecond)
		if got := b.got.Load(); got != seen {
			quietSince, seen = time.Now(), got
		} else if time.Since(quietSince) >= quietEnd {
			return
		}
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
