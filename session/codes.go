package session

// Close codes sockgate sends in c[code,"reason"] frames. Codes 1000-2999 are
// the SockJS and RFC 6455 ones; 3000-3499 are sockgate's own and tell the
// client it may reconnect; 3500-3999 tell it not to; 4000-4999 are left to
// applications.
const (
	// CodeNormal is a normal close by the application.
	CodeNormal = 1000
	// CodeInterrupted answers a poll after the client aborted a receiving
	// request: c[1002,"Connection interrupted"].
	CodeInterrupted = 1002
	// CodeMessageTooBig closes a session that sent a message over the limit.
	CodeMessageTooBig = 1009
	// CodeInternalError closes a session whose handler panicked.
	CodeInternalError = 1011
	// CodeAnotherConnection answers a second concurrent receiving request:
	// c[2010,"Another connection still open"].
	CodeAnotherConnection = 2010
	// CodeGoAway is the conventional server close, c[3000,"Go away!"].
	CodeGoAway = 3000
	// CodeShutdown is sent to every session when the gateway drains; the
	// client should reconnect (to another node).
	CodeShutdown = 3001
	// CodeSlowClient closes a session whose outgoing queue overflowed
	// because the client did not read fast enough; it may reconnect.
	CodeSlowClient = 3008
	// CodeRateLimited closes a session that sent more messages per second
	// than allowed.
	CodeRateLimited = 3009
	// CodeTimeout closes a session nobody polled for the disconnect delay.
	CodeTimeout = 3010
	// CodeBackendUnavailable closes a bridged session whose upstream
	// WebSocket could not be opened (refused, unreachable, an HTTP error,
	// the connect timeout); the client may reconnect.
	CodeBackendUnavailable = 3011
	// CodeBackendClosed closes a bridged session whose upstream ended
	// without a close code to pass on (a code outside 1000 and 3000-4999,
	// a dead TCP connection, two heartbeats of silence); the client may
	// reconnect.
	CodeBackendClosed = 3012
	// CodeBackendStalled closes a bridged session whose upstream stopped
	// reading: a message to it could not be written within the bound.
	CodeBackendStalled = 3013
	// CodeNodeGone closes, as seen from another node of a cluster without
	// sticky sessions, a session whose node crashed; the client may
	// reconnect.
	CodeNodeGone = 3014
	// CodeUnauthorized closes a session at open whose client gave no
	// token, or one that does not verify (signature, audience, issuer,
	// claims); reconnecting with the same token will not help.
	CodeUnauthorized = 3501
	// CodeTokenExpired closes a session whose token expired, at open or
	// when its exp (plus the grace) passes; the client needs a new token.
	CodeTokenExpired = 3502
)

// Reasons that go with the codes above.
const (
	ReasonNormal             = "Normal closure"
	ReasonInterrupted        = "Connection interrupted"
	ReasonAnotherConnection  = "Another connection still open"
	ReasonGoAway             = "Go away!"
	ReasonShutdown           = "Server shutting down"
	ReasonSlowClient         = "Slow client"
	ReasonRateLimited        = "Rate limit exceeded"
	ReasonMessageTooBig      = "Message too big"
	ReasonInternalError      = "Internal error"
	ReasonTimeout            = "Session timed out"
	ReasonBackendUnavailable = "Backend unavailable"
	ReasonBackendClosed      = "Backend closed"
	ReasonBackendStalled     = "Backend not reading"
	ReasonNodeGone           = "Node gone"
	ReasonUnauthorized       = "Unauthorized"
	ReasonTokenExpired       = "Token expired"
)
