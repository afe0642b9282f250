// Package protocol is sockgate's SockJS conformance suite: one Go test per
// behaviour of the official sockjs-protocol suite (sockjs-protocol.py) and of
// shared/SOCKJS.md, each asserting exact status lines, headers and bodies.
//
// The suite runs against any SockJS server whose standard test-server
// services (/echo with a 4096-byte response limit, /close,
// /disabled_websocket_echo, /cookie_needed_echo, /amplify, /broadcast,
// /ticker) are mounted at the root of SOCKJS_URL:
//
//	SOCKJS_URL=http://127.0.0.1:8081 go test -count=1 ./test/protocol/
//
// With SOCKJS_URL unset, TestMain builds ./cmd/sockgate and runs it twice
// with -conformance on free loopback ports: once with the default delays and
// once with short ones (-disconnect-delay 1s -heartbeat-delay 500ms) for the
// session-expiry and heartbeat tests. Those tests run against an external
// server only when SOCKJS_DISCONNECT_DELAY and SOCKJS_HEARTBEAT_DELAY give its
// delays; otherwise they are skipped with a log line. SOCKGATE_FLAGS adds
// flags to both spawned gateways (e.g. "-engine sockjs-go").
//
// The package holds tests only; nothing outside it imports it.
package protocol
