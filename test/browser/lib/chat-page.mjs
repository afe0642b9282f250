// Driving the chat page (static/web) the way a person does: typing into the
// form, picking a transport, pressing buttons, reading what is shown.
import { screenshot, watchPage } from './browser.mjs';

// UI_MS bounds each wait for the page to show something.
const UI_MS = 15_000;

// ChatUser is one person on the chat page in a browser context of their own.
export class ChatUser {
  // open makes a context (with the given Playwright context options, e.g. a
  // phone viewport) and loads the chat page at pageURL.
  static async open(browser, pageURL, nick, transport, contextOptions = {}, logs = () => '') {
    const ctx = await browser.newContext(contextOptions);
    const page = await ctx.newPage();
    const user = new ChatUser(ctx, page, nick, transport, logs);
    await user.step('load chat page', async () => {
      const res = await page.goto(pageURL);
      if (!res || res.status() !== 200) throw new Error(`GET ${pageURL} answered ${res ? res.status() : 'nothing'}`);
    });
    return user;
  }

  constructor(ctx, page, nick, transport, logs) {
    this.ctx = ctx;
    this.page = page;
    this.nick = nick;
    this.transport = transport; // '' for automatic
    this.watch = watchPage(page);
    this.logs = logs;
  }

  get label() {
    return `${this.nick} on ${this.transport || 'automatic'}`;
  }

  // step runs fn and turns any failure into an error naming the person,
  // transport and step, with the browser's last events and a screenshot.
  async step(name, fn) {
    try {
      return await fn();
    } catch (err) {
      const shot = await screenshot(this.page, `fail-chat-${this.nick}-${name}`);
      const status = await this.page.locator('#status').textContent({ timeout: 1000 }).catch(() => '?');
      throw new Error(`[chat page, ${this.label}] step "${name}": ${err.message.split('\n')[0]}\n` +
        `  #status shows: ${status}\n--- browser, last events ---\n${this.watch.text()}\n` +
        `--- gateway, last log lines ---\n${this.logs() || '  (none)'}\n--- screenshot: ${shot}`);
    }
  }

  // join fills in the form, picks the transport and presses Join; it waits
  // until the page says it is in the room.
  async join(room) {
    const p = this.page;
    await this.step('join', async () => {
      await p.locator('#nick').fill(this.nick);
      await p.locator('#room').fill(room);
      await p.locator('#transport').selectOption(this.transport);
      const t0 = Date.now();
      await p.locator('#join').click();
      await p.locator('#status[data-state="joined"]').waitFor({ timeout: UI_MS });
      this.joinMs = Date.now() - t0;
    });
    this.transportUsed = (await p.locator('#transport-used').textContent()).trim();
    return this.transportUsed;
  }

  // say types text and sends it, with the button or, if enter is true, the
  // Enter key.
  async say(text, { enter = false } = {}) {
    await this.step(`send "${text.slice(0, 30)}"`, async () => {
      await this.page.locator('#text').fill(text);
      if (enter) await this.page.locator('#text').press('Enter');
      else await this.page.locator('#send').click();
    });
  }

  // waitForMessage waits for an li.message from nick whose text is exactly
  // text and returns what it shows.
  async waitForMessage(nick, text) {
    return this.step(`see ${nick}'s message "${text.slice(0, 30)}"`, async () => {
      const handle = await this.page.waitForFunction(([n, tx]) => {
        for (const li of document.querySelectorAll('#messages li.message')) {
          const nickEl = li.querySelector('.nick');
          const textEl = li.querySelector('.text');
          if (nickEl && textEl && nickEl.textContent === n && textEl.textContent === tx) {
            const time = li.querySelector('time');
            return {
              time: time ? time.textContent : '',
              elements: li.querySelectorAll('*').length,
            };
          }
        }
        return null;
      }, [nick, text], { timeout: UI_MS });
      return handle.jsonValue();
    });
  }

  // waitForEvent waits for an li.event containing text.
  async waitForEvent(text) {
    await this.step(`see event "${text}"`, async () => {
      await this.page.waitForFunction((tx) => [...document.querySelectorAll('#messages li.event')]
        .some((li) => li.textContent.includes(tx)), text, { timeout: UI_MS });
    });
  }

  // waitForMembers waits until #members lists exactly nicks (in any order).
  async waitForMembers(nicks) {
    const want = [...nicks].sort();
    await this.step(`members are ${want.join(', ')}`, async () => {
      try {
        await this.page.waitForFunction((w) => {
          const got = [...document.querySelectorAll('#members li')].map((li) => li.textContent).sort();
          return JSON.stringify(got) === JSON.stringify(w);
        }, want, { timeout: UI_MS });
      } catch (err) {
        const got = await this.members();
        throw new Error(`#members shows [${got.join(', ')}], want [${want.join(', ')}]`);
      }
    });
  }

  async members() {
    return this.page.locator('#members li').allTextContents();
  }

  // leave presses Leave and waits until the page is disconnected.
  async leave() {
    await this.step('leave', async () => {
      await this.page.locator('#leave').click();
      await this.page.locator('#status[data-state="closed"]').waitFor({ timeout: UI_MS });
    });
  }

  async screenshot(name) {
    return screenshot(this.page, name);
  }

  async close() {
    await this.ctx.close();
  }
}

// PHONE is a phone-sized browser context (portrait, touch).
export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
// DESKTOP is a laptop-sized browser context.
export const DESKTOP = { viewport: { width: 1100, height: 720 } };
