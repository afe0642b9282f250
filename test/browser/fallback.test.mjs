// Automatic transport fallback: an unforced sockjs-client must still connect
// when websocket is off at the gateway (-disable-websocket) and when a proxy
// in front of the gateway refuses every websocket upgrade. Prints the time
// from new SockJS() to the first echoed message in each case.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, screenshot, watchPage } from './lib/browser.mjs';
import { ChatUser, DESKTOP } from './lib/chat-page.mjs';
import { startGateway } from './lib/gateway.mjs';
import { startCrossOriginServer, startNoUpgradeProxy } from './lib/servers.mjs';
import { PAYLOADS, diffMessages, installHelper } from './lib/sockjs-page.mjs';

// STREAMING are the transports sockjs-client tries right after websocket in
// Chromium; the fallback must land on one of them, not on polling.
const STREAMING = new Set(['xhr-streaming', 'eventsource', 'iframe-eventsource', 'iframe-htmlfile']);
const OPEN_MS = 20_000;
const STEP_MS = 10_000;

let browser;
const timings = [];

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (timings.length) {
    console.log('time to first message (new SockJS() to first echo received):');
    for (const l of timings) console.log(`  ${l}`);
  }
});

// unforcedEcho loads pageURL, connects an unforced SockJS to serviceURL and
// checks the transport and a few echoes. It returns the timings.
async function unforcedEcho(t, label, pageURL, serviceURL, logs) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const watch = watchPage(page);
  const problem = async (step, msg) => {
    const shot = await screenshot(page, `fail-fallback-${label}-${step}`);
    return new Error(`[fallback: ${label}] step "${step}": ${msg}\n--- browser, last events ---\n${watch.text()}\n` +
      `--- gateway, last log lines ---\n${logs() || '  (none)'}\n--- screenshot: ${shot}`);
  };
  const sg = (fn, ...args) => page.evaluate(([f, a]) => window.__sg[f](...a), [fn, args]);
  try {
    const res = await page.goto(pageURL);
    if (!res || res.status() !== 200) throw await problem('load page', `GET ${pageURL} answered ${res?.status()}`);
    if (!await page.evaluate(installHelper)) throw await problem('load page', 'SockJS is not defined on the page');

    const open = await sg('open', serviceURL, null, OPEN_MS);
    if (!open.ok) throw await problem('open unforced', open.error);
    if (!STREAMING.has(open.transport)) {
      throw await problem('open unforced', `picked ${open.transport}, want a streaming transport ` +
        `(${[...STREAMING].join(', ')})`);
    }
    const first = await sg('echo', ['first message'], STEP_MS);
    if (first.timedOut || first.closed || first.got[0] !== 'first message') {
      throw await problem('first echo', `got ${JSON.stringify(first.got)}, closed ${JSON.stringify(first.closed)}`);
    }
    const firstMs = await page.evaluate(() => window.__sg.firstMessageAt - window.__sg.t0);
    for (const p of PAYLOADS) {
      const r = await sg('echo', p.msgs, STEP_MS);
      const diff = r.closed ? `closed ${r.closed.code} ${r.closed.reason}`
        : r.timedOut ? `${r.got.length} of ${p.msgs.length} replies in ${STEP_MS} ms` : diffMessages(p.msgs, r.got);
      if (diff) throw await problem(`echo ${p.name} over ${open.transport}`, diff);
    }
    const closed = await sg('close', STEP_MS);
    if (!closed.ok || closed.code !== 1000) throw await problem('close', closed.error || `code ${closed.code}`);

    const line = `${label}: ${open.transport}, open after ${Math.round(open.openMs)} ms, ` +
      `first message after ${Math.round(firstMs)} ms`;
    timings.push(line);
    t.diagnostic(line);
    return { transport: open.transport, openMs: open.openMs, firstMs, events: watch.events };
  } finally {
    await ctx.close();
  }
}

// chatAutomatic joins the chat page at pageURL on the automatic transport,
// posts and sees the message come back; it returns the transport shown.
async function chatAutomatic(t, pageURL, logs) {
  const user = await ChatUser.open(browser, pageURL, 'dora', '', DESKTOP, logs);
  try {
    const used = await user.join(`fallback-${randomBytes(3).toString('hex')}`);
    assert.ok(STREAMING.has(used), `[fallback chat page] #transport-used is ${used}, want a streaming transport`);
    await user.say('works without websocket');
    await user.waitForMessage('dora', 'works without websocket');
    t.diagnostic(`chat page on automatic: ${used}, joined in ${user.joinMs} ms`);
    return used;
  } finally {
    await user.close();
  }
}

describe('websocket disabled at the gateway (-disable-websocket)', () => {
  let gw;
  let xo;
  before(async () => {
    gw = await startGateway(['-disable-websocket']);
    xo = await startCrossOriginServer(gw.base);
  });
  after(async () => {
    await xo?.close();
    await gw?.stop();
  });

  it('/info says websocket is off', async () => {
    const info = await (await fetch(`${gw.base}/echo/info`)).json();
    assert.equal(info.websocket, false, `GET /echo/info: ${JSON.stringify(info)}`);
  });

  it('same-origin unforced client falls back to streaming', { timeout: 60_000 }, async (t) => {
    await unforcedEcho(t, 'websocket disabled, same-origin', `${gw.base}/`, '/echo', () => gw.logs());
  });

  it('cross-origin unforced client falls back to streaming', { timeout: 60_000 }, async (t) => {
    await unforcedEcho(t, 'websocket disabled, cross-origin', `${xo.base}/`, `${gw.base}/echo`, () => gw.logs());
  });

  it('chat page on automatic works', { timeout: 60_000 }, async (t) => {
    await chatAutomatic(t, `${gw.base}/`, () => gw.logs());
  });
});

describe('websocket refused by a proxy in front of the gateway', () => {
  let gw;
  let proxy;
  before(async () => {
    gw = await startGateway();
    proxy = await startNoUpgradeProxy(gw.base);
  });
  after(async () => {
    await proxy?.close();
    await gw?.stop();
  });

  it('unforced client falls back to streaming', { timeout: 60_000 }, async (t) => {
    const before = proxy.stats.upgrades;
    const r = await unforcedEcho(t, 'websocket refused by proxy', `${proxy.base}/`, '/echo', () => gw.logs());
    assert.ok(proxy.stats.upgrades > before, '[fallback: websocket refused by proxy] the client never tried ' +
      `websocket (proxy saw ${proxy.stats.upgrades - before} upgrades), so the fallback was not exercised`);
    t.diagnostic(`proxy refused ${proxy.stats.upgrades - before} websocket upgrade(s); client then used ${r.transport}`);
  });

  it('chat page on automatic works through the proxy', { timeout: 60_000 }, async (t) => {
    await chatAutomatic(t, `${proxy.base}/`, () => gw.logs());
  });
});
