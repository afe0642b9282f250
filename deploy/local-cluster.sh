#!/usr/bin/env bash
# make run-cluster: a sockgate cluster on one machine. It starts a NATS
# server with JetStream, three sockgate nodes joined through it, and nginx
# in front of them with the shipped deploy/nginx/sockgate.conf (its listen
# and upstream lines replaced for this machine, nothing else), prints the
# URL to open and runs until Ctrl-C (or SIGTERM), which stops all of it.
#
# Ports (set them in the environment): nginx on PORT (8080), the nodes on
# NODE_PORTS ("8081 8082 8083"), NATS on NATS_PORT (4222). Files go to
# RUN_DIR (a new temporary directory). SOCKGATE_* variables reach the nodes.
#
# nats-server: the one on PATH (Debian: apt-get install nats-server), else
# bin/nats-server, built from the version pinned in go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8080}
NODE_PORTS=${NODE_PORTS:-"8081 8082 8083"}
NATS_PORT=${NATS_PORT:-4222}
RUN_DIR=${RUN_DIR:-$(mktemp -d /tmp/sockgate-cluster.XXXXXX)}
mkdir -p "$RUN_DIR"

say() { echo "run-cluster: $*"; }
die() { echo "run-cluster: $*" >&2; exit 1; }

[ -x bin/sockgate ] || die "bin/sockgate is missing: run make build (make run-cluster does)"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || die "nginx is missing: apt-get install nginx (make deps does)"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
NATS=$(command -v nats-server || true)
if [ -z "$NATS" ]; then
	if [ ! -x bin/nats-server ]; then
		say "building bin/nats-server from the version in go.mod"
		go build -o bin/nats-server github.com/nats-io/nats-server/v2
	fi
	NATS=bin/nats-server
fi

pids=()
stop() {
	trap - INT TERM EXIT
	say "stopping"
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	say "stopped (files in $RUN_DIR)"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

# answers_200 PORT PATH: whether 127.0.0.1:PORT answers PATH with 200
# (bash's /dev/tcp: no curl needed). In a subshell that ignores SIGPIPE: a
# connection reset under the write fails the probe, not the script.
answers_200() (
	trap '' PIPE
	exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$2" "$1" >&3 || exit 1
	read -r _ status _ <&3 || true
	[ "${status:-}" = 200 ]
) 2>/dev/null

# wait_http PORT PATH: until 127.0.0.1:PORT answers PATH with 200, or give
# up after 15 s.
wait_http() {
	for _ in $(seq 150); do
		answers_200 "$1" "$2" && return 0
		sleep 0.1
	done
	die "127.0.0.1:$1$2 did not answer 200; logs in $RUN_DIR"
}

"$NATS" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$RUN_DIR/nats" >"$RUN_DIR/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	if ( trap '' PIPE; echo >"/dev/tcp/127.0.0.1/$NATS_PORT" ) 2>/dev/null; then break; fi
	sleep 0.1
done
say "nats-server on 127.0.0.1:$NATS_PORT ($NATS)"

upstreams=""
i=0
for p in $NODE_PORTS; do
	i=$((i + 1))
	bin/sockgate -addr "127.0.0.1:$p" -node-id "node$i" -nats-url "nats://127.0.0.1:$NATS_PORT" \
		-trusted-proxies 127.0.0.1/32 -allowed-origins "http://localhost:$PORT,http://127.0.0.1:$PORT" \
		>"$RUN_DIR/node$i.log" 2>&1 &
	pids+=($!)
	upstreams+="    server 127.0.0.1:$p max_fails=3 fail_timeout=10s;"$'\n'
done
for p in $NODE_PORTS; do wait_http "$p" /readyz; done
say "nodes on $NODE_PORTS (logs: $RUN_DIR/node*.log)"

# The shipped file, with only its marked listen and upstream regions
# replaced, inside the http {} a distribution's nginx.conf would give it.
awk -v listen="    listen 127.0.0.1:$PORT;" -v ups="$upstreams" '
	/# sockgate-test:listen begin/    { print listen; skip = 1; next }
	/# sockgate-test:upstreams begin/ { printf "%s", ups; skip = 1; next }
	/# sockgate-test:.* end/          { skip = 0; next }
	!skip
' deploy/nginx/sockgate.conf >"$RUN_DIR/sockgate.conf"
user=""
[ "$(id -u)" = 0 ] && user="user root;"
cat >"$RUN_DIR/nginx.conf" <<CONF
$user
worker_processes 1;
events { worker_connections 1024; }
http {
    access_log $RUN_DIR/access.log;
    client_body_temp_path $RUN_DIR/client_body;
    proxy_temp_path $RUN_DIR/proxy;
    fastcgi_temp_path $RUN_DIR/fastcgi;
    uwsgi_temp_path $RUN_DIR/uwsgi;
    scgi_temp_path $RUN_DIR/scgi;
    include $RUN_DIR/sockgate.conf;
}
CONF
"$NGINX" -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e stderr \
	-g "daemon off; pid $RUN_DIR/nginx.pid; error_log stderr;" >"$RUN_DIR/nginx.log" 2>&1 &
pids+=($!)
wait_http "$PORT" /chat/info
say "nginx on 127.0.0.1:$PORT with deploy/nginx/sockgate.conf ($RUN_DIR/nginx.conf)"
say "open http://localhost:$PORT/ (Ctrl-C stops everything)"
wait -n "${pids[@]}" || true
die "a process of the cluster exited; logs in $RUN_DIR"
