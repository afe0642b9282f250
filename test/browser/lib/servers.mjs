// Small Node servers the browser tests put beside or in front of sockgate.
import http from 'node:http';
import { freePort } from './gateway.mjs';

// listenLoopback serves handler on 127.0.0.1:port and, when the machine has
// IPv6 loopback, on [::1]:port too, so "localhost" works whichever address
// Chromium tries first. It resolves to a close() function.
async function listenLoopback(handler, onUpgrade) {
  const port = await freePort();
  const servers = [];
  for (const host of ['127.0.0.1', '::1']) {
    const srv = http.createServer(handler);
    if (onUpgrade) srv.on('upgrade', onUpgrade);
    try {
      await new Promise((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(port, host, resolve);
      });
      servers.push(srv);
    } catch (err) {
      if (host === '127.0.0.1') throw err; // IPv6 loopback is optional
    }
  }
  const close = () => Promise.all(servers.map((s) => new Promise((r) => {
    s.closeAllConnections?.();
    s.close(() => r());
  })));
  return { port, close };
}

// startCrossOriginServer serves, at http://localhost:PORT/, a blank page that
// loads the gateway's sockjs-client from under the service it tests
// (gatewayBase + clientPath), as the README tells front ends to. Page and
// gateway differ in host and port: cross-origin and cross-site.
export async function startCrossOriginServer(gatewayBase, clientPath = '/echo/sockjs.min.js') {
  const page = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cross-origin test page</title>
<link rel="icon" href="data:,">
<script src="${gatewayBase}${clientPath}"></script></head>
<body><p>cross-origin test page for ${gatewayBase}</p></body></html>
`;
  const { port, close } = await listenLoopback((req, res) => {
    if (req.url === '/' || req.url.startsWith('/?')) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8', 'Cache-Control': 'no-store' });
      res.end(page);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  });
  return { base: `http://localhost:${port}`, port, close };
}

// HOP_BY_HOP are headers a proxy must not forward.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding',
  'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

function forwardable(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

// startNoUpgradeProxy is an HTTP proxy on 127.0.0.1 in front of the gateway
// that streams every plain request through unbuffered but answers every
// Upgrade (websocket) request with 400 and closes, like a proxy that does not
// speak websocket. upgrades counts the refused handshakes.
export async function startNoUpgradeProxy(gatewayBase) {
  const target = new URL(gatewayBase);
  const agent = new http.Agent({ keepAlive: true });
  const stats = { upgrades: 0, requests: 0 };
  const { port, close } = await listenLoopback((req, res) => {
    stats.requests++;
    const preq = http.request({
      host: target.hostname, port: target.port, method: req.method, path: req.url,
      headers: forwardable(req.headers), agent,
    }, (pres) => {
      res.writeHead(pres.statusCode, forwardable(pres.headers));
      res.flushHeaders();
      pres.pipe(res);
      pres.on('error', () => res.destroy());
    });
    preq.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`proxy: ${err.message}\n`);
    });
    // A client that goes away (an aborted poll, a closed stream) takes the
    // upstream request with it, as a real proxy does.
    res.on('close', () => { if (!res.writableFinished) preq.destroy(); });
    req.pipe(preq);
  }, (req, socket) => {
    stats.upgrades++;
    socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n' +
      'Content-Length: 24\r\nConnection: close\r\n\r\nwebsocket not supported\n');
    socket.destroySoon?.();
  });
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    stats,
    close: async () => { agent.destroy(); await close(); },
  };
}
