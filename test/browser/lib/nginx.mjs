// Starting and stopping the real nginx with the shipped
// deploy/nginx/sockgate.conf, the way test/proxy (Go) runs it: only the
// lines between the "# sockgate-test:<name> begin/end" markers are replaced
// (listen address, upstream nodes), inside a generated nginx.conf like a
// distribution's, everything in a temporary directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, spawnLogged, waitReady } from './gateway.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

// NGINX_CONF is the shipped configuration under test.
export const NGINX_CONF = path.resolve(here, '..', '..', '..', 'deploy', 'nginx', 'sockgate.conf');
// NGINX_RR_CONF is the round-robin configuration (nodes joined by NATS).
export const NGINX_RR_CONF = path.resolve(here, '..', '..', '..', 'deploy', 'nginx', 'sockgate-roundrobin.conf');

// NGINX_PATH is where Debian's nginx package (`make deps`) puts the binary.
const NGINX_PATH = '/usr/sbin/nginx';

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
// LOG_LINES is how many of nginx's last error and access log lines a
// failure shows.
const LOG_LINES = 30;

// MARKER_PREFIX starts the comment lines around a replaceable region.
const MARKER_PREFIX = '# sockgate-test:';

// nginxBin finds the real nginx, or throws with an install hint: the test
// fails, it is never skipped.
export function nginxBin() {
  if (fs.existsSync(NGINX_PATH)) return NGINX_PATH;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const p = path.join(dir || '.', 'nginx');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch { /* not here */ }
  }
  throw new Error(`nginx is not installed (no ${NGINX_PATH}, none on PATH): nginx.test.mjs runs the real ` +
    'nginx with deploy/nginx/sockgate.conf in front of sockgate. Install it: `make deps`, or ' +
    '`apt-get install -y nginx` as root');
}

// replaceRegions returns text with the lines between each named region's
// begin and end markers replaced by lines (indented like the begin marker),
// as test/proxy's replaceRegions does. A region that is missing, or has no
// end marker, is an error: a shipped file that lost its markers must fail
// the test instead of running with its example addresses.
export function replaceRegions(name, text, regions) {
  const out = [];
  const seen = new Set();
  let current = '';
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    const marker = trimmed.startsWith(MARKER_PREFIX) ? trimmed.slice(MARKER_PREFIX.length) : null;
    if (marker !== null && marker.endsWith(' begin')) {
      const region = marker.slice(0, -' begin'.length);
      out.push(line);
      if (Object.hasOwn(regions, region)) {
        current = region;
        seen.add(region);
        const indent = line.slice(0, line.length - line.trimStart().length);
        for (const l of regions[region]) out.push(indent + l);
      }
    } else if (marker !== null && marker.endsWith(' end')) {
      current = '';
      out.push(line);
    } else if (current === '') {
      out.push(line);
    }
  }
  if (current !== '') throw new Error(`${name}: region "${current}" has no end marker`);
  for (const region of Object.keys(regions)) {
    if (!seen.has(region)) {
      throw new Error(`${name}: no "${region}" region (${MARKER_PREFIX}${region} begin ... end); the test replaces it`);
    }
  }
  return out.join('\n');
}

// regionLines returns the lines inside a region of text, without comments.
function regionLines(name, text, region) {
  const begin = `${MARKER_PREFIX}${region} begin`;
  const end = `${MARKER_PREFIX}${region} end`;
  const lines = [];
  let inside = false;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === begin) inside = true;
    else if (trimmed === end) return lines;
    else if (inside && trimmed !== '' && !trimmed.startsWith('#')) lines.push(trimmed);
  }
  throw new Error(`${name}: no complete "${region}" region`);
}

// IPV4_PORT matches the example node addresses of the shipped file.
const IPV4_PORT = /\b\d{1,3}(\.\d{1,3}){3}:\d+\b/g;

// serverLines makes one upstream line per node address from the first
// shipped one, so the test nodes keep its parameters (max_fails ...); only
// the address changes.
function serverLines(name, text, addrs) {
  const shipped = regionLines(name, text, 'upstreams');
  if (shipped.length === 0 || !shipped[0].match(IPV4_PORT)) {
    throw new Error(`${name}: the upstreams region has no server line with an address: ${JSON.stringify(shipped)}`);
  }
  return addrs.map((a) => shipped[0].replace(IPV4_PORT, a));
}

// wrapper is the nginx.conf around the shipped fragment, as test/proxy
// writes it: what a distribution's nginx.conf provides (Debian's turns
// gzip, sendfile and tcp_nopush on, so the fragment must work with them),
// every path in dir. The access log format adds which node answered, for
// failure messages.
function wrapper(dir) {
  const user = process.geteuid?.() === 0 ? 'user root;' : ''; // workers must reach the 0700 temp dir
  return `# Generated by test/browser/lib/nginx.mjs around the shipped deploy/nginx fragment.
${user}
worker_processes 2;
events {
    worker_connections 1024;
}
http {
    log_format sockgate_test '$remote_addr "$request" $status $body_bytes_sent '
                             'upstream="$upstream_addr" upstream_status="$upstream_status" rt=$request_time '
                             'origin="$http_origin" upgrade="$http_upgrade"';
    access_log ${dir}/access.log sockgate_test;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    sendfile on;
    tcp_nopush on;
    gzip on;
    include ${dir}/sockgate.conf;
}
`;
}

// tailFile returns the last n lines of a file ('' if it cannot be read).
function tailFile(file, n) {
  try {
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    return lines.slice(-n).map((l) => `  ${l}`).join('\n');
  } catch {
    return '';
  }
}

// startNginx runs the real nginx with conf (NGINX_CONF unless given) in front of upstreams
// (["127.0.0.1:port", ...]), listening on 127.0.0.1:port (a free one if not
// given), and resolves once /echo/info answers through it. The returned
// stop() must run (an after() hook): it ends nginx and its workers and
// removes the temporary directory.
export async function startNginx({ upstreams, port, conf: confPath = NGINX_CONF }) {
  const bin = nginxBin();
  if (port == null) port = await freePort();
  const text = fs.readFileSync(confPath, 'utf8');
  const conf = replaceRegions(confPath, text, {
    listen: [`listen 127.0.0.1:${port};`],
    upstreams: serverLines(confPath, text, upstreams),
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sockgate-browser-nginx-'));
  fs.writeFileSync(path.join(dir, 'sockgate.conf'), conf);
  const mainConf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(mainConf, wrapper(dir));
  const args = ['-p', dir, '-c', mainConf, '-e', 'stderr',
    '-g', `daemon off; pid ${path.join(dir, 'nginx.pid')}; error_log stderr;`];

  // detached: nginx gets a process group of its own (it forks workers), so
  // a stuck shutdown can take the whole group down.
  const p = spawnLogged(bin, args, { detached: true });
  const { proc } = p;
  // If this test process ends without the after() hook (a crash), take
  // nginx's group with it rather than leave it listening.
  const killGroup = () => {
    try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone already */ }
  };
  const onExit = () => { if (!p.exited) killGroup(); };
  process.on('exit', onExit);

  const errorLog = (n = LOG_LINES) => p.lines.slice(-n).map((l) => `  ${l}`).join('\n');
  const accessLog = (n = LOG_LINES) => tailFile(path.join(dir, 'access.log'), n);

  const stop = async () => {
    if (!p.exited && proc.pid) {
      try { process.kill(proc.pid, 'SIGTERM'); } catch { /* gone already */ }
      const timer = setTimeout(killGroup, STOP_TIMEOUT_MS);
      await p.exit;
      clearTimeout(timer);
    }
    process.removeListener('exit', onExit);
    fs.rmSync(dir, { recursive: true, force: true });
    return p.exited;
  };

  const base = `http://127.0.0.1:${port}`;
  if (!(await waitReady(`${base}/echo/info`, p, READY_TIMEOUT_MS))) {
    const why = p.exited ? `exited (${p.exited.code ?? p.exited.signal})` : `/echo/info not 200 in ${READY_TIMEOUT_MS} ms`;
    const err = new Error(`nginx ${args.join(' ')}: ${why}\n--- nginx error log ---\n${errorLog() || '  (none)'}\n` +
      `--- nginx access log ---\n${accessLog() || '  (none)'}\n--- generated ${path.join(dir, 'sockgate.conf')} ---\n${conf}`);
    await stop();
    throw err;
  }
  return { base, port, dir, errorLog, accessLog, stop };
}
