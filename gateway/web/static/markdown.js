// A small markdown renderer for the twin's answers. It knows what answers hold: paragraphs,
// ATX headings, lists, quotes, fenced code, rules; code spans, emphasis, links, bare URLs and
// citations [n]. It builds DOM nodes only: text reaches the page as text nodes or textContent,
// never as markup, so raw HTML in a document shows as text, and a link is made only of an http(s)
// URL (a javascript: or data: link stays text). Images show their alt text: an answer loads
// nothing. Anything it does not know is shown as the text it is.
'use strict';

const TwinMarkdown = Object.freeze((() => {
  // safeURL returns an absolute http(s) URL, or '' for anything else.
  function safeURL(link) {
    if (typeof link !== 'string' || link === '') return '';
    try {
      const u = new URL(link, document.baseURI);
      return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : '';
    } catch (_) {
      return '';
    }
  }

  function el(tag, className) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    return e;
  }

  function outLink(href) {
    const a = el('a');
    a.href = href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    return a;
  }

  // cite renders [n]: a link to source n once the sources are known.
  function cite(parent, n, ctx) {
    const s = ctx.sources && ctx.sources[n - 1];
    const href = s && typeof s === 'object' ? safeURL(s.link) : '';
    const c = href ? outLink(href) : el('span');
    c.classList.add('cite');
    c.textContent = '[' + n + ']';
    if (s && typeof s.title === 'string' && s.title) c.title = s.title;
    parent.append(c);
  }

  // linkAt parses "[text](url)" at s[i] === '['; null when there is none.
  function linkAt(s, i) {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      if (s[j] === '\\') { j++; continue; }
      if (s[j] === '[') depth++;
      else if (s[j] === ']' && --depth === 0) {
        if (s[j + 1] !== '(') return null;
        const close = s.indexOf(')', j + 2);
        if (close < 0) return null;
        const url = s.slice(j + 2, close).trim();
        if (url === '' || /\s/.test(url)) return null;
        return { text: s.slice(i + 1, j), url, end: close + 1 };
      }
    }
    return null;
  }

  const ESCAPABLE = '\\`*_[]()#+-.!>~|{}<';
  const CITATION = /\[(\d{1,3})\]/y;
  const BARE_URL = /https?:\/\/[^\s<>()"'`]+/y;

  // inline renders one block's inline markdown into parent.
  function inline(parent, s, ctx) {
    let buf = '';
    const flush = () => {
      if (buf) parent.append(buf);
      buf = '';
    };
    for (let i = 0; i < s.length;) {
      const c = s[i];
      if (c === '\\' && i + 1 < s.length && ESCAPABLE.includes(s[i + 1])) {
        buf += s[i + 1];
        i += 2;
        continue;
      }
      if (c === '`') {
        let n = 0;
        while (s[i + n] === '`') n++;
        const fence = '`'.repeat(n);
        const close = s.indexOf(fence, i + n);
        if (close > 0) {
          flush();
          const code = el('code');
          code.textContent = s.slice(i + n, close).replace(/^ (.*) $/s, '$1');
          parent.append(code);
          i = close + n;
          continue;
        }
        buf += fence;
        i += n;
        continue;
      }
      if (c === '!' && s[i + 1] === '[') {
        const m = linkAt(s, i + 1);
        if (m) { // an image: its alt text, nothing loaded
          buf += m.text;
          i = m.end;
          continue;
        }
      }
      if (c === '[') {
        CITATION.lastIndex = i;
        const cm = ctx.cites ? CITATION.exec(s) : null;
        if (cm) {
          flush();
          cite(parent, Number(cm[1]), ctx);
          i = CITATION.lastIndex;
          continue;
        }
        const m = linkAt(s, i);
        if (m) {
          flush();
          const href = safeURL(m.url);
          const inner = { sources: ctx.sources, cites: false };
          if (href) {
            const a = outLink(href);
            inline(a, m.text, inner);
            parent.append(a);
          } else {
            inline(parent, m.text, inner); // not a link we make: its text
          }
          i = m.end;
          continue;
        }
      }
      if (c === '*' || c === '_') {
        let n = 0;
        while (s[i + n] === c && n < 3) n++;
        const width = n >= 2 ? 2 : 1;
        const mark = c.repeat(width);
        const prev = i > 0 ? s[i - 1] : ' ';
        const opens = s[i + width] !== undefined && !/\s/.test(s[i + width]) && (c === '*' || !/[\p{L}\p{N}]/u.test(prev));
        if (opens) {
          let close = s.indexOf(mark, i + width + 1);
          while (close > 0 && /\s/.test(s[close - 1])) close = s.indexOf(mark, close + 1);
          if (close > 0 && (c === '*' || !/[\p{L}\p{N}]/u.test(s[close + width] || ' '))) {
            flush();
            const e = el(width === 2 ? 'strong' : 'em');
            inline(e, s.slice(i + width, close), ctx);
            parent.append(e);
            i = close + width;
            continue;
          }
        }
        buf += s.slice(i, i + n);
        i += n;
        continue;
      }
      if (c === 'h' && (i === 0 || /[\s(]/.test(s[i - 1]))) {
        BARE_URL.lastIndex = i;
        const um = BARE_URL.exec(s);
        if (um) {
          const url = um[0].replace(/[.,;:!?]+$/, '');
          const href = safeURL(url);
          if (href) {
            flush();
            const a = outLink(href);
            a.textContent = url;
            parent.append(a);
            i += url.length;
            continue;
          }
        }
      }
      buf += c;
      i++;
    }
    flush();
  }

  const FENCE = /^(`{3,}|~{3,})\s*([^`\s]*)/;
  const HEADING = /^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
  const RULE = /^([-*_])(?:\s*\1){2,}$/;
  const ITEM = /^([-*+]|\d{1,9}[.)])\s+(.*)$/;

  // blocks renders markdown into a fragment of block elements.
  function blocks(text, ctx) {
    const frag = document.createDocumentFragment();
    const lines = text.replace(/\r\n?/g, '\n').split('\n');
    let para = null;
    const endPara = () => {
      if (para === null) return;
      const p = el('p');
      inline(p, para.join('\n'), ctx);
      frag.append(p);
      para = null;
    };
    for (let i = 0; i < lines.length;) {
      const line = lines[i];
      const t = line.trim();
      let m;
      if ((m = FENCE.exec(t))) {
        endPara();
        const fence = m[1];
        const body = [];
        i++;
        // An unclosed fence (an answer still streaming) runs to the end.
        while (i < lines.length && !(lines[i].trim().startsWith(fence) && lines[i].trim().replaceAll(fence[0], '') === '')) {
          body.push(lines[i]);
          i++;
        }
        i++;
        const pre = el('pre');
        const code = el('code');
        if (m[2]) code.dataset.lang = m[2];
        code.textContent = body.join('\n');
        pre.append(code);
        frag.append(pre);
        continue;
      }
      if (t === '') {
        endPara();
        i++;
        continue;
      }
      if ((m = HEADING.exec(t))) {
        endPara();
        // Headings of an answer sit under the page's own: # is an h3.
        const h = el('h' + Math.min(6, m[1].length + 2));
        inline(h, m[2], ctx);
        frag.append(h);
        i++;
        continue;
      }
      if (RULE.test(t)) {
        endPara();
        frag.append(el('hr'));
        i++;
        continue;
      }
      if (t.startsWith('>')) {
        endPara();
        const inner = [];
        while (i < lines.length && lines[i].trim().startsWith('>')) {
          inner.push(lines[i].trim().replace(/^>\s?/, ''));
          i++;
        }
        const q = el('blockquote');
        q.append(blocks(inner.join('\n'), ctx));
        frag.append(q);
        continue;
      }
      if ((m = ITEM.exec(t))) {
        endPara();
        const ordered = /\d/.test(m[1][0]);
        const list = el(ordered ? 'ol' : 'ul');
        if (ordered && parseInt(m[1], 10) !== 1) list.start = parseInt(m[1], 10);
        const items = [];
        while (i < lines.length) {
          const mm = ITEM.exec(lines[i].trim());
          if (mm && /\d/.test(mm[1][0]) === ordered) {
            items.push([mm[2]]);
          } else if (lines[i].trim() !== '' && /^\s/.test(lines[i]) && !FENCE.test(lines[i].trim())) {
            items[items.length - 1].push(lines[i].trim()); // the item goes on
          } else {
            break;
          }
          i++;
        }
        for (const item of items) {
          const li = el('li');
          inline(li, item.join(' '), ctx);
          list.append(li);
        }
        frag.append(list);
        continue;
      }
      if (para === null) para = [];
      para.push(line);
      i++;
    }
    endPara();
    return frag;
  }

  return {
    // render returns the nodes of an answer's markdown. sources, when given, are the answer's
    // sources: citation [n] then links to source n.
    render(text, sources) {
      return blocks(typeof text === 'string' ? text : '', { sources: Array.isArray(sources) ? sources : null, cites: true });
    },
    safeURL,
  };
})());
