// Package testserver holds the services of the standard SockJS test server
// that the protocol suite expects beside echo: close (CloseAtOnce), amplify,
// ticker and broadcast. sockgate mounts them with -conformance; they are
// fixtures for conformance and load tests, not products. Each works the
// same on every transport and engine.
package testserver
