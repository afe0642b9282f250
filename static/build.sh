#!/bin/sh
# Checks that the committed sockjs-client build (dist/sockjs.min.js, which
# static.go embeds) and its licence are byte for byte the files of the npm
# package pinned in package-lock.json. With UPDATE=1 it copies them from
# the package instead (after changing the pin). Run from anywhere.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --silent
pkg=node_modules/sockjs-client
want=$(node -p 'require("./package-lock.json").packages["node_modules/sockjs-client"].version')
got=$(node -p "require('./$pkg/package.json').version")
if [ "$want" != "$got" ]; then
	echo "static: package-lock.json pins sockjs-client $want but npm installed $got" >&2
	exit 1
fi
mkdir -p dist
if [ "${UPDATE:-}" = 1 ]; then
	cp "$pkg/dist/sockjs.min.js" dist/sockjs.min.js
	cp "$pkg/LICENSE" dist/LICENSE-sockjs-client
fi
for pair in "dist/sockjs.min.js:sockjs.min.js" "LICENSE:LICENSE-sockjs-client"; do
	from=$pkg/${pair%%:*}
	to=dist/${pair##*:}
	if ! cmp -s "$from" "$to"; then
		echo "static: $to differs from sockjs-client $want's ${pair%%:*} (npm); run UPDATE=1 sh static/build.sh to take the pinned one" >&2
		exit 1
	fi
done
echo "static: dist/sockjs.min.js ($(wc -c < dist/sockjs.min.js) bytes) is sockjs-client $want from npm, byte for byte"
