#!/bin/sh
# make bench: the same load scenarios against sockgate's native engine, its
# compat engine (igm/sockjs-go) and the plain baselines (the limits): a plain
# gorilla/websocket server (test/bench/plainws, label "plain") for the
# websockets and a plain net/http long-polling server (test/bench/plainhttp,
# label "plainhttp") for xhr-polling and xhr-streaming. Then sockgate
# bridging (-upstream) to a plain WebSocket echo backend, a two-node cluster
# (issue 11: forwarded against local requests), and last the targets table
# of issues 15 and 11, each target with its ratio and met / missed.
#
# How it measures (issue 15): every session keeps one message in flight (as
# a chat client does); servers run pinned to CPU 0 (taskset -c 0), the load
# tool to CPU 1, all on 127.0.0.1; the server CPU time is read from
# /proc/<pid>/stat, so a saturated load tool cannot hide a slow server, and
# the tool's own CPU is reported beside it (a run where it used 90% of its
# core or more is marked SATURATED: its rates are the tool's). Echo,
# broadcast, saturation and cluster runs are interleaved in rounds (native,
# compat, plain, native, ...) against servers started together, so that
# noise from anything else on the machine falls on every server alike; every
# ratio compares figures of this one run: per-round rates and latencies
# from the best round (median beside it), CPU per operation from the rounds
# added up. Every idle run gets a freshly started server, so that its memory
# is measured from a clean process.
#
# Broadcast: subscribers on /broadcast, one publisher at 20 messages/s.
# Saturation: the publisher, itself a member, keeps SAT_WINDOW messages in
# flight: it sends SAT_WINDOW, then one more each time one of its own comes
# back, for SAT_TIME. Its own copy coming back means the server has taken
# the message and queued it for every member, so the server runs as fast as
# it can deliver while no queue grows without bound, and the same window
# holds for every server: deliveries per second is what the server
# sustains. 8 in flight to 2,000 members is 16,000 deliveries queued: the
# server never waits for the publisher, and a member that fell behind has
# several messages waiting (which SockJS framing may send as one frame),
# yet no queue nears plainws's 256 frames and the window's first message
# comes back well within SAT_TIME (32 in flight put it over a second
# behind on a busy machine: the first window was most of the run). Messages carry a sequence number; every delivery is counted,
# and lost, duplicated and out-of-order ones are reported (plainws drops a
# member whose 256-frame queue is full: that shows as losses, as it
# should). CPU per delivery is the server's CPU over the deliveries.
#
# Cluster (issue 11): NATS (the nats-server on PATH, else bin/nats-server
# built from the version in go.mod) and two sockgate nodes joined through
# it. "local": every request of a session goes to node 1; "forwarded": each
# session's requests alternate between node 1 and node 2 (the tool's -url2),
# as a round-robin balancer sends them, so half reach node 2 and are
# forwarded to the owner. The server CPU of both is that of the two nodes
# and NATS added up.
#
#   BENCH=short (default, about 5 minutes) or BENCH=full (the issues' sizes)
#   BENCH_DIR   where results and server logs go (default bin/bench)
#   BENCH_PORT  first of the eleven ports (default 18181; PORT+9 is left
#               for the compression server)
#   GO          the go command
# Sizes can be set in the environment for a reduced run (e.g. ECHO_ROUNDS=1
# ECHO_TIME=0.5s BC_WS_SIZES=200 BC_STREAM=50 SAT_SESSIONS=200 ...): see
# the defaults below.
set -euf # -f: no globbing ("-allowed-origins *")
cd "$(dirname "$0")/../.."

MODE=${BENCH:-short}
GO=${GO:-go}
DIR=${BENCH_DIR:-bin/bench}
PORT=${BENCH_PORT:-18181}
SERVER_CPU=0
CLIENT_CPU=1
ECHO_TRANSPORTS=${ECHO_TRANSPORTS:-"websocket raw-websocket xhr-streaming xhr-polling eventsource"}
BC_RATE=20

case $MODE in
short)
	ECHO_SESSIONS=${ECHO_SESSIONS:-50} ECHO_ROUNDS=${ECHO_ROUNDS:-3} ECHO_TIME=${ECHO_TIME:-1s}
	BC_WS_SIZES=${BC_WS_SIZES:-"2000 5000"} BC_STREAM=${BC_STREAM:-500} BC_ROUNDS=${BC_ROUNDS:-2} BC_MESSAGES=${BC_MESSAGES:-40}
	SAT_SESSIONS=${SAT_SESSIONS:-2000} SAT_WINDOW=${SAT_WINDOW:-8} SAT_ROUNDS=${SAT_ROUNDS:-2} SAT_TIME=${SAT_TIME:-3s}
	IDLE_WS=${IDLE_WS:-5000} IDLE_STREAM=${IDLE_STREAM:-2000} IDLE_HOLD=${IDLE_HOLD:-3s} IDLE_BRIDGED=${IDLE_BRIDGED:-5000}
	HOLD_SESSIONS=${HOLD_SESSIONS:-0} HOLD_TIME=${HOLD_TIME:-0s}
	CL_SESSIONS=${CL_SESSIONS:-50} CL_ROUNDS=${CL_ROUNDS:-3} CL_TIME=${CL_TIME:-1s}
	;;
full)
	ECHO_SESSIONS=${ECHO_SESSIONS:-50} ECHO_ROUNDS=${ECHO_ROUNDS:-6} ECHO_TIME=${ECHO_TIME:-5s}
	BC_WS_SIZES=${BC_WS_SIZES:-"2000 5000"} BC_STREAM=${BC_STREAM:-1000} BC_ROUNDS=${BC_ROUNDS:-3} BC_MESSAGES=${BC_MESSAGES:-100}
	SAT_SESSIONS=${SAT_SESSIONS:-2000} SAT_WINDOW=${SAT_WINDOW:-8} SAT_ROUNDS=${SAT_ROUNDS:-3} SAT_TIME=${SAT_TIME:-5s}
	IDLE_WS=${IDLE_WS:-10000} IDLE_STREAM=${IDLE_STREAM:-10000} IDLE_HOLD=${IDLE_HOLD:-5s} IDLE_BRIDGED=${IDLE_BRIDGED:-5000}
	HOLD_SESSIONS=${HOLD_SESSIONS:-15000} HOLD_TIME=${HOLD_TIME:-60s}
	CL_SESSIONS=${CL_SESSIONS:-50} CL_ROUNDS=${CL_ROUNDS:-6} CL_TIME=${CL_TIME:-5s}
	;;
*)
	echo "run.sh: BENCH must be short or full, not $MODE" >&2
	exit 2
	;;
esac

BC_WS=${BC_WS_SIZES%% *} # the first size, for one-size scenarios
mkdir -p "$DIR"
RESULTS=$DIR/results-$MODE.jsonl
: >"$RESULTS"
FAILED=0
PIDS=""

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== building"
"$GO" build -o bin/sockgate ./cmd/sockgate
"$GO" build -o bin/sockgate-bench ./cmd/sockgate-bench
"$GO" build -o bin/plainws ./test/bench/plainws
"$GO" build -o bin/plainhttp ./test/bench/plainhttp
NATS=$(command -v nats-server || true)
if [ -z "$NATS" ]; then
	"$GO" build -o bin/nats-server github.com/nats-io/nats-server/v2
	NATS=bin/nats-server
fi

port_of() {
	case $1 in
	native) echo "$PORT" ;;
	compat) echo $((PORT + 1)) ;;
	plain) echo $((PORT + 2)) ;;
	bridged) echo $((PORT + 3)) ;;
	backend) echo $((PORT + 4)) ;;
	plainhttp) echo $((PORT + 5)) ;;
	nats) echo $((PORT + 6)) ;;
	node1 | local | forwarded) echo $((PORT + 7)) ;;
	node2) echo $((PORT + 8)) ;;
	esac
}

# wait_up NAME PID URL: until URL answers 2xx, or fail.
wait_up() {
	i=0
	until curl -sf -o /dev/null "$3"; do
		i=$((i + 1))
		if [ $i -ge 150 ] || ! kill -0 "$2" 2>/dev/null; then
			echo "run.sh: $1 did not start; see $DIR/$1.log" >&2
			exit 1
		fi
		sleep 0.1
	done
}

# sockgate flags every node gets: no limits in the way of the load.
NOLIMITS="-log-level error -max-sessions 0 -max-sessions-per-ip 0 -max-connections-per-ip 0 -allowed-origins *"

# start SERVER CONFORMANCE: start a server (with sockgate's -conformance
# services, which include /broadcast, when CONFORMANCE is 1) and wait until
# it answers. Its pid is in PID_<SERVER>.
start() {
	if [ "$1" = bridged ]; then start backend 0; fi # sets port, log and pid: before ours
	port=$(port_of "$1")
	log=$DIR/$1.log
	conf=""
	if [ "$2" = 1 ]; then conf=-conformance; fi
	ready=/metrics
	case $1 in
	native | compat)
		engine=native
		if [ "$1" = compat ]; then engine=sockjs-go; fi
		# shellcheck disable=SC2086 # NOLIMITS is several flags
		taskset -c $SERVER_CPU bin/sockgate -addr 127.0.0.1:"$port" -engine $engine $conf $NOLIMITS >>"$log" 2>&1 &
		;;
	plain | backend)
		taskset -c $SERVER_CPU bin/plainws -addr 127.0.0.1:"$port" >>"$log" 2>&1 &
		;;
	plainhttp)
		taskset -c $SERVER_CPU bin/plainhttp -addr 127.0.0.1:"$port" >>"$log" 2>&1 &
		;;
	bridged)
		# shellcheck disable=SC2086
		taskset -c $SERVER_CPU bin/sockgate -addr 127.0.0.1:"$port" \
			-upstream "/bridged=ws://127.0.0.1:$(port_of backend)/echo/websocket" $NOLIMITS >>"$log" 2>&1 &
		;;
	nats)
		rm -rf "$DIR/nats"
		taskset -c $SERVER_CPU "$NATS" -a 127.0.0.1 -p "$port" -m $((PORT + 10)) -js -sd "$DIR/nats" >>"$log" 2>&1 &
		ready=/healthz
		port=$((PORT + 10))
		;;
	node1 | node2)
		# shellcheck disable=SC2086
		taskset -c $SERVER_CPU bin/sockgate -addr 127.0.0.1:"$port" -node-id "$1" \
			-nats-url "nats://127.0.0.1:$(port_of nats)" $NOLIMITS >>"$log" 2>&1 &
		ready=/readyz
		;;
	esac
	pid=$!
	eval "PID_$1=$pid"
	PIDS="$PIDS $pid"
	wait_up "$1" "$pid" "http://127.0.0.1:$port$ready"
}

# stop_all stops every server started.
stop_all() {
	for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
	for pid in $PIDS; do wait "$pid" 2>/dev/null || true; done
	PIDS=""
}

trap stop_all EXIT
trap 'exit 130' INT TERM

# load SERVER PREFIX TOOL-FLAGS...: one run of the load tool; its JSON line
# is appended to the results. The cluster labels measure the two nodes and
# NATS together.
load() {
	server=$1 prefix=$2
	shift 2
	case $server in
	local | forwarded) pid="$PID_node1,$PID_node2,$PID_nats" ;;
	*) eval "pid=\$PID_$server" ;;
	esac
	if ! taskset -c $CLIENT_CPU bin/sockgate-bench -server "$server" -pid "$pid" \
		-url "http://127.0.0.1:$(port_of "$server")$prefix" "$@" >>"$RESULTS"; then
		echo "run.sh: the load tool failed against $server: $*" >&2
		FAILED=1
	fi
}

# servers_for TRANSPORT: each transport against its limit; the bridge is
# measured over websocket and xhr-polling.
servers_for() {
	case $1 in
	websocket) echo "native compat plain bridged" ;;
	raw-websocket) echo "native compat plain" ;;
	xhr-polling) echo "native compat plainhttp bridged" ;;
	xhr-streaming) echo "native compat plainhttp" ;;
	*) echo "native compat" ;;
	esac
}

# prefix_of SERVER: where its echo service is.
prefix_of() {
	case $1 in
	bridged) echo /bridged ;;
	*) echo /echo ;;
	esac
}

echo "== echo: $ECHO_SESSIONS sessions, 64-byte messages, $ECHO_ROUNDS rounds of $ECHO_TIME per server and transport"
for s in native compat plain plainhttp bridged; do start $s 0; done
for t in $ECHO_TRANSPORTS; do
	r=0
	while [ $r -lt "$ECHO_ROUNDS" ]; do
		for s in $(servers_for "$t"); do
			load $s "$(prefix_of $s)" -scenario echo -transport "$t" -sessions "$ECHO_SESSIONS" -duration "$ECHO_TIME"
		done
		r=$((r + 1))
	done
done
stop_all

echo "== broadcast: $BC_ROUNDS rounds of $BC_MESSAGES messages at $BC_RATE/s per server; websocket to $BC_WS_SIZES, xhr-streaming and eventsource to $BC_STREAM"
for s in native compat plain; do start $s 1; done
for n in $BC_WS_SIZES; do
	r=0
	while [ $r -lt "$BC_ROUNDS" ]; do
		for s in native compat plain; do
			load $s /broadcast -scenario broadcast -transport websocket -sessions "$n" -messages "$BC_MESSAGES" -rate $BC_RATE
		done
		r=$((r + 1))
	done
done
for t in xhr-streaming eventsource; do
	r=0
	while [ $r -lt "$BC_ROUNDS" ]; do
		for s in native compat; do
			load $s /broadcast -scenario broadcast -transport $t -sessions "$BC_STREAM" -messages "$BC_MESSAGES" -rate $BC_RATE
		done
		r=$((r + 1))
	done
done

echo "== saturation: $SAT_SESSIONS websocket subscribers, $SAT_WINDOW messages in flight for $SAT_TIME, $SAT_ROUNDS rounds per server"
r=0
while [ $r -lt "$SAT_ROUNDS" ]; do
	for s in native compat plain; do
		load $s /broadcast -scenario saturation -transport websocket -sessions "$SAT_SESSIONS" -window "$SAT_WINDOW" -duration "$SAT_TIME"
	done
	r=$((r + 1))
done
stop_all

# idle SERVER TRANSPORT SESSIONS HOLD: one idle run against a fresh server.
idle() {
	start "$1" 0
	load "$1" "$(prefix_of "$1")" -scenario idle -transport "$2" -sessions "$3" -hold "$4"
	stop_all
}

echo "== idle: sessions held $IDLE_HOLD, each server started afresh"
for s in native compat plain; do idle $s websocket "$IDLE_WS" "$IDLE_HOLD"; done
for s in native compat; do idle $s xhr-streaming "$IDLE_STREAM" "$IDLE_HOLD"; done
echo "== idle bridged websockets: $IDLE_BRIDGED sessions held $IDLE_HOLD"
idle bridged websocket "$IDLE_BRIDGED" "$IDLE_HOLD"
if [ "$HOLD_SESSIONS" -gt 0 ]; then
	echo "== hold: $HOLD_SESSIONS websocket sessions for $HOLD_TIME"
	for s in native compat plain; do idle $s websocket "$HOLD_SESSIONS" "$HOLD_TIME"; done
fi

echo "== cluster (issue 11): NATS and two nodes; $CL_SESSIONS sessions, then 1, $CL_ROUNDS rounds of $CL_TIME, local against forwarded"
start nats 0
start node1 0
start node2 0
# CL_SESSIONS for throughput; one session for the latency forwarding adds
# (no queueing behind other sessions on a loaded server).
for n in "$CL_SESSIONS" 1; do
	for t in xhr-polling xhr-streaming; do
		r=0
		while [ $r -lt "$CL_ROUNDS" ]; do
			load local /echo -scenario echo -transport $t -sessions "$n" -duration "$CL_TIME"
			load forwarded /echo -scenario echo -transport $t -sessions "$n" -duration "$CL_TIME" \
				-url2 "http://127.0.0.1:$(port_of node2)/echo"
			r=$((r + 1))
		done
	done
done
stop_all

# Compression (issue 15): one native server with -websocket-compression;
# the same chat-like JSON broadcast (300-byte messages at 20/s) to
# websocket subscribers that offer permessage-deflate or do not, alternated.
# Bytes read per delivery and server CPU per delivery, printed here (the
# servers "deflate-on" and "deflate-off" are also in $RESULTS).
echo "== compression: $BC_ROUNDS rounds of a chat-like JSON broadcast to $BC_WS websockets, with and without permessage-deflate"
port=$((PORT + 9))
taskset -c $SERVER_CPU bin/sockgate -addr 127.0.0.1:$port -conformance -websocket-compression -log-level error \
	-max-sessions 0 -max-sessions-per-ip 0 -max-connections-per-ip 0 -allowed-origins '*' >>"$DIR/deflate.log" 2>&1 &
PID_deflate=$! PIDS="$PIDS $!"
i=0
until curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"; do
	i=$((i + 1))
	if [ $i -ge 100 ]; then echo "run.sh: the compression server did not start; see $DIR/deflate.log" >&2 && exit 1; fi
	sleep 0.1
done
r=0
while [ $r -lt "$BC_ROUNDS" ]; do
	for mode in off on; do
		opt=""
		if [ $mode = on ]; then opt=-compression; fi
		taskset -c $CLIENT_CPU bin/sockgate-bench -server deflate-$mode -pid "$PID_deflate" -url "http://127.0.0.1:$port/broadcast" \
			-scenario broadcast -transport websocket -sessions "$BC_WS" -messages "$BC_MESSAGES" -rate 20 -size 300 -chat-json $opt \
			>>"$RESULTS" || FAILED=1
	done
	r=$((r + 1))
done
stop_all
# field FIELD: the value of FIELD in the JSON line on stdin (numbers and
# strings; the result lines are flat), so that no jq is needed.
field() { sed -n 's/.*"'"$1"'":"\{0,1\}\([^",}]*\).*/\1/p'; }
grep '"server":"deflate-' "$RESULTS" | while read -r line; do
	echo "  $(echo "$line" | field server): $(echo "$line" | field wire_bytes_per_op) bytes read per delivery," \
		"$(echo "$line" | field server_cpu_us_per_op) us server CPU per delivery, delivered $(echo "$line" | field delivered_fraction)"
done

echo
echo "sockgate bench ($MODE), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running skews the figures)"
echo "servers on CPU $SERVER_CPU, load tool on CPU $CLIENT_CPU. Per-round figures: best round (median round); ratios are native/other"
echo "on the best rounds (round trips, deliveries: higher is better; latency, CPU, memory, goroutines: lower is better);"
echo "CPU per operation from the rounds added up. The limit is plainws (plain) for websockets, plainhttp for the HTTP transports."
bin/sockgate-bench report -subject native -compat compat -limit plain,plainhttp "$RESULTS"
echo
echo "the bridge (-upstream to a plain WebSocket echo backend) against the in-process echo; server CPU is sockgate's only:"
bin/sockgate-bench report -subject bridged -compat native -limit "" "$RESULTS"
echo
echo "the cluster (issue 11): forwarded (requests alternate between two nodes) against local (one node); server CPU is both nodes' and NATS's:"
bin/sockgate-bench report -subject forwarded -compat local -limit "" "$RESULTS"
echo
echo "targets (issues 15 and 11; a reduced run reads its own sizes):"
bin/sockgate-bench report -targets -broadcast-sessions "$(echo "$BC_WS_SIZES" | tr ' ' ,)" -saturation-sessions "$SAT_SESSIONS" "$RESULTS"
echo "results: $RESULTS"
exit $FAILED
