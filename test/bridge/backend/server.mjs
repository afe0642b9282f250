// A plain WebSocket backend on the npm `ws` package, the kind of server
// sockgate's bridge puts SockJS in front of. It echoes text messages and
// obeys a few commands so that tests can make it misbehave. It records
// every handshake and how every connection ended, keyed by the
// X-Sockgate-Session header, and serves them as JSON: one session's at
// GET /_log?session=ID, all of them at GET /_sessions.
//
//   node server.mjs [port]      prints "listening <port>" once it listens
//
// Paths: /silent answers no pings (a dead backend for keep-alive tests);
// /forbidden answers the upgrade with 403; every other path is the echo.
//
// Commands (text messages):
//   cmd:close CODE REASON   close with CODE and REASON
//   cmd:binary              send a binary frame, then the text "after-binary"
//   cmd:flood               send 1 KiB messages until the socket breaks
//   cmd:noread              stop reading (the socket is paused)
//   cmd:die                 destroy the TCP connection without a close frame
import http from 'node:http';
import { WebSocketServer } from 'ws';

const log = new Map(); // session -> { handshake, close }

function record(sid) {
  if (!log.has(sid)) log.set(sid, { handshake: null, close: null });
  return log.get(sid);
}

const echo = new WebSocketServer({ noServer: true, maxPayload: 8 << 20 });
const silent = new WebSocketServer({ noServer: true, autoPong: false });

function serve(ws, req) {
  const sid = req.headers['x-sockgate-session'] || '';
  const url = new URL(req.url, 'http://backend');
  const query = {};
  for (const [k, v] of url.searchParams) (query[k] ||= []).push(v);
  const header = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    (header[req.rawHeaders[i].toLowerCase()] ||= []).push(req.rawHeaders[i + 1]);
  }
  record(sid).handshake = { path: url.pathname, query, header };
  ws.on('close', (code, reason) => {
    record(sid).close = { code, reason: reason.toString() };
  });
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    const msg = isBinary ? null : data.toString();
    if (msg === null || !msg.startsWith('cmd:')) {
      ws.send(msg === null ? data : msg, { binary: isBinary });
      return;
    }
    const [cmd, ...rest] = msg.slice(4).split(' ');
    switch (cmd) {
      case 'close':
        ws.close(Number(rest[0]), rest.slice(1).join(' '));
        break;
      case 'binary':
        ws.send(Buffer.from([1, 2, 3]), { binary: true });
        ws.send('after-binary');
        break;
      case 'flood':
        flood(ws);
        break;
      case 'noread':
        ws._socket.pause();
        break;
      case 'die':
        ws._socket.destroy();
        break;
      default:
        ws.send('unknown command ' + cmd);
    }
  });
}

// flood writes as fast as the socket takes it, until it breaks.
function flood(ws) {
  const chunk = 'f'.repeat(1024);
  const push = () => {
    while (ws.readyState === ws.OPEN) {
      ws.send(chunk);
      if (ws.bufferedAmount > 1 << 20) {
        setTimeout(push, 1);
        return;
      }
    }
  };
  push();
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://backend');
  if (url.pathname === '/_sessions') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(Object.fromEntries(log)));
    return;
  }
  if (url.pathname === '/_log') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(log.get(url.searchParams.get('session')) || null));
    return;
  }
  res.statusCode = 404;
  res.end('not a websocket request\n');
});

server.on('upgrade', (req, socket, head) => {
  const path = new URL(req.url, 'http://backend').pathname;
  if (path === '/forbidden') {
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  const wss = path === '/silent' ? silent : echo;
  wss.handleUpgrade(req, socket, head, (ws) => serve(ws, req));
});

server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.log('listening ' + server.address().port);
});

process.on('SIGTERM', () => process.exit(0));
