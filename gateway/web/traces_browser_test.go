package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Canned traces, as GET /v1/traces and GET /v1/traces/{id} answer them.
// Their text carries markup and script, which must stay text.
var (
	tracePage1 = `{"traces":[
		{"trace_id":"t-xss","request_id":"r1","author":"Ada","created_at":"2025-06-01T12:00:04Z","query":"<img src=x onerror=window.pwned=1>why?","steps":3,"errors":1,"total_ms":14,"rating":-1,"ratings":1},
		{"trace_id":"t-2","request_id":"r2","author":"Grace","created_at":"2025-06-01T12:00:03Z","query":"how do streams work?","steps":1,"events":["refusal"]}],
		"next":"1748779203000:t-2"}`
	tracePage2 = `{"traces":[{"trace_id":"t-3","request_id":"r3","created_at":"2025-06-01T12:00:01Z","query":"the oldest","steps":0}]}`
	traceGrace = `{"traces":[{"trace_id":"t-2","request_id":"r2","author":"Grace","created_at":"2025-06-01T12:00:03Z","query":"how do streams work?","steps":1}]}`
	traceBody  = map[string]string{
		"t-xss": `{"trace_id":"t-xss","request_id":"r1","author":"Ada","created_at":"2025-06-01T12:00:04Z",
			"trace":{"trace_id":"t-xss","query":"<img src=x onerror=window.pwned=1>why?","total_ms":14,"first_token_ms":5,"steps":[
				{"name":"search","input":"<img src=x onerror=window.pwned=1>","output":[{"document_id":"d1","title":"</pre><script>window.pwned=1</script>"}],"latency_ms":3.5},
				{"name":"rerank","output":[],"latency_ms":1.25,"model":"lexical"},
				{"name":"generate","input":"prompt","output":"an answer","latency_ms":9,"tokens_in":40,"tokens_out":12,"model":"m","error":"<b>cut short</b>"}],
				"events":[{"step":"guard_output","kind":"redaction","detail":"1 email"}]},
			"feedback":[{"request_id":"r1","rating":-1,"comment":"<i>too vague</i>","created_at":"2025-06-01T12:01:00Z"}],
			"judgments":[{"id":"j1","query":"why?","document_id":"<b>d1</b>","grade":1,"source":"user","request_id":"r1","created_at":"2025-06-01T12:01:30Z"},
				{"id":"j2","query":"why?","document_id":"d2","grade":0,"source":"user","request_id":"r1"}]}`,
		"t-2": `{"trace_id":"t-2","request_id":"r2","author":"Grace","created_at":"2025-06-01T12:00:03Z",
			"trace":{"trace_id":"t-2","query":"how do streams work?","steps":[{"name":"guard_input","output":{"reason":"off topic"}}],"events":[{"kind":"refusal"}]},"feedback":[]}`,
	}
)

func (p *chatPeer) traceList(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	p.listed <- q
	body := tracePage1
	switch {
	case q.Get("author") == "Grace Hopper":
		body = traceGrace
	case q.Get("before") == "1748779203000:t-2":
		body = tracePage2
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(body))
}

func (p *chatPeer) trace(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	body, ok := traceBody[r.PathValue("id")]
	if !ok {
		http.Error(w, `{"error":"no such trace"}`, http.StatusNotFound)
		return
	}
	if !json.Valid([]byte(body)) {
		panic("a canned trace is not JSON")
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(body))
}

func (p *chatPeer) nextList(t *testing.T) url.Values {
	t.Helper()
	select {
	case q := <-p.listed:
		return q
	case <-time.After(waitTimeout):
		t.Fatal("the page asked for no traces")
		return nil
	}
}

func TestTracesPageListsPagesAndShowsATraceAsText(t *testing.T) {
	peer, b, base := servePages(t)

	b.do(chromedp.Navigate(base + "/traces?access_token=" + testToken))
	if q := peer.nextList(t); q.Get("limit") != "20" || q.Has("before") || q.Has("author") {
		t.Errorf("first listing asked %v, want limit=20 and nothing else", q)
	}
	b.waitFor("two traces listed, markup as text", `document.querySelectorAll('.trace-row').length === 2 &&
		document.querySelector('.trace-row .q').textContent.startsWith('<img') && !document.querySelector('.trace-list img') && !window.pwned`)
	b.waitFor("the token to leave the address bar", `!location.href.includes('access_token')`)
	b.waitFor("a row to sum up steps, failures, time and rating", `(m => m.includes('3 steps') && m.includes('1 failed') &&
		m.includes('14.0 ms') && m.includes('rated down'))(document.querySelector('.trace-row .meta').textContent)`)

	// Older traces come from the "next" of the page before.
	b.do(chromedp.Click(chromedp.CSS("#more")))
	if q := peer.nextList(t); q.Get("before") != "1748779203000:t-2" {
		t.Errorf("the second page asked %v, want before=1748779203000:t-2", q)
	}
	b.waitFor("three traces, and no more to load", `document.querySelectorAll('.trace-row').length === 3 && document.querySelector('#more').hidden`)

	// One trace: every step with its latency, inputs and outputs as text,
	// the events and the ratings.
	b.do(chromedp.Click(chromedp.CSS(`.trace-row[data-id="t-xss"]`)))
	b.waitFor("the trace's steps, each with a latency bar", `document.querySelectorAll('#detail .step').length === 3 &&
		document.querySelectorAll('#detail .step meter').length === 3 &&
		[...document.querySelectorAll('#detail .step .latency')].map(e => e.textContent).join('|') === '3.5 ms|1.3 ms|9.0 ms'`)
	b.waitFor("the question and the failed step shown as text", `document.querySelector('#detail h2').textContent.startsWith('<img') &&
		document.querySelector('#detail .step.failed .name').textContent === 'generate' &&
		document.querySelector('#detail .step.failed pre.error-text').textContent === '<b>cut short</b>'`)
	b.do(chromedp.Click(chromedp.CSS(`#detail .step:first-child summary`)))
	b.waitFor("the first step's input and output, markup as text", `(d => d.open &&
		d.querySelectorAll('pre')[0].textContent === '<img src=x onerror=window.pwned=1>' &&
		d.querySelectorAll('pre')[1].textContent.includes('</pre><script>') &&
		!document.querySelector('#detail img, #detail script, #detail b, #detail i') && !window.pwned)(document.querySelector('#detail .step details'))`)
	b.waitFor("the events and the rating with its comment", `document.querySelector('#detail .events').textContent.includes('redaction') &&
		document.querySelector('#detail .feedback').textContent.includes('rated down') &&
		document.querySelector('#detail .feedback q').textContent === '<i>too vague</i>'`)
	b.waitFor("the judged sources, ids as text", `(ls => ls.length === 2 &&
		ls[0].classList.contains('up') && ls[0].querySelector('.rating').textContent === 'helpful' && ls[0].querySelector('code').textContent === '<b>d1</b>' &&
		ls[1].classList.contains('down') && ls[1].querySelector('.rating').textContent === 'not helpful' && !document.querySelector('#detail b'))(
		document.querySelectorAll('#detail .judgments li'))`)
	b.waitFor("the address to name the trace", `location.hash === '#t-xss'`)

	if shot := os.Getenv("TWIN_TRACES_SCREENSHOT"); shot != "" {
		b.do(chromedp.EmulateViewport(1200, 900))
		if err := os.WriteFile(shot, screenshot(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A link to one trace opens it (the page under its other name, so
	// that the browser loads it anew).
	b.do(chromedp.Navigate(base + "/traces.html#t-2"))
	peer.nextList(t)
	b.waitFor("the linked trace shown, without ratings", `document.querySelector('#detail h2') && document.querySelector('#detail h2').textContent === 'how do streams work?' &&
		document.querySelector('#detail').textContent.includes('No rating yet') && document.querySelector('#detail .events').textContent.includes('refusal')`)

	// The author filter.
	b.waitFor("the author picker filled", `document.querySelectorAll('#author option').length === 3`)
	b.do(pickAuthor("Grace Hopper"), chromedp.Click(chromedp.CSS(`#filter button`)))
	if q := peer.nextList(t); q.Get("author") != "Grace Hopper" {
		t.Errorf("the filtered listing asked %v, want author=Grace Hopper", q)
	}
	b.waitFor("one trace of Grace's", `document.querySelectorAll('.trace-row').length === 1`)

	// A phone's width scrolls nothing sideways.
	b.do(chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile, chromedp.EmulateTouch))
	b.waitFor("a 360px layout with no sideways scrolling", `window.innerWidth === 360 && document.documentElement.scrollWidth <= 360`)
	b.clean()
}
