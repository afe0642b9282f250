// The real sockjs-client in Chromium, every transport, same-origin and
// cross-origin, through sockgate's bridge (-upstream) to a plain WebSocket
// backend on the npm ws package (test/bridge/backend, npm ci there first).
// The transport matrix is the one of transports.test.mjs; afterwards, the
// handshakes the backend recorded show that the SockJS URL's query reached
// it without sockjs-client's own parameters, from every transport.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { launchBrowser } from './lib/browser.mjs';
import { spawnLogged, startGateway, sleep } from './lib/gateway.mjs';
import { CROSS, SAME, transportMatrix } from './lib/matrix.mjs';
import { startCrossOriginServer } from './lib/servers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const BACKEND = path.join(here, '..', 'bridge', 'backend', 'server.mjs');
// BACKEND_READY_MS bounds how long the backend may take to listen.
const BACKEND_READY_MS = 10_000;
// QUERY is the SockJS URL's query; the backend must see exactly this.
const QUERY = 'token=abc%20d&lang=ko';

let backend;
let backendBase;
let gw;
let xo;
let browser;

// startBackend runs the Node backend and resolves to its http:// base.
async function startBackend() {
  backend = spawnLogged(process.execPath, [BACKEND]);
  const deadline = Date.now() + BACKEND_READY_MS;
  while (Date.now() < deadline && !backend.exited) {
    const line = backend.lines.find((l) => l.startsWith('listening '));
    if (line) return `127.0.0.1:${line.slice('listening '.length)}`;
    await sleep(20);
  }
  throw new Error(`the ws backend did not start (npm ci in test/bridge/backend?):\n${backend.lines.join('\n')}`);
}

before(async () => {
  backendBase = await startBackend();
  gw = await startGateway(['-upstream', `/ws/chat=ws://${backendBase}/ws/chat`]);
  xo = await startCrossOriginServer(gw.base, '/ws/chat/sockjs.min.js');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await xo?.close();
  await gw?.stop();
  backend?.proc.kill('SIGKILL');
  await backend?.exit;
});

transportMatrix({
  via: 'through the bridge',
  env: () => ({
    browser,
    pages: { [SAME]: `${gw.base}/`, [CROSS]: `${xo.base}/` },
    services: { [SAME]: `/ws/chat?${QUERY}`, [CROSS]: `${gw.base}/ws/chat?${QUERY}` },
    logs: () => [['gateway, last log lines', gw.logs()], ['ws backend output', backend.lines.join('\n')]],
  }),
});

describe('what the ws backend saw', () => {
  it('the query and the forwarded headers, from every transport', async () => {
    const res = await fetch(`http://${backendBase}/_sessions`);
    const sessions = Object.values(await res.json()).filter((s) => s.handshake);
    const transports = new Set();
    for (const { handshake: h } of sessions) {
      const t = h.header['x-sockgate-transport']?.[0];
      transports.add(t);
      assert.deepEqual(h.query, { token: ['abc d'], lang: ['ko'] },
        `${t}: the backend's query must be the SockJS URL's, without sockjs-client's t= or c=`);
      assert.equal(h.path, '/ws/chat');
      assert.equal(h.header['x-forwarded-for']?.[0], '127.0.0.1', `${t}: X-Forwarded-For`);
      assert.match(h.header['user-agent']?.[0] || '', /Chrom/, `${t}: User-Agent`);
      assert.ok(h.header['x-sockgate-session']?.[0], `${t}: X-Sockgate-Session`);
    }
    assert.deepEqual([...transports].sort(),
      ['eventsource', 'htmlfile', 'jsonp-polling', 'websocket', 'xhr-polling', 'xhr-streaming'],
      'every transport reached the backend');
    const origins = new Set(sessions.map((s) => s.handshake.header.origin?.[0]).filter(Boolean));
    assert.ok(origins.has(gw.base) && origins.has(xo.base),
      `the backend saw both page origins as Origin, got ${[...origins].join(', ')}`);
  });
});
