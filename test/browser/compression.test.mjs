// permessage-deflate in Chromium: the real sockjs-client over websocket to a
// gateway started with -websocket-compression. Chromium always offers the
// extension; the test checks the gateway's answer in the handshake Chromium
// received (through the DevTools protocol), the gateway's count of
// compressed connections, and that every payload, small (sent as is) and
// large (compressed both ways), unicode included, comes back intact.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, watchPage } from './lib/browser.mjs';
import { startGateway } from './lib/gateway.mjs';
import { BURST, PAYLOADS, diffMessages, installHelper } from './lib/sockjs-page.mjs';

// STEP_MS bounds each step in the page.
const STEP_MS = 10_000;

// CHAT_JSON is a chat-like JSON event of about 300 bytes: over the
// 256-byte threshold, so it travels compressed.
const CHAT_JSON = JSON.stringify({
  type: 'message', id: '12345', from: 'alice',
  text: 'Über den Wolken 🌥 muss die Freiheit wohl grenzenlos sein — 자유는 구름 위에 ' + 'la la la '.repeat(20),
  ts: 1764800000000,
});

let gw;
let browser;

before(async () => {
  gw = await startGateway(['-websocket-compression']);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await gw?.stop();
});

// compressedTotal reads sockgate_websocket_compressed_total from /metrics.
async function compressedTotal() {
  const text = await (await fetch(`${gw.base}/metrics`)).text();
  const m = text.match(/^sockgate_websocket_compressed_total (\d+)/m);
  assert.ok(m, 'sockgate_websocket_compressed_total is not on /metrics');
  return Number(m[1]);
}

describe('websocket compression (-websocket-compression)', () => {
  it('negotiates permessage-deflate and echoes every payload intact', { timeout: 120_000 }, async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const watch = watchPage(page);
    const fail = (step, why) => assert.fail(`[compression] step "${step}": ${why}\n` +
      `--- browser, last events ---\n${watch.text()}\n--- gateway, last log lines ---\n${gw.logs() || '  (none)'}`);
    const handshakes = [];
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.webSocketHandshakeResponseReceived', (e) => handshakes.push(e.response));
    try {
      const before = await compressedTotal();
      await page.goto(`${gw.base}/`);
      if (!(await page.evaluate(installHelper))) fail('load page', 'SockJS is not defined on the page');
      const opened = await page.evaluate(([u, ms]) => window.__sg.open(u, ['websocket'], ms), ['/echo', STEP_MS]);
      if (!opened.ok) fail('open', opened.error);
      if (opened.transport !== 'websocket') fail('open', `transport ${opened.transport}, want websocket`);

      const hs = handshakes.find((r) => r.status === 101);
      if (!hs) fail('handshake', `no 101 seen by Chromium (${handshakes.length} handshakes)`);
      const ext = Object.entries(hs.headers).find(([k]) => k.toLowerCase() === 'sec-websocket-extensions')?.[1] || '';
      if (!/^permessage-deflate/.test(ext) || !/server_no_context_takeover/.test(ext) ||
        !/client_no_context_takeover/.test(ext)) {
        fail('handshake', `Sec-WebSocket-Extensions answered ${JSON.stringify(ext)}, want permessage-deflate without context takeover`);
      }
      const after = await compressedTotal();
      if (after !== before + 1) fail('metric', `sockgate_websocket_compressed_total went ${before} -> ${after}, want +1`);

      const cases = [
        ...PAYLOADS,
        { name: 'chat-like JSON (compressed)', msgs: [CHAT_JSON, CHAT_JSON] },
        { name: 'unicode over the threshold', msgs: ['안녕하세요 😀 👨‍👩‍👧‍👦 '.repeat(40)] },
        { name: 'burst of 200 in order', msgs: BURST },
      ];
      for (const c of cases) {
        const r = await page.evaluate(([m, ms]) => window.__sg.echo(m, ms), [c.msgs, STEP_MS]);
        if (r.closed) fail(`echo ${c.name}`, `closed ${r.closed.code} ${r.closed.reason}`);
        if (r.timedOut) fail(`echo ${c.name}`, `${r.got.length} of ${c.msgs.length} replies within ${STEP_MS} ms`);
        const diff = diffMessages(c.msgs, r.got);
        if (diff) fail(`echo ${c.name}`, diff);
      }
      const closed = await page.evaluate((ms) => window.__sg.close(ms), STEP_MS);
      if (!closed.ok || closed.code !== 1000) fail('close', closed.error || `onclose ${closed.code} ${closed.reason}`);
    } finally {
      await ctx.close();
    }
  });
});
