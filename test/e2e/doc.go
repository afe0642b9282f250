// Package e2e holds sockgate's end-to-end tests: the real gateway.Server on
// 127.0.0.1:0, driven over every SockJS transport by the Go client in
// test/sockjsclient, on both engines (native and the sockjs-go compat
// engine). Subtests are named engine/transport/case.
package e2e
