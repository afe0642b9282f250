// Package services holds sockgate's application services: Echo (and
// EchoEvents, its callback form) and the Chat service. Each works the same
// on every transport and engine. The standard SockJS test-server fixtures
// are in package testserver.
package services
