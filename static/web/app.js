// sockgate chat page. Plain browser JavaScript, no framework: it talks to the
// gateway's /chat service through the page's SockJS client with JSON text
// messages (join, post, leave in; welcome, joined, left, message, error out).
// Every piece of user text reaches the page through textContent only.
(function () {
  'use strict';

  // SERVICE is the chat service's SockJS URL, on the page's own origin and
  // relative to the page, so the gateway can run under a -base-path.
  // A connection token in the page's own query (?token=..., see the
  // README's Identity section) rides on the service URL: sockjs-client keeps
  // that query on every request of every transport.
  var SERVICE = (function () {
    var u = new URL('chat', document.baseURI);
    var token = new URLSearchParams(window.location.search).get('token');
    if (token) u.searchParams.set('token', token);
    return u.href;
  })();
  // LEAVE_GRACE_MS is how long Leave waits for the server's "left" event
  // before it closes the connection anyway.
  var LEAVE_GRACE_MS = 1500;
  // MAX_TEXT is the chat service's longest message, in characters (code
  // points, as the server counts them): a longer one is not sent and stays
  // in the box, with a message that says why.
  var MAX_TEXT = 2000;
  // RETRY_MIN_MS and RETRY_MAX_MS bound the reconnection delay: it doubles
  // with each failed attempt, and a random half of it is jitter, so that the
  // clients of a drained node do not all come back at the same instant.
  var RETRY_MIN_MS = 500;
  var RETRY_MAX_MS = 15000;
  // NICK_RETRIES is how many times a rejoin refused with nick_taken is
  // tried again (the old session may still be leaving) before giving up.
  var NICK_RETRIES = 8;

  function $(id) { return document.getElementById(id); }

  var el = {
    joinForm: $('join-form'), nick: $('nick'), room: $('room'),
    transport: $('transport'), join: $('join'), leave: $('leave'),
    status: $('status'), transportUsed: $('transport-used'),
    nodeInfo: $('node-info'), nodeUsed: $('node-used'),
    members: $('members'), messages: $('messages'),
    sendForm: $('send-form'), text: $('text'), send: $('send')
  };

  // One connection at a time: sock is null while disconnected.
  // lastId is the id of the last message shown: a rejoin asks for what
  // came after it. reconnecting is true from an unexpected close until the
  // next welcome; retry, when set, closes the socket for another attempt.
  var state = {
    sock: null, nick: '', room: '', joined: false, members: [],
    leaving: false, leaveTimer: 0, joinError: '',
    lastId: '', reconnecting: false, attempt: 0, retryTimer: 0, retry: false
  };

  // ----- view helpers -----

  function setStatus(text, kind) {
    el.status.textContent = text;
    el.status.setAttribute('data-state', kind);
  }

  function setConnected(connected) {
    el.nick.disabled = connected;
    el.room.disabled = connected;
    el.transport.disabled = connected;
    el.join.disabled = connected;
    el.leave.disabled = !connected;
  }

  function setJoined(joined) {
    state.joined = joined;
    el.text.disabled = !joined;
    el.send.disabled = !joined;
    if (joined) el.text.focus();
  }

  function formatTime(ts) {
    var d = new Date(typeof ts === 'number' ? ts : Date.now());
    var sameDay = d.toDateString() === new Date().toDateString();
    return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
  }

  function timeEl(ts) {
    var t = document.createElement('time');
    var d = new Date(typeof ts === 'number' ? ts : Date.now());
    t.dateTime = d.toISOString();
    t.title = d.toString();
    t.textContent = formatTime(ts);
    return t;
  }

  function span(cls, text) {
    var s = document.createElement('span');
    s.className = cls;
    s.textContent = text;
    return s;
  }

  // addLine appends one li to #messages, keeping the view scrolled to the
  // bottom when it already was.
  function addLine(cls, parts) {
    var box = el.messages;
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    var li = document.createElement('li');
    li.className = cls;
    parts.forEach(function (p) { li.appendChild(p); });
    box.appendChild(li);
    if (atBottom) box.scrollTop = box.scrollHeight;
    return li;
  }

  function showMessage(m) {
    var li = addLine('message' + (m.nick === state.nick ? ' mine' : ''), [
      timeEl(m.ts), span('nick', String(m.nick)), span('text', String(m.text))
    ]);
    if (typeof m.id === 'string' && /^[0-9]+$/.test(m.id)) {
      li.setAttribute('data-id', m.id);
      if (!state.lastId || Number(m.id) > Number(state.lastId)) state.lastId = m.id;
    }
  }

  function showEvent(text, ts) {
    addLine('event', [timeEl(ts), span('text', text)]);
  }

  function showError(text) {
    var li = addLine('error', [timeEl(), span('text', text)]);
    li.setAttribute('role', 'alert');
  }

  function renderMembers() {
    el.members.textContent = '';
    state.members.forEach(function (nick) {
      var li = document.createElement('li');
      li.textContent = nick;
      if (nick === state.nick) li.className = 'me';
      el.members.appendChild(li);
    });
  }

  function addMember(nick) {
    if (state.members.indexOf(nick) < 0) state.members.push(nick);
    renderMembers();
  }

  function removeMember(nick) {
    state.members = state.members.filter(function (n) { return n !== nick; });
    renderMembers();
  }

  // ----- protocol -----

  function sendJSON(obj) {
    if (state.sock && state.sock.readyState === SockJS.OPEN) {
      state.sock.send(JSON.stringify(obj));
    }
  }

  var handlers = {
    welcome: function (m) {
      var back = state.reconnecting;
      state.room = String(m.room);
      state.nick = String(m.nick);
      state.members = Array.isArray(m.members) ? m.members.map(String) : [];
      // A recovered resume carries only what was missed: keep what is shown.
      if (!(back && m.recovered === true)) {
        el.messages.textContent = '';
        state.lastId = '';
      }
      (Array.isArray(m.history) ? m.history : []).forEach(function (h) {
        if (h && h.type === 'message') showMessage(h);
      });
      renderMembers();
      var via = state.sock ? state.sock.transport : '?';
      if (back) {
        showEvent('Reconnected via ' + via + (m.node ? ' on node ' + m.node : '') +
          (m.recovered === true ? '' : ' (earlier messages may be missing)'));
      } else {
        showEvent('You joined #' + state.room + ' as ' + state.nick);
      }
      state.reconnecting = false;
      state.attempt = 0;
      el.transportUsed.textContent = via;
      el.nodeUsed.textContent = m.node ? String(m.node) : '';
      el.nodeInfo.hidden = !m.node;
      setStatus((back ? 'Reconnected: in #' : 'In #') + state.room + ' as ' + state.nick, 'joined');
      setJoined(true);
    },
    joined: function (m) {
      addMember(String(m.nick));
      if (m.nick !== state.nick) showEvent(m.nick + ' joined', m.ts);
    },
    left: function (m) {
      removeMember(String(m.nick));
      if (m.nick === state.nick) {
        closeNow();
        return;
      }
      showEvent(m.nick + ' left', m.ts);
    },
    message: showMessage,
    error: function (m) {
      var text = 'Error: ' + (m.message || m.error || 'unknown error');
      if (m.error && m.message) text += ' (' + m.error + ')';
      showError(text);
      var transient = m.error === 'unavailable' || m.error === 'rate_limited' ||
        (m.error === 'nick_taken' && state.attempt < NICK_RETRIES);
      if (!state.joined && !state.leaving && state.reconnecting && transient) {
        // The old session may still hold the nickname for a moment, or
        // the node may be busy: try again later.
        state.retry = true;
        closeNow();
        return;
      }
      if (!state.joined && !state.leaving) {
        // The join was refused (nickname taken, bad room...): hang up so
        // the form can be corrected, and keep the reason on show.
        state.joinError = text;
        closeNow();
      }
    }
  };

  function onMessage(e) {
    var m;
    try {
      m = JSON.parse(e.data);
    } catch (err) {
      showError('Unreadable message from the server: ' + String(e.data).slice(0, 200));
      return;
    }
    var h = m && handlers[m.type];
    if (h) h(m);
  }

  function onOpen() {
    el.transportUsed.textContent = state.sock.transport;
    setStatus((state.reconnecting ? 'Reconnected, rejoining #' : 'Connected, joining #') + state.room + '…', 'open');
    var join = { type: 'join', room: state.room, nick: state.nick };
    if (state.reconnecting && state.lastId) join.since = state.lastId;
    sendJSON(join);
  }

  // mayReconnect: the codes after which a client should come back (the
  // README's close codes): 1002 and 1006 (connection lost), 3000-3499
  // (server says reconnect, e.g. 3001 on drain), and 2000 (no transport
  // got through: the network or the node is down) once reconnecting.
  // 3500-3999 say not to.
  function mayReconnect(code) {
    return code === 1002 || code === 1006 || (code >= 3000 && code <= 3499) ||
      (code === 2000 && state.reconnecting);
  }

  function scheduleReconnect(why) {
    var base = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * Math.pow(2, state.attempt));
    var delay = Math.round(base / 2 + Math.random() * base / 2);
    state.attempt++;
    state.reconnecting = true;
    setConnected(true); // the form stays locked while we try
    el.leave.disabled = false;
    setStatus('Connection lost (' + why + '); reconnecting in ' + (delay / 1000).toFixed(1) + ' s…', 'reconnecting');
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(function () {
      state.retryTimer = 0;
      open();
    }, delay);
  }

  function onClose(e) {
    clearTimeout(state.leaveTimer);
    var wasJoined = state.joined || state.leaving;
    var userLeft = state.leaving;
    state.leaving = false;
    state.sock = null;
    state.members = [];
    renderMembers();
    setJoined(false);
    setConnected(false);
    el.transportUsed.textContent = 'none';
    el.nodeInfo.hidden = true;
    var why = e.code + (e.reason ? ' ' + e.reason : '');
    if (state.retry || (!userLeft && !state.joinError && (wasJoined || state.reconnecting) && mayReconnect(e.code))) {
      state.retry = false;
      if (wasJoined) showError('Connection closed: ' + why + '; reconnecting');
      scheduleReconnect(why);
      return;
    }
    state.reconnecting = false;
    state.attempt = 0;
    if (state.joinError) {
      setStatus(state.joinError, 'error');
      state.joinError = '';
    } else if (e.code === 1000) {
      setStatus('Not connected', 'closed');
      if (wasJoined) showEvent('You left #' + state.room);
    } else {
      setStatus('Disconnected (' + why + ')', 'error');
      showError('Connection closed: ' + why);
    }
  }

  function connect() {
    if (typeof SockJS === 'undefined') {
      setStatus('The SockJS client did not load (chat/sockjs.min.js)', 'error');
      return;
    }
    state.nick = el.nick.value.trim();
    state.room = el.room.value.trim();
    if (!state.nick || !state.room) {
      setStatus('Enter a nickname and a room', 'error');
      return;
    }
    remember();
    state.lastId = '';
    state.reconnecting = false;
    state.attempt = 0;
    open();
  }

  // open makes a new connection for state.nick and state.room.
  function open() {
    var opts = {};
    if (el.transport.value) opts.transports = [el.transport.value];
    try {
      state.sock = new SockJS(SERVICE, null, opts);
    } catch (err) {
      setStatus('Cannot connect: ' + err.message, 'error');
      return;
    }
    setConnected(true);
    setStatus('Connecting…', 'connecting');
    state.sock.onopen = onOpen;
    state.sock.onmessage = onMessage;
    state.sock.onclose = onClose;
  }

  function closeNow() {
    clearTimeout(state.leaveTimer);
    if (state.sock) state.sock.close();
  }

  // stopReconnecting gives up a pending reconnection (the user pressed Leave).
  function stopReconnecting() {
    clearTimeout(state.retryTimer);
    state.retryTimer = 0;
    state.reconnecting = false;
    state.attempt = 0;
    setConnected(false);
    setStatus('Not connected', 'closed');
  }

  // leave tells the server first and closes once it confirms with "left"
  // (or after LEAVE_GRACE_MS): closing at once could abort the leave message
  // still in flight on the polling transports.
  function leave() {
    if (!state.sock) {
      if (state.reconnecting) stopReconnecting();
      return;
    }
    if (!state.joined && state.reconnecting) {
      state.leaving = true;
      stopReconnecting();
      closeNow();
      return;
    }
    el.leave.disabled = true;
    if (!state.joined) {
      closeNow();
      return;
    }
    setJoined(false);
    state.leaving = true;
    setStatus('Leaving…', 'leaving');
    sendJSON({ type: 'leave' });
    state.leaveTimer = setTimeout(closeNow, LEAVE_GRACE_MS);
  }

  function post() {
    var text = el.text.value;
    if (!state.joined || !text.trim()) return;
    var length = Array.from(text).length;
    if (length > MAX_TEXT) {
      showError('Not sent: a message may have at most ' + MAX_TEXT +
        ' characters, and this one has ' + length + '.');
      return;
    }
    sendJSON({ type: 'post', text: text });
    el.text.value = '';
    el.text.focus();
  }

  // ----- form memory -----

  function remember() {
    try {
      localStorage.setItem('sockgate.nick', state.nick);
      localStorage.setItem('sockgate.room', state.room);
      localStorage.setItem('sockgate.transport', el.transport.value);
    } catch (err) { /* storage may be disabled */ }
  }

  function recall() {
    try {
      el.nick.value = localStorage.getItem('sockgate.nick') || '';
      el.room.value = localStorage.getItem('sockgate.room') || el.room.value;
      el.transport.value = localStorage.getItem('sockgate.transport') || '';
    } catch (err) { /* storage may be disabled */ }
  }

  el.joinForm.addEventListener('submit', function (e) { e.preventDefault(); connect(); });
  el.sendForm.addEventListener('submit', function (e) { e.preventDefault(); post(); });
  el.leave.addEventListener('click', leave);
  // Back on the network: do not wait for the backoff.
  window.addEventListener('online', function () {
    if (state.reconnecting && state.retryTimer) {
      clearTimeout(state.retryTimer);
      state.retryTimer = 0;
      open();
    }
  });
  recall();
  if (typeof SockJS === 'undefined') {
    setStatus('The SockJS client did not load (chat/sockjs.min.js)', 'error');
    el.join.disabled = true;
  }
}());
