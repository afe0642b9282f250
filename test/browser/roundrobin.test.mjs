// The transport matrix of transports.test.mjs (lib/matrix.mjs) through the
// real nginx running exactly deploy/nginx/sockgate-roundrobin.conf (only its
// listen and upstream lines replaced) in front of three sockgate nodes
// joined by a NATS server (test/internal/natsd, the nats-server module the
// Go suites embed): no sticky routing, so the requests of one session reach
// different nodes, which forward them to the node that holds the session.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, it } from 'node:test';
import { launchBrowser } from './lib/browser.mjs';
import { freePort, sleep, spawnLogged, startGateway } from './lib/gateway.mjs';
import { CROSS, SAME, transportMatrix } from './lib/matrix.mjs';
import { NGINX_RR_CONF, startNginx } from './lib/nginx.mjs';
import { startCrossOriginServer } from './lib/servers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// NODES is how many gateways sit behind nginx.
const NODES = 3;

let nats;
let natsDir;
let nodes = [];
let ngx;
let xo;
let browser;

// startNATS builds and runs test/internal/natsd on a free port and resolves
// with its URL once it accepts clients.
async function startNATS() {
  natsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sockgate-browser-nats-'));
  const bin = path.join(natsDir, 'natsd');
  execFileSync('go', ['build', '-o', bin, './test/internal/natsd'], { cwd: root, stdio: 'inherit' });
  const port = await freePort();
  nats = spawnLogged(bin, ['-port', String(port), '-dir', path.join(natsDir, 'js')]);
  const deadline = Date.now() + 15_000;
  while (!nats.lines.includes('ready')) {
    if (nats.exited || Date.now() > deadline) {
      throw new Error(`natsd did not start: ${nats.lines.slice(-20).join('\n')}`);
    }
    await sleep(50);
  }
  return `nats://127.0.0.1:${port}`;
}

before(async () => {
  const natsURL = await startNATS();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  xo = await startCrossOriginServer(base);
  for (let i = 0; i < NODES; i++) {
    nodes.push(await startGateway(['-trusted-proxies', '127.0.0.1/32', '-proxy-idle-timeout', '75s',
      '-nats-url', natsURL, '-node-id', `node${i + 1}`], { allowedOrigins: xo.base }));
  }
  ngx = await startNginx({ port, upstreams: nodes.map((n) => `127.0.0.1:${n.port}`), conf: NGINX_RR_CONF });
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
  if (nats && !nats.exited) {
    nats.proc.kill('SIGTERM');
    await nats.exit;
  }
  if (natsDir) fs.rmSync(natsDir, { recursive: true, force: true });
  const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason?.message || r.reason);
  if (failed.length) throw new Error(`stopping the round-robin test set-up: ${failed.join('; ')}`);
});

transportMatrix({
  via: 'through round-robin nginx',
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

// The nginx access log after the matrix: the requests of HTTP sessions went
// to several nodes each (no stickiness), so the matrix above really needed
// the forwarding.
it('through round-robin nginx: sessions served by several nodes', () => {
  const sessionURL = /"[A-Z]+ \/echo\/[^/ ]+\/([^/ ]+)\/[a-z_]+[? ][^"]*" \d+ \d+ upstream="([^"]*)"/;
  const bySession = new Map();
  for (const line of ngx.accessLog(Infinity).split('\n')) {
    const m = sessionURL.exec(line);
    if (!m) continue;
    const upstreams = m[2].split(/\s*,\s*|\s+:\s+/).filter((u) => u && u !== '-');
    if (!bySession.has(m[1])) bySession.set(m[1], new Set());
    for (const u of upstreams) bySession.get(m[1]).add(u);
  }
  const split = [...bySession].filter(([, ups]) => ups.size > 1);
  if (split.length === 0) {
    throw new Error(`[through round-robin nginx] step "no stickiness": ${bySession.size} sessions, ` +
      `none served by more than one node\n--- nginx access log, last lines ---\n${ngx.accessLog()}`);
  }
});
