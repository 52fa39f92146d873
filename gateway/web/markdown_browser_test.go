package web

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// markdownAnswer is an answer whose quoted documents try every way into
// the page that markdown offers: raw HTML, a script, an image with an
// onerror handler, javascript: and data: links, HTML inside code.
var markdownAnswer = "Here is what I wrote about this in “Streams”:\n\n" +
	"# Consumers\n\n" +
	"Durable consumers **resume** where they stopped, see [the docs](https://example.com/docs) [1].\n\n" +
	"Two settings matter [2]:\n\n" +
	"- `AckWait`, for slow handlers.\n" +
	"- *MaxDeliver*, before the DLQ.\n\n" +
	"Run it like this [1]:\n\n" +
	"```sh\nnats consumer add <script>window.pwned=1</script> --pull\necho \"" + longLine + "\"\n```\n\n" +
	"<script>window.pwned=1</script> <img src=x onerror=window.pwned=1> ![x](https://example.com/x.png)\n\n" +
	"[click](javascript:window.pwned=1) [data](data:text/html,<script>window.pwned=1</script>) <a href=\"javascript:window.pwned=1\">raw</a> [3].\n"

var longLine = strings.Repeat("a-very-long-word ", 20)

func TestChatPageRendersMarkdownAnswersSafely(t *testing.T) {
	peer, b := openChat(t)
	b.do(chromedp.SendKeys(chromedp.CSS("#question"), "How do consumers resume?"+kb.Enter))
	ask := peer.next(t, "ask")
	text := answerSel(ask.ID) + " .text"

	// Streamed in pieces that cut the code fence and the bold in two: the
	// page renders what it has, and the whole once it has it.
	cut := strings.Index(markdownAnswer, "```sh") + 4
	peer.tokens(t, ask.ID, 1, markdownAnswer[:cut], markdownAnswer[cut:])
	b.waitFor("the streamed code block", js(`(e => e && e.textContent.includes('window.pwned=1</script> --pull'))(document.querySelector(%s))`, text+" pre code"))
	b.waitFor("citations as plain marks before the sources are known", js(
		`document.querySelectorAll(%s).length === 4 && !document.querySelector(%s)`, text+" span.cite", text+" a.cite"))

	peer.send(t, map[string]any{
		"type": "done", "id": ask.ID, "answer": markdownAnswer, "trace_id": "trace-1",
		"sources": []map[string]any{
			{"document_id": "d1", "title": "Streams", "link": "https://example.com/streams"},
			{"document_id": "d2", "title": "Consumers", "link": "https://example.com/consumers"},
			{"document_id": "d3", "title": "Evil", "link": "javascript:window.pwned=1"},
		},
	})
	b.waitFor("the sources", js(`!!document.querySelector(%s)`, answerSel(ask.ID)+" .sources"))

	type shape struct {
		Lead, Heading, Bold, Code, CodeLang, Image, Quote string
		Paragraphs, Items, Scripts, Images, Emphasis      int
		Links, Cites                                      []string
		CiteTitles                                        []string
		Pwned, Scrolls                                    bool
	}
	got := evaluate[shape](b, js(`(t => ({
		lead: t.querySelector('p').textContent,
		heading: (t.querySelector('h3') || {}).textContent,
		bold: (t.querySelector('p strong') || {}).textContent,
		code: (t.querySelector('pre code') || {}).textContent,
		codeLang: (t.querySelector('pre code') || {dataset: {}}).dataset.lang,
		paragraphs: t.querySelectorAll('p').length,
		items: t.querySelectorAll('ul > li').length,
		emphasis: t.querySelectorAll('li code, li em').length,
		scripts: t.querySelectorAll('script').length + document.querySelectorAll('script:not([src])').length,
		images: t.querySelectorAll('img, iframe, object').length,
		links: [...t.querySelectorAll('a:not(.cite)')].map(a => a.getAttribute('href')),
		cites: [...t.querySelectorAll('.cite')].map(c => c.tagName + ' ' + (c.getAttribute('href') || '') + ' ' + c.textContent),
		citeTitles: [...t.querySelectorAll('a.cite')].map(c => c.title),
		pwned: !!window.pwned,
		scrolls: document.documentElement.scrollWidth > window.innerWidth,
	}))(document.querySelector(%s))`, text))

	if got.Lead != "Here is what I wrote about this in “Streams”:" || got.Heading != "Consumers" || got.Bold != "resume" {
		t.Errorf("lead %q, heading %q, bold %q: want the lead as a paragraph, # Consumers as a heading, **resume** bold", got.Lead, got.Heading, got.Bold)
	}
	if got.Items != 2 || got.Emphasis != 2 {
		t.Errorf("%d list items with %d code spans or emphasis, want 2 and 2", got.Items, got.Emphasis)
	}
	if !strings.HasPrefix(got.Code, "nats consumer add <script>window.pwned=1</script> --pull\necho") || got.CodeLang != "sh" {
		t.Errorf("code block %q (lang %q), want the code as text with its line break, lang sh", got.Code, got.CodeLang)
	}
	if got.Scripts != 0 || got.Images != 0 || got.Pwned {
		t.Errorf("%d scripts, %d images, pwned %v: want the document's HTML shown as text, nothing run or loaded", got.Scripts, got.Images, got.Pwned)
	}
	if len(got.Links) != 1 || got.Links[0] != "https://example.com/docs" {
		t.Errorf("links %q, want only the https one: javascript:, data: and raw <a> links stay text", got.Links)
	}
	wantCites := []string{"A https://example.com/streams [1]", "A https://example.com/consumers [2]", "A https://example.com/streams [1]", "SPAN  [3]"}
	if strings.Join(got.Cites, "|") != strings.Join(wantCites, "|") {
		t.Errorf("citations %q, want %q: each links to its source, none to a javascript: one", got.Cites, wantCites)
	}
	if len(got.CiteTitles) > 0 && got.CiteTitles[0] != "Streams" {
		t.Errorf("citation titles %q, want the source's title", got.CiteTitles)
	}
	if got.Scrolls {
		t.Error("a long code line makes the page scroll sideways; it should scroll inside its block")
	}
	b.waitFor("the raw HTML shown as text", js(`(t => t.textContent.includes('<img src=x onerror=window.pwned=1>') && t.textContent.includes('<script>window.pwned=1</script>'))(document.querySelector(%s))`, text))

	// An unknown author is said in plain words, with the names there are.
	b.do(chromedp.SendKeys(chromedp.CSS("#question"), "And you, Simon W?"+kb.Enter))
	ask2 := peer.next(t, "ask")
	msg := `no author named "Simon W"; the only author is Simon Willison`
	peer.send(t, map[string]any{"type": "error", "id": ask2.ID, "code": "unknown_author", "message": msg, "for": "ask"})
	b.waitFor("the unknown author to be named with the known ones", js(
		`(e => e && e.textContent.includes('no such author') && e.textContent.includes(%s))(document.querySelector(%s))`,
		msg, answerSel(ask2.ID)+" .error"))
	b.clean()
}
