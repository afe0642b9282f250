// sockgate chat page. Plain browser JavaScript, no framework: it talks to the
// gateway's /chat service through the page's SockJS client with JSON text
// messages (join, post, leave in; welcome, joined, left, message, error out).
// Every piece of user text reaches the page through textContent only.
(function () {
  'use strict';

  // SERVICE is the chat service's SockJS URL, on the page's own origin and
  // relative to the page, so the gateway can run under a -base-path.
  var SERVICE = new URL('chat', document.baseURI).href;
  // LEAVE_GRACE_MS is how long Leave waits for the server's "left" event
  // before it closes the connection anyway.
  var LEAVE_GRACE_MS = 1500;

  function $(id) { return document.getElementById(id); }

  var el = {
    joinForm: $('join-form'), nick: $('nick'), room: $('room'),
    transport: $('transport'), join: $('join'), leave: $('leave'),
    status: $('status'), transportUsed: $('transport-used'),
    members: $('members'), messages: $('messages'),
    sendForm: $('send-form'), text: $('text'), send: $('send')
  };

  // One connection at a time: sock is null while disconnected.
  var state = {
    sock: null, nick: '', room: '', joined: false, members: [],
    leaving: false, leaveTimer: 0, joinError: ''
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
    addLine('message' + (m.nick === state.nick ? ' mine' : ''), [
      timeEl(m.ts), span('nick', String(m.nick)), span('text', String(m.text))
    ]);
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
      state.room = String(m.room);
      state.nick = String(m.nick);
      state.members = Array.isArray(m.members) ? m.members.map(String) : [];
      el.messages.textContent = '';
      (Array.isArray(m.history) ? m.history : []).forEach(function (h) {
        if (h && h.type === 'message') showMessage(h);
      });
      renderMembers();
      showEvent('You joined #' + state.room + ' as ' + state.nick);
      setStatus('In #' + state.room + ' as ' + state.nick, 'joined');
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
    setStatus('Connected, joining #' + state.room + '…', 'open');
    sendJSON({ type: 'join', room: state.room, nick: state.nick });
  }

  function onClose(e) {
    clearTimeout(state.leaveTimer);
    var wasJoined = state.joined || state.leaving;
    state.leaving = false;
    state.sock = null;
    state.members = [];
    renderMembers();
    setJoined(false);
    setConnected(false);
    el.transportUsed.textContent = 'none';
    var why = e.code + (e.reason ? ' ' + e.reason : '');
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
      setStatus('The SockJS client did not load (/static/sockjs.min.js)', 'error');
      return;
    }
    state.nick = el.nick.value.trim();
    state.room = el.room.value.trim();
    if (!state.nick || !state.room) {
      setStatus('Enter a nickname and a room', 'error');
      return;
    }
    remember();
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

  // leave tells the server first and closes once it confirms with "left"
  // (or after LEAVE_GRACE_MS): closing at once could abort the leave message
  // still in flight on the polling transports.
  function leave() {
    if (!state.sock) return;
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
  recall();
  if (typeof SockJS === 'undefined') {
    setStatus('The SockJS client did not load (/static/sockjs.min.js)', 'error');
    el.join.disabled = true;
  }
}());
