// The chat page rides out a node drain: two sockgate nodes share a real
// NATS server with JetStream (test/browser/natsd); ann (websocket) and bob
// (xhr-streaming) use the page through a small TCP front that sends new
// connections to node A, cat uses the page on node B directly and posts
// while node A is drained with SIGTERM (the front turning to node B, as a
// load balancer reading /readyz would). ann and bob reconnect by
// themselves, rejoin with since, say "Reconnected" with the transport and
// node B; all three end with the same messages, same ids, same order, none
// missing, none twice.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { launchBrowser } from './lib/browser.mjs';
import { ChatUser, DESKTOP, PHONE } from './lib/chat-page.mjs';
import { sleep, startGateway } from './lib/gateway.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, '..', '..');
// MESSAGES is how many messages cat posts; DRAIN_AT is when node A drains.
const MESSAGES = 40;
const DRAIN_AT = 12;
// POST_GAP_MS keeps cat under the chat's default rate (10 a second).
const POST_GAP_MS = 150;
const UI_MS = 30_000;

// startNATS builds and runs natsd ($NATSD_BIN if set) and resolves with
// its URL and a stop function.
async function startNATS() {
  let bin = process.env.NATSD_BIN;
  if (!bin) {
    bin = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'natsd-')), 'natsd');
    execFileSync('go', ['build', '-o', bin, './test/browser/natsd'], { cwd: REPO, stdio: 'inherit' });
  }
  const proc = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve(line.trim());
    });
    proc.on('exit', (code) => reject(new Error(`natsd exited with ${code} before printing its URL`)));
  });
  return { url, stop: () => { proc.stdin.end(); proc.kill('SIGTERM'); } };
}

// startFront is a TCP forwarder on a free loopback port; each new
// connection goes to front.target (a port), set by the test.
async function startFront(target) {
  const conns = new Set();
  const front = { target };
  const srv = net.createServer((c) => {
    const up = net.connect(front.target, '127.0.0.1');
    conns.add(c);
    conns.add(up);
    c.pipe(up);
    up.pipe(c);
    const end = () => { c.destroy(); up.destroy(); conns.delete(c); conns.delete(up); };
    c.on('error', end);
    up.on('error', end);
    c.on('close', end);
    up.on('close', end);
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  front.port = srv.address().port;
  front.close = () => { for (const c of conns) c.destroy(); srv.close(); };
  return front;
}

// shown is every message a page shows, as "id nick: text".
async function shown(user) {
  return user.page.evaluate(() => [...document.querySelectorAll('#messages li.message')].map((li) =>
    `${li.getAttribute('data-id')} ${li.querySelector('.nick').textContent}: ${li.querySelector('.text').textContent}`));
}

let nats;
let nodeA;
let nodeB;
let front;
let browser;

before(async () => {
  nats = await startNATS();
  const args = (id) => ['-nats-url', nats.url, '-node-id', id, '-drain-timeout', '3s'];
  nodeA = await startGateway(args('node-a'));
  nodeB = await startGateway(args('node-b'));
  front = await startFront(nodeA.port);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  front?.close();
  await nodeA?.stop();
  await nodeB?.stop();
  nats?.stop();
});

describe('chat page across a node drain', () => {
  it('reconnects to the other node and loses nothing', { timeout: 180_000 }, async (t) => {
    const room = `resume-${randomBytes(3).toString('hex')}`;
    const logs = () => `--- node A ---\n${nodeA.logs()}\n--- node B ---\n${nodeB.logs()}`;
    const cat = await ChatUser.open(browser, `${nodeB.base}/`, 'cat', 'websocket', DESKTOP, logs);
    const ann = await ChatUser.open(browser, `http://127.0.0.1:${front.port}/`, 'ann', 'websocket', DESKTOP, logs);
    const bob = await ChatUser.open(browser, `http://127.0.0.1:${front.port}/`, 'bob', 'xhr-streaming', PHONE, logs);
    try {
      await cat.join(room);
      await ann.join(room);
      await bob.join(room);
      await cat.waitForMembers(['ann', 'bob', 'cat']);
      const drained = [];
      for (let i = 0; i < MESSAGES; i++) {
        if (i === DRAIN_AT) {
          front.target = nodeB.port;
          drained.push(nodeA.stop());
          t.diagnostic(`node A drained (SIGTERM) after ${i} messages`);
        }
        await cat.say(`msg-${i}`);
        await sleep(POST_GAP_MS);
      }
      const exit = await drained[0];
      assert.equal(exit.code, 0, `node A's exit after SIGTERM: ${JSON.stringify(exit)}`);
      for (const u of [ann, bob]) {
        await u.step('show "Reconnected" with the transport and node B', async () => {
          await u.page.waitForFunction(() => [...document.querySelectorAll('#messages li.event')]
            .some((li) => /Reconnected via \S+ on node node-b/.test(li.textContent)), null, { timeout: UI_MS });
          await u.page.locator('#status[data-state="joined"]').waitFor({ timeout: UI_MS });
        });
        await u.waitForMessage('cat', `msg-${MESSAGES - 1}`);
      }
      await ann.say('back on node B');
      for (const u of [ann, bob, cat]) await u.waitForMessage('ann', 'back on node B');

      const [a, b, c] = await Promise.all([shown(ann), shown(bob), shown(cat)]);
      t.diagnostic(`ann shows ${a.length} messages, bob ${b.length}, cat ${c.length}`);
      assert.deepEqual(a, c, '[resume] ann shows other messages than cat (same ids, order, none missing or twice)');
      assert.deepEqual(b, c, '[resume] bob shows other messages than cat');
      const texts = c.map((l) => l.slice(l.indexOf(' ') + 1));
      const want = [...Array.from({ length: MESSAGES }, (_, i) => `cat: msg-${i}`), 'ann: back on node B'];
      assert.deepEqual(texts, want, '[resume] every message once, in order');
      const ids = c.map((l) => Number(l.split(' ')[0]));
      assert.ok(ids.every((id, i) => Number.isInteger(id) && (i === 0 || id > ids[i - 1])),
        `[resume] message ids should grow: ${ids.join(',')}`);
      const via = await ann.page.locator('.via').textContent();
      assert.match(via, /via websocket on node node-b/, `[resume] ann's page header: ${via}`);
      t.diagnostic(`screenshots: ${await ann.screenshot('resume-ann')}, ${await bob.screenshot('resume-bob')}`);
    } finally {
      await ann.close();
      await bob.close();
      await cat.close();
    }
  });
});
