package engine

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/transport"
)

// Defaults of Options.
const (
	// DefaultHeartbeatDelay is how long a receiver may stay idle before it
	// gets an "h" frame.
	DefaultHeartbeatDelay = 25 * time.Second
	// DefaultDisconnectDelay is how long a session lives with no receiver.
	DefaultDisconnectDelay = 5 * time.Second
	// DefaultMaxQueueBytes bounds the encoded bytes queued for one client.
	DefaultMaxQueueBytes = 1 << 20
	// DefaultInboxSize is how many incoming messages wait for Recv before
	// the transport that delivers them blocks.
	DefaultInboxSize = 32
	// DefaultSlowClientTimeout is how long a broadcast waits for a member
	// whose queue is over its soft mark (half of MaxQueueBytes) before
	// closing it with CodeSlowClient (see Room.Broadcast).
	DefaultSlowClientTimeout = 2 * time.Second
)

// Options configure the SockJS sessions of one service. Zero values mean the
// defaults above. One Options value is shared by all sessions of a service
// and must not change once sessions use it.
type Options struct {
	HeartbeatDelay  time.Duration
	DisconnectDelay time.Duration
	MaxQueueBytes   int
	InboxSize       int
	// SlowClientTimeout bounds how long Room.Broadcast waits for a member
	// whose queue is over half of MaxQueueBytes to drain below it; a
	// member that does not is closed with CodeSlowClient.
	SlowClientTimeout time.Duration
	// MaxMessagesPerSecond bounds the messages a client may send, with a
	// burst of one second's worth; over it the session is closed with
	// CodeRateLimited. Zero means no bound.
	MaxMessagesPerSecond int
	// Meter, when set, returns the traffic counters of a transport; it is
	// called once per session.
	Meter func(tr transport.Name) Meter
	// OnClose, when set, is called once when a session closes, outside any
	// lock, with how it ended.
	OnClose func(s *SockJS, info session.CloseInfo)
	// OnForget, when set, is called once when a session is gone for good:
	// after its close frame was replayed until the disconnect delay passed.
	OnForget func(s *SockJS)
	// Events, when set, makes sessions dispatch to it (see Events) instead
	// of queueing messages for Recv; the transport calls Start.
	Events session.Events
	// Logger receives panics of Events callbacks.
	Logger zerolog.Logger
	// Busy, when set, counts the sessions whose service is not done with
	// every message delivered to it: a Handler that has not asked for the
	// next message since, an Events callback that runs. A drain waits for
	// it to reach zero before closing the sessions.
	Busy *Counter
	// Unfinished, when set, counts the sessions not yet finished: created
	// and neither forgotten nor detached from a receiver that took their
	// close frame (a connection-owned session, NewSockJSPush or NewRawPush,
	// finishes when it is forgotten: its connection ended). A drain waits
	// for it to reach zero once it closed every session.
	Unfinished *Counter
}

func (o *Options) withDefaults() *Options {
	c := *o
	if c.HeartbeatDelay <= 0 {
		c.HeartbeatDelay = DefaultHeartbeatDelay
	}
	if c.DisconnectDelay <= 0 {
		c.DisconnectDelay = DefaultDisconnectDelay
	}
	if c.MaxQueueBytes <= 0 {
		c.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if c.InboxSize <= 0 {
		c.InboxSize = DefaultInboxSize
	}
	if c.SlowClientTimeout <= 0 {
		c.SlowClientTimeout = DefaultSlowClientTimeout
	}
	return &c
}

// Resolve returns a copy of o with every zero field set to its default.
func (o Options) Resolve() *Options { return o.withDefaults() }

// noRequest is what Request returns for a session opened without one
// (tests; SetRequest not called).
var noRequest = &session.Request{Header: http.Header{}, Query: url.Values{}}

// Session states.
const (
	stateOpen    = iota // open frame pending or sent, messages flow
	stateClosing        // Close called: queued messages, then the close frame
	stateClosed         // close frame handed to a receiver at least once
)

// emptyBatch is what SockJS.out holds when nothing is queued (SockJS
// framing; in raw mode it holds nothing).
const emptyBatch = 2 // len("a[")

// SockJS is a session of the native engine: the SockJS state machine that
// outlives the HTTP requests carrying it. It implements Session. Transports
// attach a Receiver to pull frames; they deliver incoming messages with
// Deliver. All methods are safe for concurrent use.
type SockJS struct {
	id        string
	transport transport.Name
	opts      *Options
	inbox     chan string
	done      chan struct{}

	req      *session.Request
	stats    stats
	meter    Meter
	rate     rateLimiter
	progress progress
	events   *Dispatcher // nil for session.Handler services
	// frameRaw, in raw mode, appends one message in the transport's own
	// framing: no open frame, no "a[...]" batches, no heartbeat frames go
	// to the client (see NewRawPush).
	frameRaw func(dst []byte, msg string) []byte
	// connOwned: the session is its connection's (NewSockJSPush,
	// NewRawPush); it finishes when forgotten.
	connOwned bool

	mu       sync.Mutex
	state    int
	openSent bool
	out      []byte        // "a[" then the quoted messages, comma separated (raw mode: framed messages)
	drained  chan struct{} // closed when out is taken or dropped; made by a waiting broadcast
	// flushAsked: QueueShared queued for the receiver and asked its
	// caller for a FlushShared, which has not run yet.
	flushAsked bool
	recv       *Receiver
	closeMsg   []byte
	info       session.CloseInfo
	timer      *time.Timer
	expireAt   time.Time
	forgotten  bool
	finished   bool // counted out of Options.Unfinished
}

// NewSockJS creates an open session with no receiver; its disconnect timer
// runs from now. opts must come from Options.Resolve.
func NewSockJS(id string, tr transport.Name, opts *Options) *SockJS {
	s := newSockJS(id, tr, opts)
	s.mu.Lock()
	s.armTimerLocked()
	s.mu.Unlock()
	return s
}

func newSockJS(id string, tr transport.Name, opts *Options) *SockJS {
	s := &SockJS{
		id:        id,
		transport: tr,
		opts:      opts,
		done:      make(chan struct{}),
		out:       append(make([]byte, 0, 64), "a["...),
		meter:     nopMeter{},
		progress:  newProgress(opts.Busy),
		req:       noRequest,
		stats:     stats{opened: time.Now()},
	}
	opts.Unfinished.add(1)
	if opts.Events != nil {
		s.events = NewDispatcher(opts.Events, s, opts.Logger)
		s.events.busy = opts.Busy
	} else {
		s.inbox = make(chan string, opts.InboxSize)
	}
	if opts.Meter != nil {
		s.meter = opts.Meter(tr)
	}
	s.rate.perSecond = opts.MaxMessagesPerSecond
	return s
}

// NewSockJSPush creates an open session with a push receiver (see
// AttachWaitPush) already attached, for a transport whose connection is the
// session (a websocket). No disconnect timer is made until the receiver
// detaches, so such a session costs none while it lives.
func NewSockJSPush(id string, tr transport.Name, opts *Options, notify func()) (*SockJS, *Receiver) {
	s := newSockJS(id, tr, opts)
	s.connOwned = true
	r, _ := s.attach(notify) // cannot fail: nothing else has s
	return s, r
}

// NewRawPush is NewSockJSPush in raw mode, for a transport that carries
// plain messages (the raw websocket): frame appends one message in the
// transport's framing, and the receiver hands out those bytes as they
// queue, the HeartbeatFrame when a heartbeat is due (the transport pings)
// and the close frame last (the transport closes with CloseInfo). There is
// no open frame. Everything else (limits, meter, events, close) is the
// same session.
func NewRawPush(id string, tr transport.Name, opts *Options, notify func(), frame func(dst []byte, msg string) []byte) (*SockJS, *Receiver) {
	s := newSockJS(id, tr, opts)
	s.frameRaw, s.out, s.openSent, s.connOwned = frame, nil, true, true
	r, _ := s.attach(notify) // cannot fail: nothing else has s
	return s, r
}

// emptyOut is the queue with nothing in it.
func (s *SockJS) emptyOut() []byte {
	if s.frameRaw != nil {
		return nil
	}
	return append(make([]byte, 0, 64), "a["...)
}

// queuedBytes is how many bytes are queued for the client.
func (s *SockJS) queuedBytes() int {
	if s.frameRaw != nil {
		return len(s.out)
	}
	return max(len(s.out)-emptyBatch, 0)
}

// takeOutLocked empties the queue and wakes any broadcast waiting for it
// to drain.
func (s *SockJS) takeOutLocked() {
	s.out = s.emptyOut()
	if s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
}

// ID implements Session.
func (s *SockJS) ID() string { return s.id }

// Transport implements Session.
func (s *SockJS) Transport() string { return string(s.transport) }

// Request implements Session.
func (s *SockJS) Request() *session.Request { return s.req }

// SetRequest records the request that opened the session. It must be called
// before the session is shared: before it is registered or started.
func (s *SockJS) SetRequest(r *session.Request) {
	if r != nil {
		s.req = r
	}
}

// Done implements Session.
func (s *SockJS) Done() <-chan struct{} { return s.done }

// CloseInfo returns how the session ended; zero while it is open.
func (s *SockJS) CloseInfo() session.CloseInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Start calls OnOpen for an Events service, in the calling goroutine, and
// lets the open frame go; Handler services need no call.
func (s *SockJS) Start() {
	if s.events != nil {
		s.events.Open()
	}
	s.progress.markReady()
}

// Recv implements Session. An Events session has no queue to receive
// from: Recv returns only when the session closes.
func (s *SockJS) Recv(ctx context.Context) (string, error) {
	s.progress.markReady()
	s.progress.asking(false)
	select {
	case m := <-s.inbox:
		s.progress.took()
		return m, nil
	default:
	}
	select {
	case m := <-s.inbox:
		s.progress.took()
		return m, nil
	case <-s.done:
		select {
		case m := <-s.inbox:
			s.progress.took()
			return m, nil
		default:
			s.progress.asking(true)
			return "", session.ErrClosed
		}
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// HandlerDone records that the handler returned: nothing delivered will be
// waited for any more. The gateway calls it once session.Run returned.
func (s *SockJS) HandlerDone() {
	s.progress.markReady()
	s.progress.asking(true)
}

// DeliverAndWait is Deliver, then a wait (bounded by SendGrace) until the
// handler is done with these messages, so that what it sends in answer is
// queued before the send request is answered, as on the reference server.
func (s *SockJS) DeliverAndWait(ctx context.Context, msgs []string) error {
	if len(msgs) == 0 {
		return nil
	}
	if s.events != nil {
		return s.deliver(ctx, msgs, true) // handled when it returns
	}
	seq := s.progress.delivering(len(msgs))
	if err := s.deliver(ctx, msgs, true); err != nil {
		return err
	}
	s.progress.waitHandled(ctx, seq, s.done)
	return nil
}

// Deliver hands messages from the client to Recv, in order. It blocks while
// the inbox is full, until ctx ends or the session closes.
func (s *SockJS) Deliver(ctx context.Context, msgs []string) error {
	return s.deliver(ctx, msgs, false)
}

func (s *SockJS) deliver(ctx context.Context, msgs []string, counted bool) error {
	if !counted && s.events == nil {
		s.progress.delivering(len(msgs))
	}
	select {
	case <-s.done: // closed: nothing more is delivered, or counted against the rate
		return session.ErrClosed
	default:
	}
	if !s.rate.allow(len(msgs)) {
		_ = s.Close(session.CodeRateLimited, session.ReasonRateLimited)
		return ErrRateLimited
	}
	if s.events != nil {
		return s.events.Message(msgs, s.meterIn)
	}
	for _, m := range msgs {
		s.countIn(m)
		select {
		case <-s.done:
			return session.ErrClosed
		default:
		}
		select {
		case s.inbox <- m:
		case <-s.done:
			return session.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Send implements Session.
func (s *SockJS) Send(msg string) error {
	s.progress.markReady()
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return session.ErrClosed
	}
	if s.frameRaw != nil {
		s.out = s.frameRaw(s.out, msg)
	} else {
		s.out = s.appendSep()
		s.out = AppendQuoted(s.out, msg)
	}
	s.countOut(len(msg))
	return s.queuedLocked()
}

// SendQuoted queues a message already encoded with AppendQuoted, so that a
// broadcast encodes once for every receiver. q is not retained.
func (s *SockJS) SendQuoted(q []byte) error {
	if s.frameRaw != nil {
		msgs, err := DecodeMessages(append(append([]byte{'['}, q...), ']'))
		if err != nil || len(msgs) != 1 {
			return ErrBrokenJSON
		}
		return s.Send(msgs[0])
	}
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return session.ErrClosed
	}
	s.out = append(s.appendSep(), q...)
	s.countOut(len(q) - 2)
	return s.queuedLocked()
}

// queuedLocked finishes Send: it enforces the queue bound, wakes the
// receiver and unlocks s.mu.
func (s *SockJS) queuedLocked() error {
	if s.cutIfOverLocked() {
		return session.ErrQueueFull
	}
	r := s.recv
	s.mu.Unlock()
	if r != nil {
		r.wake()
	}
	return nil
}

// cutIfOverLocked enforces the queue bound: a queue past MaxQueueBytes
// cuts the session (cutSlowLocked, which unlocks s.mu) and reports true;
// otherwise s.mu stays locked.
func (s *SockJS) cutIfOverLocked() bool {
	if s.queuedBytes() > s.opts.MaxQueueBytes {
		s.cutSlowLocked()
		return true
	}
	return false
}

// cutSlowLocked closes an open session whose client cannot keep up with
// CodeSlowClient, drops its queue and unlocks s.mu.
func (s *SockJS) cutSlowLocked() {
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	s.takeOutLocked()
	info := s.closeLocked(session.CodeSlowClient, session.ReasonSlowClient)
	r := s.recv
	s.mu.Unlock()
	// The caller may hold locks of its own (a Room broadcasting) that an
	// OnClose takes (leaving the room): the close callbacks run apart.
	go s.closed(info)
	if r != nil {
		r.wake() // the close frame
	}
}

// Close implements Session.
func (s *SockJS) Close(code int, reason string) error {
	s.progress.markReady()
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return nil
	}
	info := s.closeLocked(code, reason)
	r := s.recv
	s.mu.Unlock()
	if r != nil {
		r.wake()
	}
	s.closed(info)
	return nil
}

// closeLocked moves an open session to closing; the caller must call
// s.closed with the result after unlocking.
func (s *SockJS) closeLocked(code int, reason string) session.CloseInfo {
	s.state = stateClosing
	s.closeMsg = CloseFrame(code, reason)
	s.info = session.CloseInfo{Code: code, Reason: reason}
	close(s.done)
	return s.info
}

func (s *SockJS) meterIn(m string) { s.countIn(m) }

func (s *SockJS) closed(info session.CloseInfo) {
	if s.opts.OnClose != nil {
		s.opts.OnClose(s, info)
	}
	if s.events != nil {
		s.events.Close(info)
	}
}

// armTimerLocked (re)starts the disconnect timer; it runs while no
// receiver is attached.
func (s *SockJS) armTimerLocked() {
	s.expireAt = time.Now().Add(s.opts.DisconnectDelay)
	if s.timer == nil {
		s.timer = time.AfterFunc(s.opts.DisconnectDelay, s.expire)
		return
	}
	s.timer.Reset(s.opts.DisconnectDelay)
}

// expire runs when the disconnect timer fires: an open session is closed,
// and a closed one is forgotten.
func (s *SockJS) expire() {
	s.mu.Lock()
	if s.recv != nil || s.forgotten {
		s.mu.Unlock()
		return
	}
	if wait := time.Until(s.expireAt); wait > 0 {
		s.timer.Reset(wait)
		s.mu.Unlock()
		return
	}
	var info session.CloseInfo
	wasOpen := s.state == stateOpen
	if wasOpen {
		info = s.closeLocked(session.CodeTimeout, session.ReasonTimeout)
	}
	s.state = stateClosed
	s.forgotten = true
	s.takeOutLocked()
	s.out = nil
	s.mu.Unlock()
	if wasOpen {
		s.closed(info)
	}
	s.forgot()
}

// Forget ends the session at once without waiting for the disconnect delay
// (a websocket session ends with its connection). code and reason say why
// if it was still open.
func (s *SockJS) Forget(code int, reason string) {
	s.mu.Lock()
	if s.forgotten {
		s.mu.Unlock()
		return
	}
	var info session.CloseInfo
	wasOpen := s.state == stateOpen
	if wasOpen {
		info = s.closeLocked(code, reason)
	}
	s.state = stateClosed
	s.forgotten = true
	s.takeOutLocked()
	s.out = nil
	if s.timer != nil {
		s.timer.Stop()
	}
	r := s.recv
	s.mu.Unlock()
	if r != nil {
		r.wake()
	}
	if wasOpen {
		s.closed(info)
	}
	s.forgot()
}

// forgot runs once the session is forgotten: OnForget, then the session
// is finished if it was not already.
func (s *SockJS) forgot() {
	if s.opts.OnForget != nil {
		s.opts.OnForget(s)
	}
	s.mu.Lock()
	s.finishLocked()
	s.mu.Unlock()
}

// finishLocked counts the session out of Options.Unfinished, once.
func (s *SockJS) finishLocked() {
	if !s.finished {
		s.finished = true
		s.opts.Unfinished.add(-1)
	}
}
