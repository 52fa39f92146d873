package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/twin-llm/twin/consumers/crawler/fetch"
	"github.com/twin-llm/twin/internal/urlnorm"
	"github.com/twin-llm/twin/schemas"
)

// Substack crawls Substack posts (/p/slug) and archives (the publication's
// home or /archive): an archive is listed through Substack's archive API,
// page by page, and each post crawled as a page; when the API does not
// answer, the publication's RSS feed stands in.
type Substack struct {
	fetch    Fetcher
	maxPosts int
}

// NewSubstack returns the Substack source; an archive gives at most
// maxPosts posts (0: 200).
func NewSubstack(f Fetcher, maxPosts int) *Substack {
	if maxPosts <= 0 {
		maxPosts = 200
	}
	return &Substack{fetch: f, maxPosts: maxPosts}
}

// Name implements Source.
func (s *Substack) Name() string { return "substack" }

// Match implements Source: *.substack.com.
func (s *Substack) Match(u *url.URL) bool {
	return strings.HasSuffix(strings.ToLower(u.Hostname()), ".substack.com")
}

// Crawl implements Source.
func (s *Substack) Crawl(ctx context.Context, rawURL, _ string) ([]schemas.CrawledDocument, error) {
	u, _ := url.Parse(rawURL)
	if strings.HasPrefix(u.Path, "/p/") {
		doc, err := s.post(ctx, rawURL)
		if err != nil {
			return nil, err
		}
		return []schemas.CrawledDocument{doc}, nil
	}
	if u.Path != "/" && u.Path != "" && strings.TrimSuffix(u.Path, "/") != "/archive" {
		return nil, refuse("%s is neither a Substack post (/p/...) nor an archive", rawURL)
	}
	base := u.Scheme + "://" + u.Host
	posts, err := s.archive(ctx, base)
	if err != nil || len(posts) == 0 {
		return feedDocuments(ctx, s.fetch, base+"/feed", "", schemas.KindPost, "substack")
	}
	docs := make([]schemas.CrawledDocument, 0, len(posts))
	for _, p := range posts {
		doc, err := s.post(ctx, p)
		if err != nil {
			// One missing post does not fail the archive; a transient error
			// does, so the whole archive is retried.
			if ctx.Err() != nil || !fetch.IsPermanent(err) {
				return nil, err
			}
			continue
		}
		docs = append(docs, doc)
	}
	return docs, nil
}

func (s *Substack) post(ctx context.Context, postURL string) (schemas.CrawledDocument, error) {
	resp, err := s.fetch.Get(ctx, postURL)
	if err != nil {
		return schemas.CrawledDocument{}, err
	}
	doc, err := pageDocument(ctx, resp, schemas.KindPost, "substack")
	if err != nil {
		return doc, err
	}
	doc.URL = postURL
	return doc, nil
}

// archiveEntry is the part of Substack's archive API answer twin reads.
type archiveEntry struct {
	CanonicalURL string `json:"canonical_url"`
	Slug         string `json:"slug"`
	Audience     string `json:"audience"` // "everyone" or "only_paid"
}

// archive lists post URLs through /api/v1/archive, newest first.
func (s *Substack) archive(ctx context.Context, base string) ([]string, error) {
	const page = 50
	var out []string
	for offset := 0; len(out) < s.maxPosts; offset += page {
		resp, err := s.fetch.Get(ctx, fmt.Sprintf("%s/api/v1/archive?sort=new&offset=%d&limit=%d", base, offset, page))
		if err != nil {
			return out, err
		}
		var entries []archiveEntry
		if err := json.Unmarshal(resp.Body, &entries); err != nil {
			return out, fmt.Errorf("substack archive: %w", err)
		}
		for _, e := range entries {
			if e.Audience == "only_paid" {
				continue // behind the paywall: the page would be a teaser
			}
			link := e.CanonicalURL
			if link == "" && e.Slug != "" {
				link = base + "/p/" + e.Slug
			}
			if norm, err := urlnorm.Normalize(link, urlnorm.Options{}); err == nil && len(out) < s.maxPosts {
				out = append(out, norm)
			}
		}
		if len(entries) < page {
			break
		}
	}
	return out, nil
}
