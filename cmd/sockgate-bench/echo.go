package main

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// redialPause is how long an echo worker waits after a failed dial before
// trying again, so that a refusing server is not hammered.
const redialPause = 100 * time.Millisecond

// runEcho has every session send one message, wait for its echo and repeat
// until c.duration has passed. A failed round trip is counted and the
// session replaced.
func runEcho(ctx context.Context, c config, d *dialer) result {
	errs := newErrorCounter()
	conns := openAll(ctx, d, c.sessions, c.concurrency, c.timeout, errs)
	var hist histogram
	var trips atomic.Int64
	cpu := startCPU(c.pids)
	start := time.Now()
	end := start.Add(c.duration)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := echoWorker{c: c, d: d, conn: conns[i], id: i, errs: errs, hist: &hist, trips: &trips}
			conns[i] = w.run(ctx, end)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	use := cpu.used(errs)
	closeAll(conns)
	d.closeIdle()
	r := newResult(c)
	r.Seconds = round(elapsed.Seconds(), 2)
	r.RoundTrips = trips.Load()
	r.RoundTripsSec = round(float64(r.RoundTrips)/elapsed.Seconds(), 1)
	r.P50us = micros(hist.quantile(0.50))
	r.P99us = micros(hist.quantile(0.99))
	r.setCPU(use, r.RoundTrips)
	r.setErrors(errs)
	return r
}

// echoWorker is one session's loop.
type echoWorker struct {
	c     config
	d     *dialer
	conn  conn // nil when the session must be (re)opened
	id    int
	seq   int
	buf   []byte
	errs  *errorCounter
	hist  *histogram
	trips *atomic.Int64
}

// run does round trips until end and returns the session open then, if
// any, for the caller to close once the run is measured.
func (w *echoWorker) run(ctx context.Context, end time.Time) conn {
	for ctx.Err() == nil && time.Now().Before(end) {
		if w.conn == nil && !w.redial(ctx, end) {
			continue
		}
		if err := w.roundTrip(); err != nil {
			w.errs.add("echo", err)
			w.conn.Close()
			w.conn = nil
		}
	}
	return w.conn
}

// redial replaces a failed session; false when it could not.
func (w *echoWorker) redial(ctx context.Context, end time.Time) bool {
	dctx, cancel := context.WithTimeout(ctx, w.c.timeout)
	defer cancel()
	cn, err := w.d.dial(dctx)
	if err != nil {
		w.errs.add("dial", err)
		select {
		case <-ctx.Done():
		case <-time.After(min(redialPause, time.Until(end))):
		}
		return false
	}
	w.conn = cn
	return true
}

// roundTrip sends one message and waits for its echo.
func (w *echoWorker) roundTrip() error {
	msg := w.message()
	start := time.Now()
	deadline := start.Add(w.c.timeout)
	if err := w.conn.Send(msg, deadline); err != nil {
		return err
	}
	got, err := w.conn.Next(deadline)
	if err != nil {
		return err
	}
	if got != msg {
		return errMismatch
	}
	w.hist.record(time.Since(start))
	w.trips.Add(1)
	return nil
}

// padding returns n 'x' bytes, made once per size.
func padding(n int) string {
	if p, ok := paddings.Load(n); ok {
		return p.(string)
	}
	pad := strings.Repeat("x", n)
	if chatPayload {
		pad = chatText(n)
	}
	p, _ := paddings.LoadOrStore(n, pad)
	return p.(string)
}

var paddings sync.Map // size -> string of 'x'

// message is "<session>:<seq>:" padded with 'x' to the configured size, so
// that a late or foreign echo is told apart.
func (w *echoWorker) message() string {
	w.seq++
	b := strconv.AppendInt(w.buf[:0], int64(w.id), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(w.seq), 10)
	b = append(b, ':')
	if n := w.c.size - len(b); n > 0 {
		b = append(b, padding(w.c.size)[:n]...)
	}
	w.buf = b
	return string(b)
}
