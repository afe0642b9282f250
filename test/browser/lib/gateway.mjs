// Starting and stopping the real sockgate binary for a test file.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// GATEWAY_BIN is the binary under test: $SOCKGATE_BIN, or bin/sockgate at the
// repository root (built by `make build`).
export const GATEWAY_BIN = path.resolve(path.join(here, '..'),
  process.env.SOCKGATE_BIN || '../../bin/sockgate');

// READY_TIMEOUT_MS bounds how long the binary may take to answer /echo/info.
const READY_TIMEOUT_MS = 15_000;
// STOP_TIMEOUT_MS is how long SIGTERM gets before SIGKILL.
const STOP_TIMEOUT_MS = 5_000;
// LOG_LINES is how many of the gateway's last output lines a failure shows.
const LOG_LINES = 40;

// freePort asks the kernel for a free loopback TCP port.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// probe resolves true when GET url answers 200.
export async function probe(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

// startGateway runs bin/sockgate on a free loopback port with extra flags
// and resolves once /echo/info answers, or rejects with its output if it
// exits first or never gets ready. allowedOrigins is its -allowed-origins:
// every origin by default; a page from the gateway's own host is always
// allowed.
export async function startGateway(extraArgs = [], { allowedOrigins = '*' } = {}) {
  if (!fs.existsSync(GATEWAY_BIN)) {
    throw new Error(`sockgate binary not found at ${GATEWAY_BIN}: run \`make build\` ` +
      '(or go build -o bin/sockgate ./cmd/sockgate) or set SOCKGATE_BIN');
  }
  const port = await freePort();
  const args = ['-addr', `127.0.0.1:${port}`, '-log-level', 'warn', '-allowed-origins', allowedOrigins,
    ...extraArgs];
  const p = spawnLogged(GATEWAY_BIN, args);
  const base = `http://127.0.0.1:${port}`;
  if (!(await waitReady(`${base}/echo/info`, p))) {
    if (!p.exited) p.proc.kill('SIGKILL');
    await p.exit;
    const why = p.exited.code !== null ? `exited with code ${p.exited.code}` : `not ready in ${READY_TIMEOUT_MS} ms`;
    throw new Error(`sockgate ${args.join(' ')}: ${why}\n${p.lines.slice(-LOG_LINES).join('\n')}`);
  }
  return {
    base,
    port,
    // logs returns the gateway's last output lines.
    logs: (n = LOG_LINES) => p.lines.slice(-n).join('\n'),
    // stop ends the gateway: SIGTERM, then SIGKILL after STOP_TIMEOUT_MS.
    async stop() {
      if (p.exited) return p.exited;
      p.proc.kill('SIGTERM');
      const timer = setTimeout(() => p.proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const res = await p.exit;
      clearTimeout(timer);
      return res;
    },
  };
}

// spawnLogged starts bin with args, keeping its last 500 output lines in
// .lines and its exit in .exited (null while it runs) and .exit (a promise).
export function spawnLogged(bin, args, spawnOptions = {}) {
  const p = { lines: [], exited: null };
  p.proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  const keep = (chunk) => {
    for (const l of chunk.toString().split('\n')) if (l) p.lines.push(l);
    if (p.lines.length > 500) p.lines.splice(0, p.lines.length - 500);
  };
  p.proc.stdout.on('data', keep);
  p.proc.stderr.on('data', keep);
  p.exit = new Promise((resolve) => p.proc.on('exit', (code, signal) => {
    p.exited = { code, signal };
    resolve(p.exited);
  }));
  p.proc.on('error', (err) => p.lines.push(`spawn error: ${err.message}`));
  return p;
}

// waitReady polls url until it answers 200 (true), or the process p exits
// or timeoutMs passes (false).
export async function waitReady(url, p, timeoutMs = READY_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (!p.exited && Date.now() < deadline) {
    if (await probe(url)) return true;
    await sleep(50);
  }
  return false;
}
