// The chat page used as people use it: two people in separate browser
// contexts, one on a laptop over websocket and one on a phone over
// jsonp-polling, join the same room through the form, talk and leave.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { launchBrowser } from './lib/browser.mjs';
import { ChatUser, DESKTOP, PHONE } from './lib/chat-page.mjs';
import { startGateway } from './lib/gateway.mjs';

let gw;
let browser;

before(async () => {
  gw = await startGateway();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await gw?.stop();
});

describe('chat page', () => {
  it('two people on websocket and jsonp-polling talk in one room', { timeout: 120_000 }, async (t) => {
    const room = `browser-${randomBytes(3).toString('hex')}`;
    const logs = () => gw.logs();
    const ann = await ChatUser.open(browser, `${gw.base}/`, 'ann', 'websocket', DESKTOP, logs);
    const bob = await ChatUser.open(browser, `${gw.base}/`, 'bob', 'jsonp-polling', PHONE, logs);
    try {
      assert.equal(await ann.join(room), 'websocket', '[chat page, ann] #transport-used after join');
      await ann.waitForMembers(['ann']);
      assert.equal(await bob.join(room), 'jsonp-polling', '[chat page, bob] #transport-used after join');
      t.diagnostic(`joined: ann in ${ann.joinMs} ms (websocket), bob in ${bob.joinMs} ms (jsonp-polling)`);

      await ann.waitForMembers(['ann', 'bob']);
      await bob.waitForMembers(['ann', 'bob']);
      await ann.waitForEvent('bob joined');

      // Markup and quotes in a message must show as typed, never as HTML.
      const hello = 'Hi Bob! 안녕 👋 <b>not bold</b> & "quotes" <img src=x onerror=alert(1)>';
      await ann.say(hello);
      const seen = await bob.waitForMessage('ann', hello);
      assert.equal(seen.elements, 3, '[chat page, bob] message li should hold only time, nick and text ' +
        '(more elements mean the text was parsed as HTML)');
      assert.ok(seen.time, '[chat page, bob] message shows no time');
      await ann.waitForMessage('ann', hello);

      const reply = 'Hello Ann, typing on a phone over jsonp-polling';
      await bob.say(reply, { enter: true });
      await ann.waitForMessage('bob', reply);
      await bob.waitForMessage('bob', reply);

      t.diagnostic(`screenshots: ${await ann.screenshot('chat-ann-websocket')}, ` +
        `${await bob.screenshot('chat-bob-jsonp-polling')}`);

      await bob.leave();
      await ann.waitForEvent('bob left');
      await ann.waitForMembers(['ann']);
      assert.deepEqual(await bob.members(), [], '[chat page, bob] members list after leaving');
    } finally {
      await ann.close();
      await bob.close();
    }
  });

  it('a taken nickname shows an error and the form can be used again', { timeout: 60_000 }, async () => {
    const room = `taken-${randomBytes(3).toString('hex')}`;
    const logs = () => gw.logs();
    const ann = await ChatUser.open(browser, `${gw.base}/`, 'ann', 'websocket', DESKTOP, logs);
    const ann2 = await ChatUser.open(browser, `${gw.base}/`, 'ann', 'xhr-polling', PHONE, logs);
    try {
      await ann.join(room);
      const p = ann2.page;
      await ann2.step('join with a taken nickname', async () => {
        await p.locator('#nick').fill('ann');
        await p.locator('#room').fill(room);
        await p.locator('#transport').selectOption('xhr-polling');
        await p.locator('#join').click();
        await p.locator('#status[data-state="error"]').waitFor({ timeout: 15_000 });
        await p.locator('#messages li.error').first().waitFor({ timeout: 15_000 });
        await p.locator('#join:enabled').waitFor({ timeout: 15_000 });
      });
      const status = await p.locator('#status').textContent();
      assert.match(status, /taken/i, `[chat page, second ann] #status after a refused join: ${status}`);
      await ann2.screenshot('chat-nick-taken');
      ann2.nick = 'ann2';
      await ann2.join(room);
      await ann.waitForMembers(['ann', 'ann2']);
    } finally {
      await ann.close();
      await ann2.close();
    }
  });

  it('a late joiner on the automatic transport sees the history', { timeout: 60_000 }, async (t) => {
    const room = `history-${randomBytes(3).toString('hex')}`;
    const logs = () => gw.logs();
    const ann = await ChatUser.open(browser, `${gw.base}/`, 'ann', 'xhr-streaming', DESKTOP, logs);
    let cat;
    try {
      await ann.join(room);
      const first = 'this was said before cat came';
      await ann.say(first);
      await ann.waitForMessage('ann', first);

      cat = await ChatUser.open(browser, `${gw.base}/`, 'cat', '', PHONE, logs);
      const used = await cat.join(room);
      t.diagnostic(`automatic transport picked: ${used}`);
      assert.equal(used, 'websocket', '[chat page, cat on automatic] #transport-used');
      await cat.waitForMessage('ann', first);
      await cat.waitForMembers(['ann', 'cat']);
    } finally {
      await ann.close();
      await cat?.close();
    }
  });

  it('a paste over the length limit is not cut: it stays, with an error naming the limit', { timeout: 60_000 }, async () => {
    const room = `long-${randomBytes(3).toString('hex')}`;
    const ann = await ChatUser.open(browser, `${gw.base}/`, 'ann', 'websocket', DESKTOP, () => gw.logs());
    try {
      await ann.join(room);
      const p = ann.page;
      const long = 'x'.repeat(5000);
      await p.locator('#text').fill(long);
      await p.locator('#send').click();
      const error = p.locator('#messages li.error').last();
      await error.waitFor({ timeout: 15_000 });
      const text = await error.textContent();
      assert.match(text, /2000/, `[chat page] the error should name the limit: ${text}`);
      assert.match(text, /5000/, `[chat page] the error should name the message's length: ${text}`);
      assert.equal((await p.locator('#text').inputValue()).length, 5000,
        '[chat page] the text box should still hold the whole paste');
      assert.equal(await p.locator('#messages li.message').count(), 0, '[chat page] nothing should have been posted');
    } finally {
      await ann.close();
    }
  });
});
