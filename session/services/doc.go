// Package services holds sockgate's application handlers: Echo, the Chat
// service, and the standard SockJS test-server services (close, amplify,
// broadcast, ticker) that the protocol suite expects. Each is a
// session.Handler and works the same on every transport and engine.
package services
