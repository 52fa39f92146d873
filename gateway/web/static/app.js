// The twin chat page. It speaks the WebSocket protocol of /v1/chat (ask,
// resume, feedback up; token, done, error down) and calls /v1/authors and
// /v1/feedback. Feedback is a rating of an answer, or a judgment of one of
// its cited sources (helpful or not), which teaches the reranker. Server text only ever reaches the page as text nodes or
// textContent, never as markup, so an answer cannot inject script or HTML: an answer's markdown
// becomes elements built by TwinMarkdown (markdown.js), its citations [n] links to its sources.
'use strict';

(() => {
  const TOKEN_KEY = 'twin.access_token';
  const FIRST_RETRY_MS = 250;
  const MAX_RETRY_MS = 10000;

  // Plain words for the codes of the gateway and the rag worker; the
  // server's own message is shown beneath.
  const ERROR_TEXT = {
    unauthorized: 'This twin needs a valid access token.',
    rate_limited: 'Too many questions right now. Wait a moment and ask again.',
    too_many_in_flight: 'Too many answers are being written at once. Wait for one to finish.',
    too_long: 'The question is too long. Shorten it and ask again.',
    timeout: 'The twin took too long to answer. Please ask again.',
    unavailable: 'The twin cannot answer right now. Please try again in a moment.',
    generation_failed: 'The twin could not write an answer. Please try again in a moment.',
    not_found: 'The twin no longer has this answer. Please ask again.',
    refused: 'The twin will not answer this question.',
    bad_request: 'The twin could not read this question.',
    invalid: 'The twin could not read this question.',
    unknown_author: 'The twin knows no such author.',
  };

  const els = {
    status: document.getElementById('status'),
    conversation: document.getElementById('conversation'),
    hint: document.getElementById('hint'),
    form: document.getElementById('ask'),
    picker: document.getElementById('picker'),
    author: document.getElementById('author'),
    question: document.getElementById('question'),
    send: document.getElementById('send'),
  };

  const token = takeToken();

  // Every answer of this page, by request id. An answer that is not done is
  // resumed after each reconnection from its lastSeq, which only grows, so
  // text is neither lost nor repeated across sockets.
  const answers = new Map();

  let socket = null;   // the current WebSocket, open or opening; null while waiting to retry
  let attempt = 0;     // failed connections since the last open; sets the backoff
  let retryTimer = 0;
  let unauthorized = false; // a 401 stops reconnecting: the same token would fail again

  function takeToken() {
    const url = new URL(location.href);
    const fromURL = url.searchParams.get('access_token');
    if (fromURL) {
      try { sessionStorage.setItem(TOKEN_KEY, fromURL); } catch (_) { /* storage off: the token lives until reload */ }
      // Keep the token out of the address bar, the history and bookmarks.
      url.searchParams.delete('access_token');
      history.replaceState(history.state, '', url.pathname + url.search + url.hash);
      return fromURL;
    }
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (_) { return ''; }
  }

  // API paths are relative to the page, so the page also works behind a
  // proxy that serves the whole gateway under a path prefix.
  function apiURL(path) {
    return new URL(path, document.baseURI);
  }

  function chatURL(scheme) {
    const u = apiURL('v1/chat');
    if (scheme === 'ws') u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token) u.searchParams.set('access_token', token);
    return u.href;
  }

  function authHeaders(extra) {
    const h = Object.assign({}, extra);
    if (token) h.Authorization = 'Bearer ' + token;
    return h;
  }

  function setStatus(state, text) {
    els.status.dataset.state = state;
    els.status.textContent = text;
  }

  // ---- connection ----

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (unauthorized || socket) return;
    let ws;
    try {
      ws = new WebSocket(chatURL('ws'));
    } catch (_) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      attempt = 0;
      setStatus('connected', 'connected');
      for (const a of answers.values()) {
        if (a.done) continue;
        if (a.asked) send({ type: 'resume', id: a.id, after: a.lastSeq });
        else sendAsk(a);
      }
    };
    ws.onmessage = (ev) => receive(ev.data);
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      // A browser hides the HTTP status of a refused handshake, so ask the
      // same URL over plain HTTP whether the refusal was a 401.
      if (!opened) probeAuth();
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (unauthorized || retryTimer) return;
    setStatus('reconnecting', 'reconnecting…');
    const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt);
    attempt++;
    // Jitter spreads the clients of a restarted gateway over the window.
    retryTimer = setTimeout(connect, ceiling / 2 + Math.random() * ceiling / 2);
  }

  async function probeAuth() {
    try {
      const res = await fetch(chatURL('http'), { headers: authHeaders(), cache: 'no-store' });
      if (res.status === 401) authNeeded();
    } catch (_) { /* the server is unreachable: the backoff goes on */ }
  }

  function authNeeded() {
    if (unauthorized) return;
    unauthorized = true;
    clearTimeout(retryTimer);
    retryTimer = 0;
    setStatus('unauthorized', 'access token needed');
    if (token) {
      // A refused token must not be reused by the next load of this tab.
      try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* nothing stored */ }
      notice('The access token was refused. Open this page again with a valid ?access_token=… in its address.');
    } else {
      notice('This twin needs an access token. Open this page with ?access_token=YOUR_TOKEN added to its address.');
    }
  }

  function send(frame) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  function sendAsk(a) {
    const frame = { type: 'ask', id: a.id, query: a.query };
    if (a.author) frame.author = a.author;
    // An ask that cannot go now waits for the next open, which sends it.
    if (send(frame)) a.asked = true;
  }

  function receive(data) {
    let m;
    try { m = JSON.parse(data); } catch (_) { return; }
    if (!m || typeof m !== 'object') return;
    const a = typeof m.id === 'string' ? answers.get(m.id) : undefined;
    switch (m.type) {
      case 'token': if (a) onToken(a, m); break;
      case 'done': if (a) onDone(a, m); break;
      case 'error': onError(a, m); break;
    }
  }

  // ---- answers ----

  function newID() {
    // getRandomValues, unlike randomUUID, also exists outside secure contexts
    // (a gateway reached over plain http on a LAN address).
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  function node(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function ask() {
    const query = els.question.value.trim();
    if (!query) return;
    const a = {
      id: newID(),
      query,
      author: els.author.value,
      lastSeq: 0,
      asked: false,
      done: false,
      rated: false,
    };
    const follow = following();
    els.hint.hidden = true;
    els.conversation.append(node('p', 'question', query));
    a.el = node('article', 'answer');
    a.el.dataset.id = a.id;
    a.el.setAttribute('aria-busy', 'true'); // screen readers wait for the whole answer
    a.el.setAttribute('aria-label', 'Answer');
    a.raw = ''; // the answer's markdown so far
    a.textEl = node('div', 'text');
    a.el.append(a.textEl);
    els.conversation.append(a.el);
    answers.set(a.id, a);
    if (unauthorized) {
      // No socket will open with this token; say so instead of waiting.
      a.done = true;
      a.el.setAttribute('aria-busy', 'false');
      showError(a, ERROR_TEXT.unauthorized, 'Open this page with ?access_token=YOUR_TOKEN added to its address.');
    } else {
      sendAsk(a);
    }
    els.question.value = '';
    updateSend();
    if (follow) scrollToEnd();
  }

  function onToken(a, m) {
    if (a.done || typeof m.seq !== 'number' || m.seq <= a.lastSeq) return;
    a.lastSeq = m.seq;
    if (typeof m.text !== 'string' || m.text === '') return;
    const follow = following();
    a.raw += m.text;
    renderText(a);
    if (follow) scrollToEnd();
  }

  // renderText shows the answer's markdown so far. Rendering it whole each
  // time is simple and cheap at an answer's size, and a construct that a
  // later token completes (a code fence, **bold**) then renders as it should.
  function renderText(a) {
    a.textEl.replaceChildren(TwinMarkdown.render(a.raw, a.sources));
  }

  function onDone(a, m) {
    if (a.done) return;
    a.done = true;
    const follow = following();
    // The final answer is authoritative: it also covers a reply that came
    // without tokens.
    if (typeof m.answer === 'string' && m.answer !== '') a.raw = m.answer;
    if (Array.isArray(m.sources)) a.sources = m.sources;
    renderText(a); // now with its citations linked
    if (typeof m.trace_id === 'string' && m.trace_id) a.el.dataset.traceId = m.trace_id;
    renderSources(a, m.sources);
    renderRating(a);
    a.el.setAttribute('aria-busy', 'false');
    if (follow) scrollToEnd();
  }

  function onError(a, m) {
    const code = typeof m.code === 'string' ? m.code : '';
    if (code === 'unauthorized') {
      authNeeded(); // its notice says what to do
      if (!a) return;
    }
    const headline = ERROR_TEXT[code] || 'The twin could not answer.';
    const detail = typeof m.message === 'string' ? m.message : '';
    if (!a) {
      notice(headline + (detail ? ' ' + detail : ''));
      return;
    }
    // The gateway names the frame an error answers in `for`; without it,
    // an error for a finished answer can only be about its rating.
    if (m.for === 'feedback' && typeof m.document_id === 'string' && a.judges) {
      const j = a.judges.get(m.document_id);
      if (j) {
        unjudge(j);
        showError(a, 'Your judgment of this source was not recorded.', detail, j.box);
      }
      return;
    }
    if (m.for === 'feedback' || (m.for === undefined && a.done && a.rating)) {
      if (a.rating && a.ratedVia === 'socket') unrate(a); // let the user rate again
      // Inside the rating box, so that the next rating clears it.
      showError(a, 'Your rating was not recorded.', detail, a.rating && a.rating.box);
      return;
    }
    if (a.done) return; // a late error for an answer already shown in full
    a.done = true;
    a.el.setAttribute('aria-busy', 'false');
    showError(a, headline, detail);
  }

  function showError(a, headline, detail, parent) {
    const p = node('p', 'error');
    p.setAttribute('role', 'alert');
    p.append(node('strong', null, headline));
    if (detail) p.append(node('span', 'detail', detail));
    (parent || a.el).append(p);
  }

  function notice(text) {
    const p = node('p', 'notice', text);
    p.setAttribute('role', 'alert');
    els.conversation.append(p);
    scrollToEnd();
  }

  // A javascript: or data: link from a crawled page must not become clickable.
  const safeLink = TwinMarkdown.safeURL;

  function renderSources(a, sources) {
    if (!Array.isArray(sources) || sources.length === 0) return;
    const list = node('ol');
    for (const s of sources) {
      if (!s || typeof s !== 'object') continue;
      const title = typeof s.title === 'string' ? s.title.trim() : '';
      const link = typeof s.link === 'string' ? s.link : '';
      const label = title || link || (typeof s.document_id === 'string' && s.document_id) || 'source';
      const li = node('li');
      const href = safeLink(link);
      if (href) {
        const anchor = node('a', null, label);
        anchor.href = href;
        anchor.target = '_blank';
        anchor.rel = 'noopener noreferrer';
        li.append(anchor);
      } else {
        li.append(label);
      }
      if (typeof s.score === 'number') li.title = 'relevance ' + s.score.toFixed(2);
      if (typeof s.document_id === 'string' && s.document_id) renderJudge(a, li, s.document_id, label);
      list.append(li);
    }
    if (!list.firstChild) return;
    const box = node('div', 'sources');
    box.append(node('h2', null, 'Sources'), list);
    a.el.append(box);
  }

  // ---- rating ----

  function renderRating(a) {
    const box = node('div', 'rating');
    const up = node('button', 'rate-up');
    const down = node('button', 'rate-down');
    up.append(thumb());
    down.append(thumb());
    for (const [b, label, rating] of [[up, 'Good answer', 1], [down, 'Bad answer', -1]]) {
      b.type = 'button';
      b.title = label;
      b.setAttribute('aria-label', label);
      b.setAttribute('aria-pressed', 'false');
      b.addEventListener('click', () => rate(a, rating, b));
    }
    box.append(up, down);
    if (a.el.dataset.traceId) {
      // How the answer was made, on the traces page.
      const link = node('a', 'trace-link', 'How this answer was made');
      link.href = 'traces#' + encodeURIComponent(a.el.dataset.traceId);
      box.append(link);
    }
    a.el.append(box);
    a.rating = { box, buttons: [up, down] };
  }

  // An icon drawn here rather than an emoji: emoji fonts are missing on
  // some systems, and the page loads no fonts or images from elsewhere.
  const THUMB_PATH = 'M2 10h4v11H2zM8 9.5 12.6 3.2a1.6 1.6 0 0 1 2.9 1.2L14.6 9H20a2 2 0 0 1 1.9 2.6l-2.3 7.9A2 2 0 0 1 17.7 21H8z';

  function thumb() {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', THUMB_PATH);
    svg.append(path);
    return svg;
  }

  function setRatingEnabled(a, on) {
    for (const b of a.rating.buttons) b.disabled = !on;
  }

  async function rate(a, rating, button) {
    if (a.rated) return;
    a.rated = true;
    setRatingEnabled(a, false);
    button.setAttribute('aria-pressed', 'true');
    const old = a.rating.box.querySelector('.error');
    if (old) old.remove();
    if (send({ type: 'feedback', id: a.id, rating })) {
      recorded(a, 'socket');
      return;
    }
    // The socket is down: the REST endpoint records the same rating.
    try {
      const res = await fetch(apiURL('v1/feedback'), {
        method: 'POST',
        headers: authHeaders({ 'Content-Type': 'application/json' }),
        body: JSON.stringify({ request_id: a.id, rating, comment: '' }),
      });
      if (res.status === 401) authNeeded();
      if (!res.ok) throw new Error('HTTP ' + res.status);
      recorded(a, 'http');
    } catch (_) {
      unrate(a);
      const p = node('span', 'error', 'Your rating could not be sent. Please try again.');
      p.setAttribute('role', 'alert');
      a.rating.box.append(p);
    }
  }

  function recorded(a, via) {
    a.ratedVia = via;
    a.rating.box.append(node('span', 'rated', 'Thanks, your rating was recorded.'));
  }

  function unrate(a) {
    a.rated = false;
    a.ratedVia = '';
    const done = a.rating.box.querySelector('.rated');
    if (done) done.remove();
    for (const b of a.rating.buttons) b.setAttribute('aria-pressed', 'false');
    setRatingEnabled(a, true);
  }

  // ---- judging a source ----

  // Each cited source gets "helpful" and "not helpful": a judgment of that
  // document for this question, which the reranker learns from. A user may
  // change their mind; pressing the pressed button again does nothing.
  function renderJudge(a, li, documentID, label) {
    if (!a.judges) a.judges = new Map();
    if (a.judges.has(documentID)) return;
    const box = node('span', 'judge');
    box.setAttribute('role', 'group');
    box.setAttribute('aria-label', 'Was "' + label + '" helpful?');
    const j = { documentID, box, buttons: [], helpful: null };
    for (const [helpful, text] of [[true, 'Helpful'], [false, 'Not helpful']]) {
      const b = node('button', helpful ? 'judge-yes' : 'judge-no', text);
      b.type = 'button';
      b.setAttribute('aria-pressed', 'false');
      b.addEventListener('click', () => judge(a, j, helpful));
      j.buttons.push(b);
      box.append(b);
    }
    li.append(' ', box);
    a.judges.set(documentID, j);
  }

  async function judge(a, j, helpful) {
    if (j.helpful === helpful) return;
    j.helpful = helpful;
    for (const x of j.box.querySelectorAll('.error, .judged')) x.remove();
    j.buttons[0].setAttribute('aria-pressed', String(helpful));
    j.buttons[1].setAttribute('aria-pressed', String(!helpful));
    const frame = { type: 'feedback', id: a.id, document_id: j.documentID, helpful, query: a.query };
    if (send(frame)) {
      judged(j);
      return;
    }
    // The socket is down: the REST endpoint records the same judgment.
    try {
      const res = await fetch(apiURL('v1/feedback'), {
        method: 'POST',
        headers: authHeaders({ 'Content-Type': 'application/json' }),
        body: JSON.stringify({ request_id: a.id, document_id: j.documentID, helpful, query: a.query }),
      });
      if (res.status === 401) authNeeded();
      if (!res.ok) throw new Error('HTTP ' + res.status);
      judged(j);
    } catch (_) {
      unjudge(j);
      const p = node('span', 'error', 'Not sent. Please try again.');
      p.setAttribute('role', 'alert');
      j.box.append(p);
    }
  }

  function judged(j) {
    j.box.append(node('span', 'judged', 'Thanks'));
  }

  function unjudge(j) {
    j.helpful = null;
    for (const x of j.box.querySelectorAll('.judged')) x.remove();
    for (const b of j.buttons) b.setAttribute('aria-pressed', 'false');
  }

  // ---- authors ----

  async function loadAuthors() {
    try {
      const res = await fetch(apiURL('v1/authors'), { headers: authHeaders({ Accept: 'application/json' }) });
      if (res.status === 401) {
        authNeeded();
        return;
      }
      if (!res.ok) return;
      const body = await res.json();
      const list = body && Array.isArray(body.authors) ? body.authors : [];
      for (const au of list) {
        // The chat takes the author's name, as `twin chat --author` does:
        // the rag worker filters by it and writes in that name's voice.
        if (!au || typeof au.name !== 'string' || au.name === '') continue;
        els.author.add(new Option(au.name, au.name));
      }
      if (els.author.options.length > 1) els.picker.hidden = false;
    } catch (_) {
      // No picker is better than a broken one: questions go to any author.
    }
  }

  // ---- page ----

  function following() {
    const doc = document.documentElement;
    return window.innerHeight + window.scrollY >= doc.scrollHeight - 80;
  }

  function scrollToEnd() {
    window.scrollTo(0, document.documentElement.scrollHeight);
  }

  function updateSend() {
    els.send.disabled = els.question.value.trim() === '';
  }

  els.question.addEventListener('input', updateSend);
  els.question.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.shiftKey || e.isComposing) return;
    e.preventDefault();
    if (!els.send.disabled) els.form.requestSubmit();
  });
  // A browser sends no keypress after a cancelled keydown, but tools that
  // synthesize keys (automation, some remote keyboards) send it anyway; it
  // must not leave a line break behind the question just sent.
  els.question.addEventListener('keypress', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) e.preventDefault();
  });
  els.form.addEventListener('submit', (e) => {
    e.preventDefault();
    ask();
  });
  window.addEventListener('online', () => {
    if (socket || unauthorized) return;
    attempt = 0;
    connect();
  });

  updateSend();
  loadAuthors();
  connect();
})();
