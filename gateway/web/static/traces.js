// The traces page: reads GET /v1/traces and GET /v1/traces/{id} and shows
// how each chat answer was made, step by step, with the ratings it got.
// Everything from the server reaches the page as text (textContent, text
// nodes), never as markup: a trace holds crawled text and model output.
'use strict';

(() => {
  const { getJSON, node, str, num, when } = window.twinPage;
  const PAGE = 20;

  const els = {
    filter: document.getElementById('filter'),
    author: document.getElementById('author'),
    notice: document.getElementById('notice'),
    list: document.getElementById('list'),
    more: document.getElementById('more'),
    detail: document.getElementById('detail'),
  };

  let next = '';
  let selected = null;

  function say(text) {
    els.notice.textContent = text;
    els.notice.hidden = !text;
  }

  function ms(v) {
    const n = num(v);
    if (n <= 0) return '–';
    return (n < 1 ? n.toFixed(3) : n < 100 ? n.toFixed(1) : Math.round(n).toString()) + ' ms';
  }

  function ratingText(r) { return r === 1 ? 'rated up' : r === -1 ? 'rated down' : ''; }

  // ---- the list ----

  async function load(reset) {
    say('');
    if (reset) {
      next = '';
      els.list.replaceChildren();
    }
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (els.author.value) q.set('author', els.author.value);
    if (next) q.set('before', next);
    els.more.disabled = true;
    try {
      const body = await getJSON('v1/traces?' + q);
      const traces = body && Array.isArray(body.traces) ? body.traces : [];
      for (const t of traces) if (t && typeof t === 'object') els.list.append(row(t));
      next = body && typeof body.next === 'string' ? body.next : '';
      els.more.hidden = !next;
      if (!els.list.firstChild) els.list.append(node('li', 'empty', 'No traces yet: ask the twin something.'));
    } catch (e) {
      say(e.message);
    } finally {
      els.more.disabled = false;
    }
  }

  function row(t) {
    const li = node('li');
    const b = node('button', 'trace-row');
    b.type = 'button';
    b.dataset.id = str(t.trace_id);
    b.append(node('span', 'q', str(t.query) || '(no question)'));
    const meta = node('span', 'meta');
    const parts = [when(t.created_at), str(t.author), num(t.steps) + (num(t.steps) === 1 ? ' step' : ' steps'), ms(t.total_ms)];
    if (num(t.errors) > 0) parts.push(num(t.errors) + ' failed');
    if (Array.isArray(t.events)) for (const e of t.events) if (typeof e === 'string') parts.push(e);
    const r = ratingText(t.rating);
    if (r) parts.push(r);
    meta.textContent = parts.filter(Boolean).join(' · ');
    b.append(meta);
    b.addEventListener('click', () => show(str(t.trace_id)));
    li.append(b);
    return li;
  }

  // ---- one trace ----

  async function show(id) {
    if (!id) return;
    selected = id;
    for (const b of els.list.querySelectorAll('.trace-row')) b.setAttribute('aria-current', String(b.dataset.id === id));
    if (location.hash.slice(1) !== encodeURIComponent(id)) history.replaceState(history.state, '', '#' + encodeURIComponent(id));
    try {
      const rec = await getJSON('v1/traces/' + encodeURIComponent(id));
      if (selected !== id) return; // another trace was picked meanwhile
      if (!rec) {
        say('No trace ' + id + '.');
        return;
      }
      render(rec);
    } catch (e) {
      say(e.message);
    }
  }

  function render(rec) {
    const t = rec.trace && typeof rec.trace === 'object' ? rec.trace : {};
    const d = els.detail;
    d.replaceChildren();
    d.append(node('h2', null, str(t.query) || '(no question)'));
    const facts = node('dl', 'facts');
    for (const [k, v] of [['trace', str(rec.trace_id)], ['request', str(rec.request_id)], ['author', str(rec.author) || '–'],
      ['when', when(rec.created_at)], ['total', ms(t.total_ms)], ['first token', ms(t.first_token_ms)]]) {
      facts.append(node('dt', null, k), node('dd', null, v));
    }
    d.append(facts);

    const steps = Array.isArray(t.steps) ? t.steps.filter((s) => s && typeof s === 'object') : [];
    const slowest = Math.max(1e-9, ...steps.map((s) => num(s.latency_ms)));
    d.append(node('h3', null, 'Steps'));
    const ol = node('ol', 'steps');
    for (const s of steps) {
      const li = node('li', s.error ? 'step failed' : 'step');
      const det = node('details');
      const sum = node('summary');
      sum.append(node('span', 'name', str(s.name) || '?'), node('span', 'latency', ms(s.latency_ms)));
      // A bar of the step's share of the slowest step, with no inline style.
      const bar = node('meter');
      bar.min = 0;
      bar.max = slowest;
      bar.value = num(s.latency_ms);
      bar.setAttribute('aria-label', 'latency of ' + (str(s.name) || 'step'));
      sum.append(bar);
      const extra = [];
      if (num(s.tokens_in) || num(s.tokens_out)) extra.push(num(s.tokens_in) + ' in / ' + num(s.tokens_out) + ' out tokens');
      if (str(s.model)) extra.push(str(s.model));
      if (extra.length) sum.append(node('span', 'extra', extra.join(' · ')));
      det.append(sum);
      if (str(s.error)) det.append(block('Error', str(s.error), 'error-text'));
      if (str(s.input)) det.append(block('Input', str(s.input)));
      if (s.output !== undefined) det.append(block('Output', typeof s.output === 'string' ? s.output : JSON.stringify(s.output, null, 2)));
      li.append(det);
      ol.append(li);
    }
    d.append(ol);

    const events = Array.isArray(t.events) ? t.events.filter((e) => e && typeof e === 'object') : [];
    if (events.length) {
      d.append(node('h3', null, 'Events'));
      const ul = node('ul', 'events');
      for (const e of events) ul.append(node('li', null, [str(e.kind), str(e.step), str(e.detail)].filter(Boolean).join(' · ')));
      d.append(ul);
    }

    d.append(node('h3', null, 'Feedback'));
    const fb = Array.isArray(rec.feedback) ? rec.feedback.filter((f) => f && typeof f === 'object') : [];
    if (!fb.length) d.append(node('p', 'muted', 'No rating yet.'));
    const ul = node('ul', 'feedback');
    for (const f of fb) {
      const li = node('li', f.rating === 1 ? 'up' : 'down');
      li.append(node('span', 'rating', ratingText(f.rating)));
      if (str(f.created_at)) li.append(' ', node('span', 'muted', when(f.created_at)));
      if (str(f.comment)) li.append(' ', node('q', null, str(f.comment)));
      ul.append(li);
    }
    if (fb.length) d.append(ul);

    const judged = Array.isArray(rec.judgments) ? rec.judgments.filter((j) => j && typeof j === 'object') : [];
    if (judged.length) {
      d.append(node('h3', null, 'Sources judged'));
      const jl = node('ul', 'judgments');
      for (const j of judged) {
        const li = node('li', num(j.grade) > 0 ? 'up' : 'down');
        li.append(node('span', 'rating', num(j.grade) > 0 ? 'helpful' : 'not helpful'), ' ', node('code', null, str(j.document_id)));
        if (str(j.created_at)) li.append(' ', node('span', 'muted', when(j.created_at)));
        jl.append(li);
      }
      d.append(jl);
    }
    d.hidden = false;
  }

  function block(title, text, className) {
    const wrap = node('div', 'io');
    wrap.append(node('h4', null, title));
    wrap.append(node('pre', className, text));
    return wrap;
  }

  // ---- authors ----

  async function loadAuthors() {
    try {
      const body = await getJSON('v1/authors');
      const list = body && Array.isArray(body.authors) ? body.authors : [];
      for (const au of list) {
        if (au && typeof au.name === 'string' && au.name) els.author.add(new Option(au.name, au.name));
      }
    } catch (_) { /* the filter stays at any author */ }
  }

  els.filter.addEventListener('submit', (e) => {
    e.preventDefault();
    load(true);
  });
  els.more.addEventListener('click', () => load(false));
  window.addEventListener('hashchange', () => {
    const id = decodeURIComponent(location.hash.slice(1));
    if (id && id !== selected) show(id);
  });

  loadAuthors();
  load(true).then(() => {
    const id = decodeURIComponent(location.hash.slice(1));
    if (id) show(id);
  });
})();
