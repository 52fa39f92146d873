package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/twin-llm/twin/internal/browsertest"
)

// The browser tests drive the page in headless Chromium against chatPeer, a
// scripted stand-in for the gateway's side of the chat protocol. They prove
// what the page does with the protocol; they do not prove that the real
// gateway speaks it (that is the gateway's full-stack test).

const testToken = "tok-123"

// waitTimeout bounds each wait on the page or on the peer. Every step of
// these tests happens in milliseconds; the margin is for a loaded CI box.
const waitTimeout = 5 * time.Second

func TestChatPageStreamsRatesAndResumes(t *testing.T) {
	peer, b := openChat(t)
	b.waitFor("the picker to list two authors after 'any author'", `document.querySelectorAll('#author option').length === 3`)
	b.do(chromedp.WaitVisible(chromedp.CSS("#author")))
	b.waitFor("the token to leave the address bar", `!location.href.includes('access_token')`)
	b.waitFor("send to be disabled while the question is empty", `document.querySelector('#send').disabled`)

	// Ask with the keyboard, for one author.
	b.do(
		pickAuthor("Grace Hopper"),
		chromedp.SendKeys(chromedp.CSS("#question"), "How does CDC work?"),
	)
	b.waitFor("send to be enabled once a question is typed", `!document.querySelector('#send').disabled`)
	b.do(chromedp.SendKeys(chromedp.CSS("#question"), kb.Enter))
	ask := peer.next(t, "ask")
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{16,}$`).MatchString(ask.ID) {
		t.Errorf("ask id = %q, want 16 or more of [A-Za-z0-9_-]", ask.ID)
	}
	if ask.Query != "How does CDC work?" || ask.Author == nil || *ask.Author != "Grace Hopper" {
		t.Errorf("ask = %+v (author %v), want query %q for author Grace Hopper", ask, deref(ask.Author), "How does CDC work?")
	}
	b.waitFor("the question box to clear", `document.querySelector('#question').value === ''`)

	// Tokens render as they come: two observations of growing text, both
	// before the answer is done.
	peer.tokens(t, ask.ID, 1, "Changes ", "flow ")
	b.waitText(ask.ID, "Changes flow ")
	peer.tokens(t, ask.ID, 2, "DUPLICATE ") // a seq already seen is ignored
	peer.tokens(t, ask.ID, 3, "through ", "JetStream.")
	b.waitText(ask.ID, "Changes flow through JetStream.")
	b.waitFor("no rating before the answer is done", js(`!document.querySelector(%s)`, answerSel(ask.ID)+" .rate-up"))

	peer.send(t, map[string]any{
		"type": "done", "id": ask.ID, "answer": "Changes flow through JetStream.", "trace_id": "trace-1",
		"sources": []map[string]any{
			{"document_id": "d1", "title": "CDC in twin", "link": "https://example.com/cdc", "score": 0.91},
			{"document_id": "d2", "title": "", "link": "https://example.com/streams?x=1", "score": 0.5},
			{"document_id": "d3", "title": "<b>Evil</b>", "link": "javascript:window.pwned=1", "score": 0.1},
		},
	})
	b.waitFor("two source links", js(`document.querySelectorAll(%s).length === 2`, answerSel(ask.ID)+" .sources a"))
	links := evaluate[[]map[string]string](b, js(`[...document.querySelectorAll(%s)].map(a => ({
		href: a.getAttribute('href'), text: a.textContent, target: a.target, rel: a.rel}))`, answerSel(ask.ID)+" .sources a"))
	want := []map[string]string{
		{"href": "https://example.com/cdc", "text": "CDC in twin"},
		{"href": "https://example.com/streams?x=1", "text": "https://example.com/streams?x=1"},
	}
	for i, l := range links {
		if l["href"] != want[i]["href"] || l["text"] != want[i]["text"] || l["target"] != "_blank" || !strings.Contains(l["rel"], "noopener") {
			t.Errorf("source link %d = %v, want href %q, text %q, target _blank, rel with noopener", i, l, want[i]["href"], want[i]["text"])
		}
	}
	b.waitFor("the javascript: source to be plain text, its markup shown as text", js(
		`document.querySelector(%s).textContent.includes('<b>Evil</b>') && !document.querySelector(%s) && !window.pwned`,
		answerSel(ask.ID)+" .sources", answerSel(ask.ID)+" .sources b"))

	// Rate over the socket.
	b.do(chromedp.Click(chromedp.CSS(answerSel(ask.ID) + " .rate-up")))
	fb := peer.next(t, "feedback")
	if fb.ID != ask.ID || fb.Rating != 1 {
		t.Errorf("feedback = id %q rating %d, want id %q rating 1", fb.ID, fb.Rating, ask.ID)
	}
	b.waitFor("the rating to show as recorded, both buttons disabled", js(
		`!!document.querySelector(%s) && [...document.querySelectorAll(%s)].every(b => b.disabled)`,
		answerSel(ask.ID)+" .rated", answerSel(ask.ID)+" .rating button"))

	// A refused rating (the gateway names the frame in "for") can be given again.
	peer.send(t, map[string]any{"type": "error", "id": ask.ID, "code": "unavailable", "message": "could not record the feedback; try again", "for": "feedback"})
	b.waitFor("the refused rating to say so and allow another", js(
		`!document.querySelector(%s) && document.querySelector(%s).textContent.includes('not recorded') && !document.querySelector(%s).disabled`,
		answerSel(ask.ID)+" .rated", answerSel(ask.ID)+" .error", answerSel(ask.ID)+" .rate-up"))
	b.do(chromedp.Click(chromedp.CSS(answerSel(ask.ID) + " .rate-up")))
	if fb := peer.next(t, "feedback"); fb.ID != ask.ID || fb.Rating != 1 {
		t.Errorf("second feedback = id %q rating %d, want id %q rating 1", fb.ID, fb.Rating, ask.ID)
	}
	b.waitFor("the second rating to show as recorded, the refusal gone", js(`!!document.querySelector(%s) && !document.querySelector(%s)`,
		answerSel(ask.ID)+" .rated", answerSel(ask.ID)+" .error"))

	// An error renders in the conversation, as text; "any author" omits the author.
	b.do(
		pickAuthor(""),
		chromedp.SendKeys(chromedp.CSS("#question"), "Will this fail?"+kb.Enter),
	)
	ask2 := peer.next(t, "ask")
	if ask2.Author != nil {
		t.Errorf("ask for any author carried author %q, want it omitted", *ask2.Author)
	}
	peer.send(t, map[string]any{"type": "error", "id": ask2.ID, "code": "unavailable", "message": "<img src=x onerror=window.pwned=1>model busy"})
	b.waitFor("the error to show, markup as text", js(
		`(e => e && e.textContent.includes('cannot answer right now') && e.textContent.includes('<img src=x') && !e.querySelector('img') && !window.pwned)(document.querySelector(%s))`,
		answerSel(ask2.ID)+" .error"))

	// The socket drops mid-answer; the page reconnects and resumes after the
	// last seq it saw, and the answer has every word exactly once.
	b.do(chromedp.SendKeys(chromedp.CSS("#question"), "Count to five."+kb.Enter))
	ask3 := peer.next(t, "ask")
	peer.tokens(t, ask3.ID, 1, "one ", "two ", "three ")
	b.waitText(ask3.ID, "one two three ")
	peer.holdHandshakes()
	peer.drop(t)
	b.waitFor("the status to say reconnecting", `document.querySelector('#status').textContent === 'reconnecting…'`)
	peer.releaseHandshakes()
	resume := peer.next(t, "resume")
	if resume.ID != ask3.ID || resume.After == nil || *resume.After != 3 {
		t.Fatalf("resume = id %q after %v, want id %q after 3", resume.ID, deref(resume.After), ask3.ID)
	}
	b.waitFor("the status to say connected again", `document.querySelector('#status').textContent === 'connected'`)
	peer.tokens(t, ask3.ID, 4, "four ", "five.")
	b.waitText(ask3.ID, "one two three four five.")
	peer.send(t, map[string]any{"type": "done", "id": ask3.ID, "answer": "one two three four five.", "sources": []any{}, "trace_id": "trace-3"})
	b.waitFor("the resumed answer to finish", js(`!!document.querySelector(%s)`, answerSel(ask3.ID)+" .rate-down"))

	// With the socket down, a rating goes by POST /v1/feedback.
	peer.holdHandshakes()
	peer.drop(t)
	b.waitFor("the status to say reconnecting", `document.querySelector('#status').textContent === 'reconnecting…'`)
	b.do(chromedp.Click(chromedp.CSS(answerSel(ask3.ID) + " .rate-down")))
	select {
	case post := <-peer.posted:
		if post.RequestID != ask3.ID || post.Rating != -1 || post.Comment == nil {
			t.Errorf("POST /v1/feedback = %+v, want request_id %q, rating -1 and a comment", post, ask3.ID)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the page posted no feedback while the socket was down")
	}
	b.waitFor("the posted rating to show as recorded", js(`!!document.querySelector(%s)`, answerSel(ask3.ID)+" .rated"))
	peer.releaseHandshakes()
	b.waitFor("the status to say connected again", `document.querySelector('#status').textContent === 'connected'`)

	// On a phone the page lays out at the phone's width (the viewport meta)
	// and nothing, not even a long source link, scrolls sideways.
	b.do(chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile, chromedp.EmulateTouch))
	b.waitFor("a 360px layout with no sideways scrolling and the send button on screen", `window.innerWidth === 360 &&
		document.documentElement.scrollWidth <= 360 &&
		document.querySelector('#send').getBoundingClientRect().right <= 360`)
	if shot := os.Getenv("TWIN_WEB_SCREENSHOT"); shot != "" {
		png := screenshot(b)
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.clean()
}

func TestChatPageJudgesEachCitedSource(t *testing.T) {
	peer, b := openChat(t)
	b.do(chromedp.SendKeys(chromedp.CSS("#question"), "Where do changes go?"+kb.Enter))
	ask := peer.next(t, "ask")
	peer.send(t, map[string]any{
		"type": "done", "id": ask.ID, "answer": "To JetStream.", "trace_id": "trace-1",
		"sources": []map[string]any{
			{"document_id": "d1", "title": "CDC in twin", "link": "https://example.com/cdc"},
			{"document_id": "d2", "title": "<img src=x onerror=window.pwned=1>Streams"},
			{"title": "a source without an id"},
		},
	})
	src := func(doc, rest string) string {
		return answerSel(ask.ID) + ` .sources li:nth-child(` + map[string]string{"d1": "1", "d2": "2", "none": "3"}[doc] + `) ` + rest
	}
	b.waitFor("a link to how the answer was made", js(`(a => a && a.getAttribute('href') === 'traces#trace-1')(document.querySelector(%s))`,
		answerSel(ask.ID)+" .rating a.trace-link"))
	b.waitFor("helpful and not helpful on each source with an id, none on the other", js(
		`document.querySelectorAll(%s).length === 4 && !document.querySelector(%s) && document.querySelector(%s).getAttribute('aria-label').includes('<img') && !window.pwned`,
		answerSel(ask.ID)+" .judge button", src("none", ".judge"), src("d2", ".judge")))

	judgment := func(want clientFrame) {
		t.Helper()
		got := peer.next(t, "feedback")
		if got.ID != want.ID || got.DocumentID != want.DocumentID || got.Helpful == nil || *got.Helpful != *want.Helpful ||
			got.Query != "Where do changes go?" || got.Rating != 0 {
			t.Errorf("judgment frame = %+v (helpful %v), want %+v (helpful %v) with the question and no rating", got, deref(got.Helpful), want, deref(want.Helpful))
		}
	}
	yes, no := true, false

	// Over the socket: helpful, then a change of mind.
	b.do(chromedp.Click(chromedp.CSS(src("d1", ".judge-yes"))))
	judgment(clientFrame{ID: ask.ID, DocumentID: "d1", Helpful: &yes})
	b.waitFor("helpful to show pressed and thanked", js(`document.querySelector(%s).getAttribute('aria-pressed') === 'true' && !!document.querySelector(%s)`,
		src("d1", ".judge-yes"), src("d1", ".judged")))
	b.do(chromedp.Click(chromedp.CSS(src("d1", ".judge-yes")))) // pressed already: nothing is sent
	b.do(chromedp.Click(chromedp.CSS(src("d1", ".judge-no"))))
	judgment(clientFrame{ID: ask.ID, DocumentID: "d1", Helpful: &no})
	b.waitFor("not helpful pressed, helpful released", js(`document.querySelector(%s).getAttribute('aria-pressed') === 'true' && document.querySelector(%s).getAttribute('aria-pressed') === 'false'`,
		src("d1", ".judge-no"), src("d1", ".judge-yes")))

	// A judgment the gateway refuses says so at its source, and may be given again.
	b.do(chromedp.Click(chromedp.CSS(src("d2", ".judge-no"))))
	judgment(clientFrame{ID: ask.ID, DocumentID: "d2", Helpful: &no})
	peer.send(t, map[string]any{"type": "error", "id": ask.ID, "code": "bad_request", "for": "feedback", "document_id": "d2",
		"message": "<b>the document is not a source</b>"})
	b.waitFor("the refusal at the second source, as text, its buttons released", js(
		`(e => e && e.textContent.includes('not recorded') && e.textContent.includes('<b>') && !e.querySelector('b'))(document.querySelector(%s)) &&
		document.querySelector(%s).getAttribute('aria-pressed') === 'false' && !document.querySelector(%s)`,
		src("d2", ".error"), src("d2", ".judge-no"), src("d2", ".judged")))
	b.waitFor("the answer's own rating untouched", js(`!document.querySelector(%s)`, answerSel(ask.ID)+" .rating .error"))

	// With the socket down, a judgment goes by POST /v1/feedback.
	peer.holdHandshakes()
	peer.drop(t)
	b.waitFor("the status to say reconnecting", `document.querySelector('#status').textContent === 'reconnecting…'`)
	b.do(chromedp.Click(chromedp.CSS(src("d2", ".judge-yes"))))
	select {
	case post := <-peer.posted:
		if post.RequestID != ask.ID || post.DocumentID != "d2" || post.Helpful == nil || !*post.Helpful || post.Query != "Where do changes go?" || post.Rating != 0 {
			t.Errorf("POST /v1/feedback = %+v, want request %q, document d2, helpful, the question, no rating", post, ask.ID)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the page posted no judgment while the socket was down")
	}
	b.waitFor("the posted judgment to show as recorded, the refusal gone", js(`!!document.querySelector(%s) && !document.querySelector(%s)`,
		src("d2", ".judged"), src("d2", ".error")))
	peer.releaseHandshakes()
	b.waitFor("the status to say connected again", `document.querySelector('#status').textContent === 'connected'`)
	b.clean()
}

func TestChatPageSaysATokenIsNeededOn401(t *testing.T) {
	peer := newChatPeer(t)
	srv := httptest.NewServer(peer.routes())
	t.Cleanup(srv.Close)
	b := startBrowser(t)

	b.do(chromedp.Navigate(srv.URL + "/"))
	b.waitFor("the status to ask for a token", `document.querySelector('#status').textContent === 'access token needed'`)
	b.waitFor("a notice that explains how to pass the token", `[...document.querySelectorAll('.notice')].some(n => n.textContent.includes('?access_token='))`)
	b.waitFor("the author picker to stay hidden", `document.querySelector('#picker').hidden`)
	b.do(chromedp.SendKeys(chromedp.CSS("#question"), "Anyone there?"+kb.Enter))
	b.waitFor("a question asked without a token to fail at once, saying why",
		`[...document.querySelectorAll('.answer .error')].some(e => e.textContent.includes('access token'))`)
	b.clean("status of 401", "HTTP Authentication failed")
}

// ---- the browser ----

type browser struct {
	t   *testing.T
	ctx context.Context

	mu         sync.Mutex // guards exceptions and logs
	exceptions []string
	logs       []string
}

// servePages serves the web pages with a fake chat peer behind them and
// starts a browser; base is the pages' address.
func servePages(t *testing.T) (peer *chatPeer, b *browser, base string) {
	t.Helper()
	peer = newChatPeer(t)
	srv := httptest.NewServer(peer.routes())
	t.Cleanup(srv.Close)
	return peer, startBrowser(t), srv.URL
}

// openChat opens the chat page of servePages and waits until it is
// connected.
func openChat(t *testing.T) (*chatPeer, *browser) {
	t.Helper()
	peer, b, base := servePages(t)
	b.do(chromedp.Navigate(base + "/?access_token=" + testToken))
	b.waitFor("the status to say connected", `document.querySelector('#status').textContent === 'connected'`)
	return peer, b
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	tab := browsertest.Start(t, 60*time.Second)

	b := &browser{t: t, ctx: tab}
	// Subscribing starts the browser, so the page's first script already
	// reports its exceptions.
	exceptions := chromedp.Events(tab, runtime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			msg := ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
			b.mu.Lock()
			b.exceptions = append(b.exceptions, msg)
			b.mu.Unlock()
		}
	}()
	logs := chromedp.Events(tab, log.EntryAdded)
	if _, err := chromedp.Call(tab, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("start %s: %v", browsertest.Chromium, err)
	}
	go func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			if ev.Entry.Level != log.EntryLevelError {
				continue
			}
			b.mu.Lock()
			b.logs = append(b.logs, fmt.Sprintf("%s: %s", ev.Entry.Source, ev.Entry.Text))
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 2*waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v\npage now: %s", err, b.snapshot())
	}
}

// waitFor waits until the JavaScript expression is truthy in the page.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(waitTimeout)))
	if err != nil {
		b.t.Fatalf("waited %s for %s: %v\npage now: %s", waitTimeout, what, err, b.snapshot())
	}
}

// waitText waits until an answer's text is exactly want: a lost or repeated
// token makes it differ.
func (b *browser) waitText(id, want string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("answer %s to read %q", id, want),
		js(`(e => e && e.textContent === %s)(document.querySelector(%s))`, want, answerSel(id)+" .text"))
}

func evaluate[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func screenshot(b *browser) []byte {
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	return png
}

// snapshot describes the page for a failure message.
func (b *browser) snapshot() string {
	ctx, cancel := context.WithTimeout(b.ctx, time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		status: document.querySelector('#status')?.textContent,
		answers: [...document.querySelectorAll('.answer')].map(a => ({id: a.dataset.id, busy: a.getAttribute('aria-busy'), text: a.textContent})),
		notices: [...document.querySelectorAll('.notice')].map(n => n.textContent)})`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// clean fails the test for every exception the page threw and every error
// the browser logged (a Content-Security-Policy refusal, a missing asset),
// except the logged errors that contain one of expected.
func (b *browser) clean(expected ...string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.exceptions {
		b.t.Errorf("the page threw: %s", e)
	}
next:
	for _, e := range b.logs {
		for _, x := range expected {
			if strings.Contains(e, x) {
				continue next
			}
		}
		b.t.Errorf("the browser logged: %s", e)
	}
}

// js formats JavaScript with each argument as a JSON literal, so test
// strings are quoted the way JavaScript reads them.
func js(format string, args ...any) string {
	lits := make([]any, len(args))
	for i, a := range args {
		raw, err := json.Marshal(a)
		if err != nil {
			panic(err)
		}
		lits[i] = string(raw)
	}
	return fmt.Sprintf(format, lits...)
}

// pickAuthor chooses an author as a user does: the select changes and says so.
func pickAuthor(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](js(`(s => {
		s.value = %s;
		if (s.value !== %s) throw new Error('no author option ' + %s);
		s.dispatchEvent(new Event('change', {bubbles: true}));
	})(document.querySelector('#author'))`, id, id, id))
}

func answerSel(id string) string { return `.answer[data-id="` + id + `"]` }

func deref[T any](p *T) any {
	if p == nil {
		return "<absent>"
	}
	return *p
}

// ---- the protocol peer ----

// clientFrame is any frame the page sends; pointers tell absent from zero.
type clientFrame struct {
	Type   string  `json:"type"`
	ID     string  `json:"id"`
	Query  string  `json:"query"`
	Author *string `json:"author"`
	After  *int    `json:"after"`
	Rating int     `json:"rating"`
	// DocumentID and Helpful: a judgment of one source.
	DocumentID string `json:"document_id"`
	Helpful    *bool  `json:"helpful"`
}

type feedbackPost struct {
	RequestID  string  `json:"request_id"`
	Rating     int     `json:"rating"`
	Comment    *string `json:"comment"`
	DocumentID string  `json:"document_id"`
	Helpful    *bool   `json:"helpful"`
	Query      string  `json:"query"`
}

// chatPeer plays the gateway for the page: it serves Handler, /v1/authors,
// POST /v1/feedback and a /v1/chat WebSocket, all behind testToken. It sends
// only what the test tells it to, so the test decides every interleaving.
type chatPeer struct {
	frames chan clientFrame  // every frame the page sent, in order, over any socket
	posted chan feedbackPost // every POST /v1/feedback
	listed chan url.Values   // the query of every GET /v1/traces

	mu   sync.Mutex      // guards conn and gate
	conn *websocket.Conn // the page's current socket
	gate chan struct{}   // while not nil, handshakes wait until it is closed
}

func newChatPeer(t *testing.T) *chatPeer {
	p := &chatPeer{frames: make(chan clientFrame, 64), posted: make(chan feedbackPost, 8), listed: make(chan url.Values, 16)}
	// Let a held handshake finish so the server can close.
	t.Cleanup(p.releaseHandshakes)
	return p
}

func (p *chatPeer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.HandleFunc("GET /v1/authors", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"authors":[{"id":"a1","name":"Ada Lovelace"},{"id":"a2","name":"Grace Hopper"}]}`))
	})
	mux.HandleFunc("POST /v1/feedback", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		var fb feedbackPost
		if err := json.NewDecoder(r.Body).Decode(&fb); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.posted <- fb
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /v1/chat", p.chat)
	mux.HandleFunc("GET /v1/traces", p.traceList)
	mux.HandleFunc("GET /v1/traces/{id}", p.trace)
	return mux
}

func (p *chatPeer) chat(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("access_token") != testToken {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.conn = conn
	p.mu.Unlock()
	defer conn.CloseNow()
	for {
		var f clientFrame
		if err := wsjson.Read(r.Context(), conn, &f); err != nil {
			return
		}
		p.frames <- f
	}
}

// next returns the next frame the page sent, which must be of type want.
func (p *chatPeer) next(t *testing.T, want string) clientFrame {
	t.Helper()
	select {
	case f := <-p.frames:
		if f.Type != want {
			t.Fatalf("the page sent a %q frame (%+v), want %q", f.Type, f, want)
		}
		return f
	case <-time.After(waitTimeout):
		t.Fatalf("the page sent no %q frame within %s", want, waitTimeout)
		return clientFrame{}
	}
}

func (p *chatPeer) send(t *testing.T, frame any) {
	t.Helper()
	p.mu.Lock()
	conn := p.conn
	p.mu.Unlock()
	if conn == nil {
		t.Fatal("no socket to send on")
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := wsjson.Write(ctx, conn, frame); err != nil {
		t.Fatalf("send %v: %v", frame, err)
	}
}

// tokens sends texts as tokens numbered from seq.
func (p *chatPeer) tokens(t *testing.T, id string, seq int, texts ...string) {
	t.Helper()
	for i, text := range texts {
		p.send(t, map[string]any{"type": "token", "id": id, "seq": seq + i, "text": text})
	}
}

// drop cuts the socket with no close frame, as a lost network does.
func (p *chatPeer) drop(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	conn := p.conn
	p.conn = nil
	p.mu.Unlock()
	if conn == nil {
		t.Fatal("no socket to drop")
	}
	_ = conn.CloseNow()
}

// holdHandshakes keeps the page's next connections waiting, so the test can
// see the page reconnecting.
func (p *chatPeer) holdHandshakes() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate == nil {
		p.gate = make(chan struct{})
	}
}

func (p *chatPeer) releaseHandshakes() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
}
