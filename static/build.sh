#!/bin/sh
# Installs the pinned sockjs-client from package-lock.json and copies its
# browser build into dist/, where static.go embeds it. Run from anywhere.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
mkdir -p dist
cp node_modules/sockjs-client/dist/sockjs.min.js dist/sockjs.min.js
echo "static: dist/sockjs.min.js ($(wc -c < dist/sockjs.min.js) bytes) ready"
