// The transport matrix: every transport Chromium can use, forced one at a
// time in the real sockjs-client against a /echo service, from the service's
// own origin and from a cross-origin page. transports.test.mjs runs it
// against the gateway directly, nginx.test.mjs through nginx.
import { describe, it } from 'node:test';
import { screenshot, watchPage } from './browser.mjs';
import { BURST, PAYLOADS, diffMessages, installHelper } from './sockjs-page.mjs';

export const SAME = 'same-origin';
export const CROSS = 'cross-origin';

// TRANSPORTS are the sockjs-client transports Chromium can run (the xdr-*
// ones are IE-only).
export const TRANSPORTS = ['websocket', 'xhr-streaming', 'eventsource', 'iframe-eventsource', 'htmlfile',
  'iframe-htmlfile', 'xhr-polling', 'iframe-xhr-polling', 'jsonp-polling'];
// SAME_ORIGIN_ONLY transports are disabled by sockjs-client cross-origin.
export const SAME_ORIGIN_ONLY = new Set(['htmlfile']);

// Time limits, in milliseconds.
export const OPEN_MS = 15_000; // connect, including the transport's own set-up
export const STEP_MS = 10_000; // one echo round trip, however many messages
export const CLOSE_MS = 10_000; // close() until onclose
const TEST_MS = 300_000; // one transport in one set-up, all steps
// MAX_FAILED_STEPS ends a transport's run early once it is clearly broken.
const MAX_FAILED_STEPS = 3;

// transportMatrix declares one describe() per set-up (same-origin,
// cross-origin) with one it() per transport, each running every step
// (load page, open, the echo payloads, a burst, clean close) as subtests.
//
// via names the path in test names and failure messages ("through nginx";
// "" for the gateway directly). env() is called when a test runs (after the
// file's before() hooks) and returns:
//   browser   the launched Chromium
//   pages     { [SAME]: url, [CROSS]: url } of the page to load
//   services  { [SAME]: url, [CROSS]: url } of the /echo service
//   logs()    [[title, text], ...] of server logs for failure messages
export function transportMatrix({ via = '', env }) {
  const suffix = via ? ` ${via}` : '';
  for (const setup of [SAME, CROSS]) {
    describe(`${setup}${suffix}`, () => {
      for (const transport of TRANSPORTS) {
        if (setup === CROSS && SAME_ORIGIN_ONLY.has(transport)) continue;
        it(transport, { timeout: TEST_MS }, (t) => runTransport(t, env(), { via, setup, transport }));
      }
    });
  }
}

// runTransport runs every step for one transport in one set-up as subtests,
// so the report shows each step on its own line.
async function runTransport(t, env, { via, setup, transport }) {
  const where = `[${transport} / ${setup}${via ? ` ${via}` : ''}]`;
  const pageURL = env.pages[setup];
  const serviceURL = env.services[setup];
  const ctx = await env.browser.newContext();
  const page = await ctx.newPage();
  const watch = watchPage(page);
  let open = false; // a connection is open for the next step
  let failed = 0;

  const problem = async (step, msg) => {
    const shot = await screenshot(page, `fail-${via ? `${via}-` : ''}${setup}-${transport}-${step}`);
    const logs = env.logs().map(([title, text]) => `--- ${title} ---\n${text || '  (none)'}\n`).join('');
    return new Error(`${where} step "${step}": ${msg}\n` +
      `--- browser, last events ---\n${watch.text()}\n${logs}--- screenshot: ${shot}`);
  };
  const sg = (fn, ...args) => page.evaluate(([f, a]) => window.__sg[f](...a), [fn, args]);

  // connect opens a fresh connection; it returns an error text or null.
  const connect = async () => {
    const r = await sg('open', serviceURL, [transport], OPEN_MS);
    if (!r.ok) return r.error;
    if (r.transport !== transport) return `sock.transport is ${r.transport}, want ${transport}`;
    open = true;
    return null;
  };
  // reconnect replaces a connection a failed step may have left dirty.
  const reconnect = async () => {
    open = false;
    await sg('close', 2000).catch(() => {});
    return connect().catch((err) => err.message);
  };

  // step runs fn as a subtest; it is skipped when no connection is open or
  // too many steps failed already.
  const step = (name, needsOpen, fn) => t.test(name, async (st) => {
    if (failed >= MAX_FAILED_STEPS) { st.skip(`${failed} steps failed already`); return; }
    if (needsOpen && !open) { st.skip('no open connection'); return; }
    let msg;
    try {
      msg = await fn(st);
    } catch (err) {
      msg = `threw ${err.message}`;
    }
    if (!msg) return;
    failed++;
    const err = await problem(name, msg);
    if (needsOpen) {
      const again = await reconnect();
      if (again) open = false;
    }
    throw err;
  });

  const echoStep = (name, msgs) => step(`echo ${name}`, true, async (st) => {
    const t0 = performance.now();
    const r = await sg('echo', msgs, STEP_MS);
    if (r.closed) return `connection closed ${r.closed.code} ${r.closed.reason} after ${r.got.length} of ${msgs.length} replies`;
    if (r.timedOut) return `${r.got.length} of ${msgs.length} replies within ${STEP_MS} ms`;
    const diff = diffMessages(msgs, r.got);
    if (diff) return diff;
    if (r.extra) return `${r.extra} unexpected extra messages arrived`;
    st.diagnostic(`${msgs.length} message(s) echoed in ${Math.round(performance.now() - t0)} ms`);
    return null;
  });

  try {
    await step('load page', false, async () => {
      const res = await page.goto(pageURL);
      if (!res || res.status() !== 200) return `GET ${pageURL} answered ${res ? res.status() : 'nothing'}`;
      const ok = await page.evaluate(installHelper);
      if (!ok) return 'SockJS is not defined on the page: the sockjs-client script did not load';
      // A page on the gateway's origin fetches the client from under the
      // service, as the README tells pages to load it: the iframe
      // transports' iframe page loads that URL, and then finds it in the
      // cache rather than fetching 57 KB within sockjs-client's iframe
      // timeout (about three round trips). Cross-origin, Chromium's cache
      // is partitioned by frame site, so nothing can be shared.
      if (serviceURL.startsWith('/')) {
        const client = `${serviceURL.split('?')[0]}/sockjs.min.js`;
        const status = await page.evaluate((u) => fetch(u).then((r) => r.text().then(() => r.status)), client);
        if (status !== 200) return `GET ${client} answered ${status}`;
      }
      return null;
    });
    if (failed) return;
    await step('open', false, async (st) => {
      const err = await connect();
      if (!err) st.diagnostic(`open via ${transport}`);
      return err;
    });
    for (const p of PAYLOADS) await echoStep(p.name, p.msgs);
    await echoStep('burst of 200 in order', BURST);
    await step('clean close', true, async () => {
      const r = await sg('close', CLOSE_MS);
      open = false;
      if (!r.ok) return r.error;
      if (r.code !== 1000) return `onclose code ${r.code} "${r.reason}", want 1000`;
      if (!r.wasClean) return 'onclose wasClean is false';
      if (r.readyState !== 3) return `readyState ${r.readyState} after onclose, want 3 (CLOSED)`;
      return null;
    });
  } finally {
    await ctx.close();
  }
}
