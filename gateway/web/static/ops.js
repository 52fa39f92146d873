// The operations page: reads GET /v1/status every few seconds and shows
// each consumer's lag with a short history, the rates since the last
// reading, the dead letters, the index's freshness and the training jobs.
// The history lives in the page only: it starts when the page opens.
'use strict';

(() => {
  const { getJSON, node, str, num, when } = window.twinPage;
  const HISTORY = 60; // readings kept per consumer
  const SVG = 'http://www.w3.org/2000/svg';
  // ?interval=MS, for a closer look (or a test); at least 250 ms.
  const interval = Math.max(250, Number(new URLSearchParams(location.search).get('interval')) || 2000);

  const els = {
    notice: document.getElementById('notice'),
    dlq: document.getElementById('dlq'),
    dlqCard: document.getElementById('dlq-card'),
    freshness: document.getElementById('freshness'),
    freshnessDetail: document.getElementById('freshness-detail'),
    lag: document.getElementById('lag'),
    updated: document.getElementById('updated'),
    streams: document.querySelector('#streams tbody'),
    training: document.querySelector('#training tbody'),
  };

  const history = new Map(); // "stream/consumer" -> lags, oldest first
  let previous = null; // { at, counts: Map of "stream" or "stream/consumer" -> counter }

  function say(text) {
    els.notice.textContent = text;
    els.notice.hidden = !text;
  }

  function seconds(v) {
    const s = num(v);
    return s < 1 ? Math.round(s * 1000) + ' ms' : s.toFixed(s < 10 ? 2 : 0) + ' s';
  }

  function ago(v) {
    const d = new Date(str(v));
    if (isNaN(d)) return 'never';
    const s = Math.max(0, Math.round((Date.now() - d) / 1000));
    return s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : when(v);
  }

  function rate(key, value, at) {
    if (!previous || !previous.counts.has(key)) return '–';
    const before = previous.counts.get(key);
    const dt = (at - previous.at) / 1000;
    if (value < before || dt <= 0) return '–';
    return ((value - before) / dt).toFixed(1) + '/s';
  }

  // sparkline draws values as a line scaled to its own maximum.
  function sparkline(values, label) {
    const w = 120, h = 24;
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    svg.setAttribute('class', 'spark');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
    const top = Math.max(1, ...values);
    const step = values.length > 1 ? w / (HISTORY - 1) : 0;
    const x0 = w - step * (values.length - 1);
    const points = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(h - 1 - (v / top) * (h - 2)).toFixed(1)}`);
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', points.join(' '));
    svg.append(line);
    return svg;
  }

  function cell(text, className) { return node('td', className, text); }

  function render(st) {
    const at = Date.now();
    const counts = new Map();
    const streams = Array.isArray(st.streams) ? st.streams : [];
    let dlq = 0, lag = 0;
    const rows = [];
    for (const s of streams) {
      const name = str(s.name);
      if (name === 'DLQ') dlq = num(s.messages);
      counts.set(name, num(s.last_seq));
      const tr = node('tr', 'stream');
      tr.append(node('th', null, name), cell(''), cell(num(s.messages)), cell(''), cell(''), cell(''),
        cell(rate(name, num(s.last_seq), at), 'rate'), cell(''), cell(''));
      tr.firstChild.setAttribute('scope', 'row');
      rows.push(tr);
      for (const c of Array.isArray(s.consumers) ? s.consumers : []) {
        const key = name + '/' + str(c.name);
        const l = num(c.pending) + num(c.ack_pending);
        lag += l;
        counts.set(key, num(c.acked));
        const h = history.get(key) || [];
        h.push(l);
        if (h.length > HISTORY) h.shift();
        history.set(key, h);
        const ctr = node('tr', 'consumer');
        ctr.dataset.key = key;
        const spark = cell('', 'history');
        spark.append(sparkline(h, 'lag of ' + str(c.name) + ', last ' + h.length + ' readings'));
        ctr.append(cell(''), cell(str(c.name), 'name'), cell(''), cell(num(c.pending), 'pending'), cell(num(c.ack_pending)),
          cell(num(c.redelivered)), cell(rate(key, num(c.acked), at), 'rate'), spark, cell(ago(c.last_active)));
        rows.push(ctr);
      }
    }
    els.streams.replaceChildren(...rows);
    previous = { at, counts };

    els.dlq.textContent = String(dlq);
    els.dlqCard.classList.toggle('alert', dlq > 0);
    els.lag.textContent = String(lag);
    const f = st.freshness;
    if (f && typeof f === 'object') {
      els.freshness.textContent = 'p99 ' + seconds(f.p99_s);
      els.freshnessDetail.textContent = 'p50 ' + seconds(f.p50_s) + ' over the last ' + num(f.samples) + ' documents; last ' + ago(f.last_indexed_at);
    } else {
      els.freshness.textContent = '–';
      els.freshnessDetail.textContent = 'nothing indexed yet';
    }

    const jobs = Array.isArray(st.training) ? st.training : [];
    if (!jobs.length) {
      const tr = node('tr');
      const td = cell('No training jobs yet.', 'muted');
      td.colSpan = 6;
      tr.append(td);
      els.training.replaceChildren(tr);
    } else {
      els.training.replaceChildren(...jobs.map((j) => {
        const t = (j && j.trigger) || {}, s = (j && j.status) || {};
        const tr = node('tr', 'job ' + (str(s.state) || 'pending'));
        tr.append(cell(when(t.created_at)), cell(str(t.kind)), cell(str(t.cause) || '–'), cell(str(s.state) || 'pending', 'state'),
          cell(str(s.job_id) || '–'), cell(str(s.message)));
        return tr;
      }));
    }
    els.updated.textContent = 'Updated ' + new Date(at).toLocaleTimeString() + ', every ' + interval / 1000 + ' s.';
  }

  async function poll() {
    try {
      const st = await getJSON('v1/status');
      if (st) render(st);
      say('');
    } catch (e) {
      // Keep the last figures on screen: a restart of the gateway is
      // exactly when someone watches this page.
      say('Cannot read the status: ' + e.message);
    }
    setTimeout(poll, interval);
  }

  poll();
})();
