// Package web holds the crawler's sources that read the public web: any
// article page (main-content extraction), Medium and Substack through their
// feeds and archives, and the walled platforms it refuses with a reason.
// Each is a crawler.Source; the crawler picks one by URL.
package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"

	"github.com/twin-llm/twin/consumers/crawler/extract"
	"github.com/twin-llm/twin/consumers/crawler/fetch"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Fetcher gets pages; *fetch.Fetcher is the real one.
type Fetcher interface {
	Get(ctx context.Context, url string) (*fetch.Response, error)
}

// Page crawls any article or blog page: main-content extraction of HTML,
// plain text and markdown as they are.
type Page struct {
	fetch Fetcher
}

// NewPage returns the generic article source.
func NewPage(f Fetcher) *Page { return &Page{fetch: f} }

// Name implements Source.
func (w *Page) Name() string { return "web" }

// Match implements Source: every http and https URL.
func (w *Page) Match(u *url.URL) bool { return u.Scheme == "http" || u.Scheme == "https" }

// Crawl implements Source.
func (w *Page) Crawl(ctx context.Context, rawURL, _ string) ([]schemas.CrawledDocument, error) {
	resp, err := w.fetch.Get(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	doc, err := pageDocument(ctx, resp, schemas.KindArticle, "web")
	if err != nil {
		return nil, err
	}
	doc.URL = rawURL
	return []schemas.CrawledDocument{doc}, nil
}

// pageDocument turns a fetched page into a document of kind from platform,
// refusing bot-challenge pages.
func pageDocument(ctx context.Context, resp *fetch.Response, kind, platform string) (schemas.CrawledDocument, error) {
	if isChallenge(resp) {
		return schemas.CrawledDocument{}, ErrChallenge
	}
	mediaType, _, _ := mime.ParseMediaType(resp.ContentType)
	doc := schemas.CrawledDocument{Kind: kind, Platform: platform, URL: resp.URL}
	if resp.URL != "" {
		doc.Metadata = map[string]string{"final_url": resp.URL}
	}
	switch mediaType {
	case "text/plain", "text/markdown", "text/x-markdown":
		text := strings.TrimSpace(string(resp.Body))
		if text == "" {
			return doc, refuse("%s: empty document", resp.URL)
		}
		doc.Content = text
		doc.Title = firstLine(text)
		return doc, nil
	}
	res, err := extract.Extract(ctx, resp.Body, extract.Options{URL: resp.URL, ContentType: resp.ContentType})
	if errors.Is(err, extract.ErrNoContent) {
		return doc, refuse("%s: no main content found", resp.URL)
	}
	if err != nil {
		return doc, refuse("%s: extract: %v", resp.URL, err)
	}
	doc.Title, doc.Author, doc.Content = res.Title, res.Author, res.Text
	doc.Language, doc.SiteName, doc.Description = res.Language, res.SiteName, res.Description
	if !res.Date.IsZero() {
		doc.PublishedAt = res.Date.UTC()
	}
	return doc, nil
}

// firstLine is a plain-text document's title: its first non-empty line,
// without markdown heading marks.
func firstLine(text string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if line = strings.TrimSpace(strings.TrimLeft(line, "# ")); line != "" {
			if len(line) > 200 {
				line = line[:200]
			}
			return line
		}
	}
	return ""
}

// ErrChallenge is a bot-challenge page (Cloudflare and the like) served
// instead of the content. It is never stored, and retrying will not pass
// the challenge either.
var ErrChallenge = fmt.Errorf("%w: the site answered with a bot challenge instead of the page", streams.ErrPermanent)

// challengeMarks are phrases of interstitial pages that stand between a
// crawler and the content. They are checked on small pages only: a real
// article may mention them.
var challengeMarks = [][]byte{
	[]byte("<title>Just a moment...</title>"),
	[]byte("cf-browser-verification"),
	[]byte("challenge-platform"),
	[]byte("cf_chl_opt"),
	[]byte("Enable JavaScript and cookies to continue"),
	[]byte("Checking if the site connection is secure"),
	[]byte("Attention Required! | Cloudflare"),
	[]byte("px-captcha"),
	[]byte("_Incapsula_Resource"),
	[]byte("DDoS protection by"),
}

// isChallenge detects a bot-challenge page by Cloudflare's header, or by
// the marks of the common challenge pages on a small page.
func isChallenge(resp *fetch.Response) bool {
	if resp.Header != nil && resp.Header.Get("Cf-Mitigated") == "challenge" {
		return true
	}
	if len(resp.Body) > 256<<10 {
		return false
	}
	for _, m := range challengeMarks {
		if bytes.Contains(resp.Body, m) {
			return true
		}
	}
	return false
}

// refuse returns a crawl failure that no retry can fix: the URL is
// refused, not a document, or gone.
func refuse(format string, args ...any) error {
	return streams.Permanent(fmt.Errorf(format, args...))
}
