# sockgate: `make run` starts the gateway on :8080; `make test` installs what
# the tests need and runs every test. See README.md.

GO        ?= go
BIN       := bin/sockgate
GOFILES   := $(shell git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null)
# Fuzz budgets count executions: a -fuzztime duration races Go 1.26's fuzz
# coordinator at its deadline (go.dev/issue/75804, fixed in Go 1.27) and
# fails with a bare "context deadline exceeded" now and then.
FUZZTIME  ?= 100000x
# Debian packages the tests need, installed by `make deps` when missing.
APT_PKGS  := chromium nginx haproxy
BENCH     ?= short
STATICCHECK := v0.8.2

.PHONY: all build run run-cluster assets deps bridge-deps test test-go fuzz conformance test-browser test-proxy test-cluster lint bench clean

all: build

## assets: check that the committed sockjs-client build is byte for byte the npm package
## pinned in static/package-lock.json (UPDATE=1 sh static/build.sh takes a new pin)
assets:
	sh static/build.sh

# The commit `sockgate -version` and sockgate_build_info report, stamped at
# link time (Go's own VCS stamping may be off: GOFLAGS=-buildvcs=false).
COMMIT    := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo +dirty)
LDFLAGS   := -X github.com/sockgate/sockgate/gateway.linkedCommit=$(COMMIT)

## build: the gateway binary in bin/sockgate
build: assets
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/sockgate

## run: build and start on :8080 (chat page at http://localhost:8080/); flags in ARGS
## (make run ARGS='-log-level debug'), everything else from SOCKGATE_* variables (logs
## for a terminal unless SOCKGATE_LOG_FORMAT says otherwise)
run: build
	SOCKGATE_LOG_FORMAT=$${SOCKGATE_LOG_FORMAT:-console} ./$(BIN) $(ARGS)

## run-cluster: NATS, three nodes and nginx (deploy/nginx/sockgate.conf) on one machine;
## chat page at http://localhost:8080/, Ctrl-C stops all (see deploy/local-cluster.sh)
run-cluster: build deps
	bash deploy/local-cluster.sh

## deps: Debian packages the browser and proxy tests need
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## bridge-deps: the Node ws backend of the bridge tests (npm ci from test/bridge/backend/package-lock.json)
bridge-deps:
	cd test/bridge/backend && npm ci --no-audit --no-fund

## test: everything: lint, Go unit and end-to-end tests with -race, fuzz, conformance, browsers, proxies
test: deps build lint test-go fuzz conformance test-proxy test-browser

## test-go: every Go test with the race detector (the conformance and proxy
## suites run in their own targets below)
test-go: assets bridge-deps
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v -e /test/protocol -e /test/proxy)

## fuzz: a short run of each fuzz target
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeMessages$$' -fuzztime $(FUZZTIME) ./session/engine/
	$(GO) test -run '^$$' -fuzz '^FuzzQuotedRoundTrip$$' -fuzztime $(FUZZTIME) ./session/engine/
	$(GO) test -run '^$$' -fuzz '^FuzzParsePath$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzValidCallback$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzWSReader$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzWSReaderControl$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzWSReaderDeflate$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzInflate$$' -fuzztime $(FUZZTIME) ./gateway/

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
test-browser: deps build bridge-deps
	cd test/browser && npm ci --no-audit --no-fund && SOCKGATE_BIN=$(CURDIR)/$(BIN) npm test

## lint: gofmt, go vet and staticcheck (pinned, fetched through the module proxy)
lint:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK) ./...

## bench: load runs against the native engine, the compat engine and the plain limits (plainws,
## plainhttp), a two-node cluster, then every target of issues 15 and 11 met or missed (short:
## about 3.5 minutes; BENCH=full for the issues' sizes, about 30 minutes); see BENCHMARKS.md
bench: assets
	BENCH=$(BENCH) GO=$(GO) sh test/bench/run.sh

clean:
	rm -rf bin static/node_modules test/browser/node_modules
