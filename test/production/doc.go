// Package production proves sockgate's production features (origin policy,
// limits, slow and dead clients, handler panics, graceful drain, hostile
// input, metrics, trusted proxies, base path) end to end: most tests run an
// in-process gateway.Server on 127.0.0.1:0, the drain test runs the real
// cmd/sockgate binary and signals it. Every test asserts exact statuses,
// bodies and close codes; every wait has a timeout.
//
//	go test -race -count=1 ./test/production/
//
// The package holds tests only; nothing outside it imports it.
package production
