// The transport matrix of transports.test.mjs (lib/matrix.mjs) through the
// real nginx running exactly deploy/nginx/sockgate.conf (only its listen
// and upstream lines replaced, as test/proxy does) in front of two sockgate
// nodes: the chat page served through nginx (same-origin, 9 transports) and
// a cross-origin page whose sockjs-client and service both come through
// nginx (8 transports). With two nodes, every request of a session must be
// routed to the node that holds it (nginx's hash on the session id).
import { after, before, it } from 'node:test';
import { launchBrowser } from './lib/browser.mjs';
import { freePort, startGateway } from './lib/gateway.mjs';
import { CROSS, SAME, transportMatrix } from './lib/matrix.mjs';
import { startNginx } from './lib/nginx.mjs';
import { startCrossOriginServer } from './lib/servers.mjs';

// NODES is how many gateways sit behind nginx.
const NODES = 2;

let nodes = [];
let ngx;
let xo;
let browser;

before(async () => {
  // nginx's port is needed first: the cross-origin page loads sockjs-client
  // through it, and the nodes must allow that page's origin.
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  xo = await startCrossOriginServer(base);
  for (let i = 0; i < NODES; i++) {
    nodes.push(await startGateway(['-trusted-proxies', '127.0.0.1/32', '-proxy-idle-timeout', '75s'],
      { allowedOrigins: xo.base }));
  }
  ngx = await startNginx({ port, upstreams: nodes.map((n) => `127.0.0.1:${n.port}`) });
  browser = await launchBrowser();
});

// Every part is stopped even if another part's stop (or before()) failed.
after(async () => {
  const results = await Promise.allSettled([
    browser?.close(),
    ngx?.stop(),
    xo?.close(),
    ...nodes.map((n) => n.stop()),
  ]);
  const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason?.message || r.reason);
  if (failed.length) throw new Error(`stopping the nginx test set-up: ${failed.join('; ')}`);
});

transportMatrix({
  via: 'through nginx',
  env: () => ({
    browser,
    pages: { [SAME]: `${ngx.base}/`, [CROSS]: `${xo.base}/` },
    services: { [SAME]: '/echo', [CROSS]: `${ngx.base}/echo` },
    logs: () => [
      ['nginx error log (stderr), last lines', ngx.errorLog()],
      ['nginx access log, last lines', ngx.accessLog()],
      ...nodes.map((n, i) => [`gateway node${i + 1} (:${n.port}), last log lines`, n.logs()]),
    ],
  }),
});

// The nginx access log after the matrix: each session's requests all went
// to one node (sticky routing), and the sessions were spread over both
// nodes, so the matrix above really ran against two of them.
it('through nginx: each session on one node, sessions on every node', () => {
  const sessionURL = /"[A-Z]+ \/echo\/[^/ ]+\/([^/ ]+)\/[a-z_]+[? ][^"]*" \d+ \d+ upstream="([^"]*)"/;
  const bySession = new Map();
  for (const line of ngx.accessLog(Infinity).split('\n')) {
    const m = sessionURL.exec(line);
    if (!m) continue;
    // "$upstream_addr" lists every node tried: "a, b", or "a : b" across
    // an internal redirect.
    const upstreams = m[2].split(/\s*,\s*|\s+:\s+/).filter((u) => u && u !== '-');
    if (!bySession.has(m[1])) bySession.set(m[1], new Set());
    for (const u of upstreams) bySession.get(m[1]).add(u);
  }
  const split = [...bySession].filter(([, ups]) => ups.size > 1);
  if (split.length) {
    throw new Error(`[through nginx] step "sticky routing": sessions served by more than one node: ` +
      `${split.slice(0, 5).map(([id, ups]) => `${id} on ${[...ups].join(' and ')}`).join('; ')}\n` +
      `--- nginx access log, last lines ---\n${ngx.accessLog()}`);
  }
  const used = new Set([...bySession.values()].flatMap((ups) => [...ups]));
  const want = nodes.map((n) => `127.0.0.1:${n.port}`);
  const idle = want.filter((a) => !used.has(a));
  if (bySession.size === 0 || idle.length) {
    throw new Error(`[through nginx] step "spread over nodes": ${bySession.size} sessions in the access log, ` +
      `none on ${idle.join(', ') || 'any node'}\n--- nginx access log, last lines ---\n${ngx.accessLog()}`);
  }
});
