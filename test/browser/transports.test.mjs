// Every transport Chromium can use, forced one at a time, in the real
// sockjs-client against the real sockgate binary's /echo service: from the
// gateway's own origin (the chat page, whose SockJS is the embedded client)
// and from a cross-origin page (localhost vs 127.0.0.1, another port). The
// matrix itself is lib/matrix.mjs; nginx.test.mjs runs it through nginx.
import { after, before, describe, it } from 'node:test';
import { launchBrowser, watchPage } from './lib/browser.mjs';
import { startGateway } from './lib/gateway.mjs';
import { CROSS, SAME, STEP_MS, TRANSPORTS, transportMatrix } from './lib/matrix.mjs';
import { startCrossOriginServer } from './lib/servers.mjs';
import { churnInPage } from './lib/sockjs-page.mjs';

// CHURN_SESSIONS is how many sessions the churn test opens per transport.
const CHURN_SESSIONS = 60;

let gw;
let xo;
let browser;

before(async () => {
  gw = await startGateway();
  xo = await startCrossOriginServer(gw.base);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await xo?.close();
  await gw?.stop();
});

transportMatrix({
  env: () => ({
    browser,
    pages: { [SAME]: `${gw.base}/`, [CROSS]: `${xo.base}/` },
    services: { [SAME]: '/echo', [CROSS]: `${gw.base}/echo` },
    logs: () => [['gateway, last log lines', gw.logs()]],
  }),
});

// Many short sessions in a row, each joining the chat at once as the chat
// page does: every one must get its welcome. A gateway that hands a poll's
// receiver over late answers the client's next poll with c[2010] here.
describe('session start churn (same-origin, /chat)', () => {
  for (const transport of TRANSPORTS) {
    it(transport, { timeout: 120_000 }, async (t) => {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      const watch = watchPage(page);
      try {
        await page.goto(`${gw.base}/`);
        const r = await page.evaluate(churnInPage, ['/chat', transport, CHURN_SESSIONS, STEP_MS]);
        t.diagnostic(`${r.ok} of ${CHURN_SESSIONS} sessions joined`);
        if (r.failures.length) {
          const shown = watch.events.filter((e) => /c\[|FAILED|console|pageerror/.test(e)).slice(-20);
          throw new Error(`[${transport} / same-origin] step "join ${CHURN_SESSIONS} fresh sessions": ` +
            `${r.failures.length} failed: ${r.failures.slice(0, 10).join('; ')}\n` +
            `--- browser, related events ---\n${shown.map((e) => `  ${e}`).join('\n') || '  (none)'}\n` +
            `--- gateway, last log lines ---\n${gw.logs() || '  (none)'}`);
        }
      } finally {
        await ctx.close();
      }
    });
  }
});
