# sockgate: `make run` starts the gateway on :8080; `make test` installs what
# the tests need and runs every test. See README.md.

GO        ?= go
BIN       := bin/sockgate
GOFILES   := $(shell git ls-files '*.go' 2>/dev/null)
# Fuzz budgets count executions: a -fuzztime duration races Go 1.26's fuzz
# coordinator at its deadline (go.dev/issue/75804, fixed in Go 1.27) and
# fails with a bare "context deadline exceeded" now and then.
FUZZTIME  ?= 100000x
# Debian packages the tests need, installed by `make deps` when missing.
APT_PKGS  := chromium nginx haproxy
BENCH     ?= short
STATICCHECK := v0.8.2

.PHONY: all build run assets deps test test-go fuzz conformance test-browser test-proxy test-cluster lint bench clean

all: build

## assets: the pinned sockjs-client (npm ci from static/package-lock.json), embedded by the build
assets: static/dist/sockjs.min.js

static/dist/sockjs.min.js: static/package.json static/package-lock.json
	sh static/build.sh

## build: the gateway binary in bin/sockgate
build: assets
	$(GO) build -o $(BIN) ./cmd/sockgate

## run: build and start on :8080 (chat page at http://localhost:8080/)
run: build
	./$(BIN) -addr :8080 -log-format console

## deps: Debian packages the browser and proxy tests need
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## test: everything: lint, Go unit and end-to-end tests with -race, fuzz, conformance, browsers, proxies
test: deps build lint test-go fuzz conformance test-proxy test-browser

## test-go: every Go test with the race detector (the conformance and proxy
## suites run in their own targets below)
test-go: assets
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v -e /test/protocol -e /test/proxy)

## fuzz: a short run of each fuzz target
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeMessages$$' -fuzztime $(FUZZTIME) ./session/
	$(GO) test -run '^$$' -fuzz '^FuzzQuotedRoundTrip$$' -fuzztime $(FUZZTIME) ./session/
	$(GO) test -run '^$$' -fuzz '^FuzzParsePath$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzValidCallback$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzWSReader$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzWSReaderControl$$' -fuzztime $(FUZZTIME) ./gateway/

## conformance: the protocol suite; against a running deployment with SOCKJS_URL=http://host:port
## (default: it builds and starts `sockgate -conformance` itself)
conformance:
	SOCKJS_URL="$(SOCKJS_URL)" $(GO) test -race -count=1 -timeout 10m ./test/protocol/

## test-proxy: the deploy/ nginx and HAProxy configs in front of two gateways, every transport
test-proxy: deps build
	SOCKGATE_BIN=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -timeout 10m ./test/proxy/

## test-cluster: two sockgate nodes and an embedded NATS server (one chat across nodes); also part of test-go
test-cluster:
	$(GO) test -race -count=1 ./test/cluster/

## test-browser: sockjs-client 1.6.1 in headless Chromium, every transport
test-browser: deps build
	cd test/browser && npm ci --no-audit --no-fund && SOCKGATE_BIN=$(CURDIR)/$(BIN) npm test

## lint: gofmt, go vet and staticcheck (pinned, fetched through the module proxy)
lint:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK) ./...

## bench: load runs against the native engine, the compat engine and a plain gorilla/websocket
## server, one table (BENCH=full for the issue's sizes, about 13 minutes); see BENCHMARKS.md
bench: assets
	BENCH=$(BENCH) GO=$(GO) sh test/bench/run.sh

clean:
	rm -rf bin static/dist/sockjs.min.js static/node_modules test/browser/node_modules
