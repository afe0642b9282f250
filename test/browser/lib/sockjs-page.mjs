// Driving the page's own sockjs-client from the tests: a helper installed in
// the page, the payloads to echo, and readable comparisons.

// installHelper runs inside the page (page.evaluate(installHelper)). It puts
// window.__sg there: one SockJS connection at a time, an inbox of received
// messages, and promise-returning open/take/echo/close with timeouts. Every
// call resolves (never rejects) to a plain object, so the Node side decides
// what a failure is and says which step it was.
export function installHelper() {
  if (window.__sg) return true;
  if (typeof SockJS === 'undefined') return false;
  const sg = {
    sock: null,
    inbox: [],
    closed: null,
    t0: 0,
    firstMessageAt: 0,
    waiters: [],
    wake() {
      const w = sg.waiters;
      sg.waiters = [];
      w.forEach((f) => f());
    },
    // until resolves when cond() holds or after ms (false then).
    until(cond, ms) {
      return new Promise((resolve) => {
        if (cond()) { resolve(true); return; }
        const timer = setTimeout(() => { sg.waiters = sg.waiters.filter((f) => f !== check); resolve(false); }, ms);
        const check = () => {
          if (cond()) { clearTimeout(timer); resolve(true); } else sg.waiters.push(check);
        };
        sg.waiters.push(check);
      });
    },
    async open(url, transports, ms) {
      sg.inbox = [];
      sg.closed = null;
      sg.firstMessageAt = 0;
      sg.t0 = performance.now();
      let sock;
      try {
        sock = new SockJS(url, null, transports ? { transports } : {});
      } catch (err) {
        return { ok: false, error: `new SockJS threw ${err.name}: ${err.message}` };
      }
      sg.sock = sock;
      let openedAt = 0;
      sock.onopen = () => { openedAt = performance.now(); sg.wake(); };
      sock.onmessage = (e) => {
        if (!sg.firstMessageAt) sg.firstMessageAt = performance.now();
        sg.inbox.push(e.data);
        sg.wake();
      };
      sock.onclose = (e) => {
        sg.closed = { code: e.code, reason: e.reason, wasClean: e.wasClean, at: performance.now() };
        sg.wake();
      };
      await sg.until(() => openedAt || sg.closed, ms);
      if (openedAt) return { ok: true, transport: sock.transport, openMs: openedAt - sg.t0 };
      if (sg.closed) {
        return { ok: false, error: `closed before open: ${sg.closed.code} ${sg.closed.reason}` };
      }
      return { ok: false, error: `no open within ${ms} ms (readyState ${sock.readyState})` };
    },
    // take waits for n messages and removes them from the inbox.
    async take(n, ms) {
      const done = await sg.until(() => sg.inbox.length >= n || sg.closed, ms);
      const got = sg.inbox.splice(0, n);
      return { got, timedOut: !done, closed: sg.closed, extra: sg.inbox.length };
    },
    async echo(msgs, ms) {
      sg.inbox = [];
      for (const m of msgs) sg.sock.send(m);
      return sg.take(msgs.length, ms);
    },
    async close(ms) {
      if (sg.closed) return { ok: false, error: `already closed: ${sg.closed.code} ${sg.closed.reason}` };
      const t = performance.now();
      sg.sock.close();
      const done = await sg.until(() => sg.closed, ms);
      if (!done) return { ok: false, error: `no onclose within ${ms} ms (readyState ${sg.sock.readyState})` };
      return { ok: true, ...sg.closed, readyState: sg.sock.readyState, ms: sg.closed.at - t };
    },
    state() {
      return {
        readyState: sg.sock ? sg.sock.readyState : -1,
        transport: sg.sock ? sg.sock.transport : null,
        closed: sg.closed,
        inbox: sg.inbox.length,
      };
    },
  };
  window.__sg = sg;
  return true;
}

// churnInPage runs inside the page: n times in a row it opens a SockJS
// connection to the chat service at url over transport, joins a fresh room
// at once (as the chat page does) and closes when the welcome arrives. It
// resolves to { ok, failures: ["#i: what happened"] }. A new session's first
// exchange is where a gateway's receiver hand-over races show.
export function churnInPage([url, transport, n, ms]) {
  const once = (i) => new Promise((resolve) => {
    let sock;
    try {
      sock = new SockJS(url, null, { transports: [transport] });
    } catch (err) {
      resolve(`new SockJS threw ${err.message}`);
      return;
    }
    const timer = setTimeout(() => { sock.onclose = null; sock.close(); resolve(`no welcome in ${ms} ms`); }, ms);
    sock.onopen = () => sock.send(JSON.stringify({
      type: 'join', room: `churn-${i}-${Math.random().toString(36).slice(2, 8)}`, nick: 'churn',
    }));
    sock.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { m = {}; }
      if (m.type !== 'welcome') return;
      clearTimeout(timer);
      sock.onclose = null;
      sock.close();
      resolve(null);
    };
    sock.onclose = (e) => { clearTimeout(timer); resolve(`closed ${e.code} "${e.reason}"`); };
  });
  return (async () => {
    const out = { ok: 0, failures: [] };
    for (let i = 0; i < n; i++) {
      const err = await once(i);
      if (err) out.failures.push(`#${i}: ${err}`); else out.ok++;
    }
    return out;
  })();
}

// range returns the string of code points from..to inclusive.
function range(from, to) {
  let s = '';
  for (let c = from; c <= to; c++) s += String.fromCodePoint(c);
  return s;
}

// bigMessage is exactly 64 KiB of ASCII in which every 16-byte block names
// its own offset, so a truncated or reordered message shows where.
function bigMessage() {
  const blocks = [];
  for (let off = 0; off < 64 * 1024; off += 16) blocks.push(`<${off.toString(16).padStart(6, '0')}:abcdefg>`);
  const s = blocks.join('');
  if (s.length !== 64 * 1024) throw new Error(`bigMessage is ${s.length} bytes`);
  return s;
}

// PAYLOADS are the echo cases: a name for the failure message and the
// messages sent at once (the reply must match them in order).
export const PAYLOADS = [
  { name: 'plain text', msgs: ['hello, sockgate'] },
  { name: 'Korean', msgs: ['안녕하세요, 세계! 한국어 메시지입니다.'] },
  { name: 'emoji', msgs: ['😀 👍🏽 🇰🇷 👨‍👩‍👧‍👦 🏳️‍🌈 𝄞'] },
  { name: 'escapable U+200C-U+200F', msgs: [range(0x200c, 0x200f)] },
  { name: 'escapable U+2028-U+202F', msgs: [range(0x2028, 0x202f)] },
  { name: 'escapable U+2060-U+206F', msgs: [range(0x2060, 0x206f)] },
  { name: 'escapable U+FFF0-U+FFFF', msgs: [range(0xfff0, 0xffff)] },
  {
    name: 'quotes and backslashes',
    msgs: [`"double" 'single' \`back\` \\ \\\\ \\" \\u0041 \\n \\/ & &amp; %41 %% %%25 <b>`],
  },
  // htmlfile writes frames into <script> blocks: an unescaped "</script>"
  // ends the block early and runs the rest of the message as HTML.
  { name: '"</script>" (htmlfile script injection)', msgs: ['</script><script>window.__sgInjected=1</script><!--'] },
  { name: 'NUL', msgs: ['\u0000', 'a\u0000b\u0000'] },
  { name: 'control characters', msgs: [range(0x01, 0x1f) + '\u007f' + range(0x80, 0x9f)] },
  { name: 'JSON-looking text', msgs: ['["a","b"]', '{"type":"x"}', 'c[3000,"Go away!"]', 'o', 'h', '[]'] },
  { name: 'empty string', msgs: [''] },
  { name: '64 KiB message', msgs: [bigMessage()] },
];

// BURST is 200 messages sent back to back; they must come back in order.
export const BURST = Array.from({ length: 200 }, (_, i) => `burst ${String(i).padStart(3, '0')} ✓ 메시지`);

// codePoints renders a short string as U+XXXX code points.
function codePoints(s) {
  return [...s].map((c) => `U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}`).join(' ');
}

// describeString shows a string briefly: its length and either the text (if
// short and printable) or its code points around an index.
function describeString(s, at = 0) {
  if (typeof s !== 'string') return String(s);
  const from = Math.max(0, at - 4);
  const part = s.slice(from, at + 8);
  return `length ${s.length}, at ${from}: ${codePoints(part)}`;
}

// diffMessages compares what came back with what was sent and returns null
// when equal, or a short description of the first difference.
export function diffMessages(sent, got) {
  if (got.length !== sent.length) {
    const firstBad = sent.findIndex((m, i) => got[i] !== m);
    let s = `received ${got.length} of ${sent.length} messages`;
    if (firstBad >= 0 && firstBad < got.length) s += `; first mismatch at #${firstBad}`;
    return s;
  }
  for (let i = 0; i < sent.length; i++) {
    if (got[i] === sent[i]) continue;
    const where = sent.indexOf(got[i]);
    if (where >= 0) return `message #${i} is sent message #${where} (out of order)`;
    let at = 0;
    while (at < sent[i].length && sent[i][at] === got[i][at]) at++;
    return `message #${i} differs at char ${at}: sent ${describeString(sent[i], at)}; ` +
      `got ${describeString(got[i], at)}`;
  }
  return null;
}
