// Package proxy tests the reverse-proxy configurations shipped in deploy/
// (nginx and HAProxy) end to end: each test builds cmd/sockgate, starts two
// gateway nodes and the real proxy (/usr/sbin/nginx, /usr/sbin/haproxy) on
// 127.0.0.1 with exactly the shipped file, only its marked regions (listen
// address, upstream nodes, process paths) replaced, and runs every transport
// of the Go SockJS client through it: echo of tricky strings and a 64 KiB
// message, 200 messages in order, streaming that the proxy does not buffer,
// heartbeats, sticky routing by session id across the two nodes, the client
// address sockgate sees, and the send body limit.
//
// A missing nginx or haproxy fails the tests (install them with `make deps`
// or apt-get install nginx haproxy); nothing is skipped. SOCKGATE_BIN runs an
// already built gateway instead of building one.
package proxy
