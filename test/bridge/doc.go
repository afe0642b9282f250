// Package bridge tests gateway/upstream end to end: sockgate's bridge in
// front of two WebSocket backends whose protocol side this project did not
// write, a gorilla/websocket server in the test process and a Node server
// on the npm ws package (backend/, installed with npm ci from its lock
// file), driven by the Go SockJS client over every transport; and the
// sockgate binary's -upstream flags with a SIGTERM drain.
package bridge
