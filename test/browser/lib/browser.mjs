// Headless Chromium (Debian's, not a Playwright download) and what a page
// did, for failure messages.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

// ARTIFACTS is where screenshots go (gitignored).
export const ARTIFACTS = path.join(here, '..', 'artifacts');

// CHROMIUM is the browser binary: $CHROMIUM_BIN or Debian's /usr/bin/chromium.
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

// CHROMIUM_ARGS keep the browser quiet, offline and sandbox-free (we run as
// root in a container).
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// EVENTS_SHOWN is how many of a page's last network and console events a
// failure message lists.
const EVENTS_SHOWN = 40;

// launchBrowser starts Chromium with a fresh temporary profile; each
// browser.newContext() is a further clean profile of its own.
export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium ` +
      '(or set CHROMIUM_BIN)');
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

// shortURL trims long query strings and keeps the path readable.
function shortURL(u) {
  return u.length > 160 ? `${u.slice(0, 157)}...` : u;
}

// watchPage records a page's requests, responses, failed requests, console
// errors and warnings, page errors and websocket events. The returned
// object's text() renders the last EVENTS_SHOWN of them.
export function watchPage(page) {
  const events = [];
  const add = (s) => {
    events.push(`${new Date().toISOString().slice(11, 23)} ${s}`);
    if (events.length > 1000) events.splice(0, events.length - 1000);
  };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') add(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => add(`pageerror: ${e.message}`));
  page.on('response', (r) => {
    const req = r.request();
    add(`${req.method()} ${shortURL(r.url())} -> ${r.status()} ${r.headers()['content-type'] || ''}`);
  });
  page.on('requestfailed', (req) => {
    add(`${req.method()} ${shortURL(req.url())} FAILED ${req.failure()?.errorText || ''}`);
  });
  page.on('websocket', (ws) => {
    add(`websocket open ${shortURL(ws.url())}`);
    ws.on('socketerror', (e) => add(`websocket error ${e}`));
    ws.on('close', () => add(`websocket closed ${shortURL(ws.url())}`));
  });
  return {
    events,
    text(n = EVENTS_SHOWN) {
      const shown = events.slice(-n);
      const skipped = events.length - shown.length;
      return (skipped > 0 ? `  (${skipped} earlier events not shown)\n` : '') +
        shown.map((e) => `  ${e}`).join('\n');
    },
  };
}

// screenshot saves a PNG of page into ARTIFACTS and returns its path; it
// never throws (a failed screenshot must not hide the real failure).
export async function screenshot(page, name) {
  const file = path.join(ARTIFACTS, `${name.replace(/[^a-zA-Z0-9._-]+/g, '_')}.png`);
  try {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: file, fullPage: true, timeout: 5000 });
    return file;
  } catch (err) {
    return `(screenshot failed: ${err.message})`;
  }
}
