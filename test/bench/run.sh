#!/bin/sh
# make bench: the same load scenarios against sockgate's native engine, its
# compat engine (igm/sockjs-go) and a plain gorilla/websocket server (the
# limit), then one comparison table. Then sockgate bridging (-upstream) to a
# plain WebSocket echo backend (plainws's raw /echo/websocket, on the
# servers' CPU too): websocket and xhr-polling echo and idle websockets,
# compared with the native engine's in-process echo in a second table.
#
# Servers run pinned to CPU 0 (taskset -c 0), the load tool to CPU 1, all on
# 127.0.0.1. Echo and broadcast runs are interleaved in rounds (native,
# compat, plain, native, ...) against servers started together, so that
# noise from anything else on the machine falls on every server alike; the
# report takes the median of the rounds, and the server CPU time per
# operation, which such noise hardly moves. Every idle run gets a freshly
# started server, so that its memory is measured from a clean process.
#
#   BENCH=short (default, about 3 minutes) or BENCH=full (the issue's sizes)
#   BENCH_DIR   where results and server logs go (default bin/bench)
#   BENCH_PORT  first of the five ports (default 18181)
#   GO          the go command
set -eu
cd "$(dirname "$0")/../.."

MODE=${BENCH:-short}
GO=${GO:-go}
DIR=${BENCH_DIR:-bin/bench}
PORT=${BENCH_PORT:-18181}
SERVER_CPU=0
CLIENT_CPU=1
ECHO_TRANSPORTS="websocket raw-websocket xhr-streaming xhr-polling eventsource"

case $MODE in
short)
	ECHO_SESSIONS=50 ECHO_ROUNDS=4 ECHO_TIME=1.5s
	BC_WS=2000 BC_STREAM=500 BC_ROUNDS=3 BC_MESSAGES=30
	IDLE_WS=5000 IDLE_STREAM=2000 IDLE_HOLD=3s IDLE_BRIDGED=5000
	HOLD_SESSIONS=0 HOLD_TIME=0s
	;;
full)
	ECHO_SESSIONS=50 ECHO_ROUNDS=6 ECHO_TIME=5s
	BC_WS=5000 BC_STREAM=1000 BC_ROUNDS=3 BC_MESSAGES=100
	IDLE_WS=10000 IDLE_STREAM=10000 IDLE_HOLD=5s IDLE_BRIDGED=5000
	HOLD_SESSIONS=15000 HOLD_TIME=60s
	;;
*)
	echo "run.sh: BENCH must be short or full, not $MODE" >&2
	exit 2
	;;
esac

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

port_of() {
	case $1 in
	native) echo "$PORT" ;;
	compat) echo $((PORT + 1)) ;;
	plain) echo $((PORT + 2)) ;;
	bridged) echo $((PORT + 3)) ;;
	backend) echo $((PORT + 4)) ;;
	esac
}

# start SERVER CONFORMANCE: start a server (with sockgate's -conformance
# services, which include /broadcast, when CONFORMANCE is 1) and wait until
# it answers. Its pid is in PID_<SERVER>.
start() {
	if [ "$1" = bridged ]; then start backend 0; fi # sets port, log and pid: before ours
	port=$(port_of "$1")
	log=$DIR/$1.log
	conf=""
	if [ "$2" = 1 ]; then conf=-conformance; fi
	case $1 in
	native | compat)
		engine=native
		if [ "$1" = compat ]; then engine=sockjs-go; fi
		taskset -c $SERVER_CPU bin/sockgate -addr 127.0.0.1:"$port" -engine $engine $conf \
			-log-level error -max-sessions 0 -max-sessions-per-ip 0 -max-connections-per-ip 0 -allowed-origins '*' >>"$log" 2>&1 &
		;;
	plain | backend)
		taskset -c $SERVER_CPU bin/plainws -addr 127.0.0.1:"$port" >>"$log" 2>&1 &
		;;
	bridged)
		taskset -c $SERVER_CPU bin/sockgate -addr 127.0.0.1:"$port" \
			-upstream "/bridged=ws://127.0.0.1:$(port_of backend)/echo/websocket" \
			-log-level error -max-sessions 0 -max-sessions-per-ip 0 -max-connections-per-ip 0 \
			-allowed-origins '*' >>"$log" 2>&1 &
		;;
	esac
	pid=$!
	eval "PID_$1=$pid"
	PIDS="$PIDS $pid"
	i=0
	until curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"; do
		i=$((i + 1))
		if [ $i -ge 100 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "run.sh: $1 did not start; see $log" >&2
			exit 1
		fi
		sleep 0.1
	done
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
# is appended to the results.
load() {
	server=$1 prefix=$2
	shift 2
	eval "pid=\$PID_$server"
	if ! taskset -c $CLIENT_CPU bin/sockgate-bench -server "$server" -pid "$pid" \
		-url "http://127.0.0.1:$(port_of "$server")$prefix" "$@" >>"$RESULTS"; then
		echo "run.sh: the load tool failed against $server: $*" >&2
		FAILED=1
	fi
}

# servers_for TRANSPORT: the plain server speaks only the websockets; the
# bridge is measured over websocket and xhr-polling.
servers_for() {
	case $1 in
	websocket) echo "native compat plain bridged" ;;
	raw-websocket) echo "native compat plain" ;;
	xhr-polling) echo "native compat bridged" ;;
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
for s in native compat plain bridged; do start $s 0; done
for t in $ECHO_TRANSPORTS; do
	r=0
	while [ $r -lt $ECHO_ROUNDS ]; do
		for s in $(servers_for $t); do
			load $s "$(prefix_of $s)" -scenario echo -transport $t -sessions $ECHO_SESSIONS -duration $ECHO_TIME
		done
		r=$((r + 1))
	done
done
stop_all

echo "== broadcast: $BC_ROUNDS rounds of $BC_MESSAGES messages at 10/s per server"
for s in native compat plain; do start $s 1; done
for t in websocket xhr-streaming; do
	n=$BC_WS
	if [ $t = xhr-streaming ]; then n=$BC_STREAM; fi
	r=0
	while [ $r -lt $BC_ROUNDS ]; do
		for s in $(servers_for $t | sed 's/ bridged//'); do
			load $s /broadcast -scenario broadcast -transport $t -sessions $n -messages $BC_MESSAGES -rate 10
		done
		r=$((r + 1))
	done
done
stop_all

# idle SERVER TRANSPORT SESSIONS HOLD: one idle run against a fresh server.
idle() {
	start "$1" 0
	load "$1" "$(prefix_of "$1")" -scenario idle -transport "$2" -sessions "$3" -hold "$4"
	stop_all
}

echo "== idle: sessions held $IDLE_HOLD, each server started afresh"
for t in websocket xhr-streaming; do
	n=$IDLE_WS
	if [ $t = xhr-streaming ]; then n=$IDLE_STREAM; fi
	for s in $(servers_for $t); do
		if [ $s != bridged ]; then idle $s $t $n $IDLE_HOLD; fi
	done
done
echo "== idle bridged websockets: $IDLE_BRIDGED sessions held $IDLE_HOLD"
idle bridged websocket "$IDLE_BRIDGED" "$IDLE_HOLD"
if [ "$HOLD_SESSIONS" -gt 0 ]; then
	echo "== hold: $HOLD_SESSIONS websocket sessions for $HOLD_TIME"
	for s in native compat plain; do idle $s websocket $HOLD_SESSIONS $HOLD_TIME; done
fi

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
grep '"server":"deflate-' "$RESULTS" | jq -r '"  \(.server): \(.wire_bytes_per_op) bytes read per delivery, \(.server_cpu_us_per_op) us server CPU per delivery, delivered \(.delivered_fraction)"'

echo
echo "sockgate bench ($MODE), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running skews the figures)"
echo "servers on CPU $SERVER_CPU, load tool on CPU $CLIENT_CPU. Per-round figures: best round (median round); ratios are native/other"
echo "on the best rounds (round trips, delivered: higher is better; latency, CPU, memory, goroutines: lower is better)."
bin/sockgate-bench report -subject native -compat compat "$RESULTS"
echo
echo "the bridge (-upstream to a plain WebSocket echo backend) against the in-process echo; server CPU is sockgate's only:"
bin/sockgate-bench report -subject bridged -compat native "$RESULTS"
echo "results: $RESULTS"
exit $FAILED
