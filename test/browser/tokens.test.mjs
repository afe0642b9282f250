// Connection tokens on the chat page: a gateway that requires tokens
// (-auth-hmac-secret-file). A page loaded with ?token=... passes the token
// on to every transport, and the chat takes the token's name as the
// nickname whatever the form says. When the token expires mid-session the
// server closes with 3502, and the page says so and does not reconnect
// (3500-3999 tell a client not to come back); without a token a join is
// refused with 3501.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launchBrowser } from './lib/browser.mjs';
import { ChatUser, DESKTOP } from './lib/chat-page.mjs';
import { sleep, startGateway } from './lib/gateway.mjs';

const SECRET = randomBytes(32).toString('hex');

// mint makes an HS256 JWT with claims, as a backend would.
function mint(claims) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

let gw;
let browser;
let dir;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sockgate-tokens-'));
  const secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, SECRET);
  gw = await startGateway(['-auth-hmac-secret-file', secretFile, '-log-level', 'info']);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await gw?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const now = () => Math.floor(Date.now() / 1000);

describe('chat page with connection tokens', () => {
  it('the token rides on the page URL; its name is the nickname; expiry ends the session for good', { timeout: 90_000 }, async () => {
    const room = `tokens-${randomBytes(3).toString('hex')}`;
    for (const transport of ['websocket', 'xhr-polling']) {
      const token = mint({ sub: 'user-7', name: 'ann', exp: now() + 8 });
      const user = await ChatUser.open(browser, `${gw.base}/?token=${token}`, 'mallory', transport, DESKTOP, () => gw.logs());
      try {
        await user.join(room);
        await user.step('the token\'s name is the nickname', async () => {
          await user.waitForMembers(['ann']);
        });
        // exp passes: c[3502,"Token expired"]; the page must stay down.
        await user.step('expiry closes with 3502', async () => {
          await user.page.locator('#status[data-state="error"]').waitFor({ timeout: 20_000 });
        });
        const status = await user.page.locator('#status').textContent();
        assert.match(status, /3502/, `[chat page, ${transport}] #status after expiry: ${status}`);
        await sleep(3000);
        const later = await user.page.locator('#status').textContent();
        assert.equal(later, status, `[chat page, ${transport}] the page must not reconnect after 3502 (status now: ${later})`);
      } finally {
        await user.close();
      }
    }
  });

  it('without a token a join is refused with 3501 and not retried', { timeout: 60_000 }, async () => {
    const user = await ChatUser.open(browser, `${gw.base}/`, 'bob', 'xhr-streaming', DESKTOP, () => gw.logs());
    try {
      const p = user.page;
      await p.locator('#nick').fill('bob');
      await p.locator('#room').fill('lobby');
      await p.locator('#transport').selectOption('xhr-streaming');
      await p.locator('#join').click();
      await p.locator('#status[data-state="error"]').waitFor({ timeout: 15_000 });
      const status = await p.locator('#status').textContent();
      assert.match(status, /3501/, `[chat page] #status without a token: ${status}`);
      await sleep(3000);
      assert.equal(await p.locator('#status').textContent(), status, '[chat page] the page must not retry after 3501');
      const refusals = gw.logs(500).split('\n').filter((l) => l.includes('session refused at open') && l.includes('"unauthorized"')).length;
      assert.equal(refusals, 1, `[gateway] one session refused as unauthorized expected, got ${refusals}:\n${gw.logs()}`);
    } finally {
      await user.close();
    }
  });
});
