// What the traces and operations pages share: the access token, reading
// the API, and making nodes. Server text only ever becomes text
// (textContent), never markup.
'use strict';

window.twinPage = (() => {
  const TOKEN_KEY = 'twin.access_token';

  // The same token handling as the chat page: from ?access_token= once,
  // then from this tab's session storage.
  function takeToken() {
    const url = new URL(location.href);
    const fromURL = url.searchParams.get('access_token');
    if (fromURL) {
      try { sessionStorage.setItem(TOKEN_KEY, fromURL); } catch (_) { /* storage off */ }
      url.searchParams.delete('access_token');
      history.replaceState(history.state, '', url.pathname + url.search + url.hash);
      return fromURL;
    }
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (_) { return ''; }
  }

  const token = takeToken();

  // getJSON returns the body, null for a 404, and throws with the
  // server's message otherwise.
  async function getJSON(path) {
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    const res = await fetch(new URL(path, document.baseURI), { headers, cache: 'no-store' });
    if (res.status === 401) throw new Error('This twin needs an access token: open this page with ?access_token=YOUR_TOKEN.');
    if (res.status === 404) return null;
    let body = null;
    try { body = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) throw new Error((body && typeof body.error === 'string') ? body.error : 'HTTP ' + res.status);
    return body;
  }

  function node(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function str(v) { return typeof v === 'string' ? v : ''; }
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : 0; }

  function when(v) {
    const d = new Date(str(v));
    return isNaN(d) ? '' : d.toLocaleString();
  }

  return Object.freeze({ getJSON, node, str, num, when });
})();
