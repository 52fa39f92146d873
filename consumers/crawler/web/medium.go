package web

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/twin-llm/twin/schemas"
)

// Medium crawls Medium articles. Medium often answers crawlers with a bot
// challenge; then the article comes from the author's RSS feed
// (/feed/@user), which carries the full text of recent posts. A profile or
// feed URL gives every post of the feed.
type Medium struct {
	fetch Fetcher
}

// NewMedium returns the Medium source.
func NewMedium(f Fetcher) *Medium { return &Medium{fetch: f} }

// Name implements Source.
func (m *Medium) Name() string { return "medium" }

// Match implements Source: medium.com and its user subdomains.
func (m *Medium) Match(u *url.URL) bool {
	h := strings.ToLower(u.Hostname())
	return h == "medium.com" || strings.HasSuffix(h, ".medium.com")
}

// Crawl implements Source.
func (m *Medium) Crawl(ctx context.Context, rawURL, _ string) ([]schemas.CrawledDocument, error) {
	u, _ := url.Parse(rawURL)
	feedURL, isFeedOrProfile := mediumFeed(u)
	if isFeedOrProfile {
		docs, err := feedDocuments(ctx, m.fetch, feedURL, "", schemas.KindArticle, "medium")
		for i := range docs {
			// Medium's feed links carry ?source=rss-... tracking; its
			// article URLs never need a query.
			docs[i].URL = stripQuery(docs[i].URL)
		}
		return docs, err
	}
	resp, err := m.fetch.Get(ctx, rawURL)
	if err == nil {
		doc, perr := pageDocument(ctx, resp, schemas.KindArticle, "medium")
		if perr == nil {
			doc.URL = rawURL
			return []schemas.CrawledDocument{doc}, nil
		}
		if !errors.Is(perr, ErrChallenge) {
			return nil, perr
		}
		err = perr
	}
	// Blocked (a challenge page, or 403/429 and the like): the feed.
	if feedURL == "" {
		return nil, err
	}
	docs, ferr := feedDocuments(ctx, m.fetch, feedURL, rawURL, schemas.KindArticle, "medium")
	if ferr != nil {
		return nil, errors.Join(err, ferr)
	}
	return docs, nil
}

// mediumFeed returns the author feed for a Medium URL, and whether the URL
// is itself a feed or a profile (so every post is wanted).
//
//	https://medium.com/@ann/slug-123   → https://medium.com/feed/@ann, false
//	https://medium.com/@ann            → https://medium.com/feed/@ann, true
//	https://ann.medium.com/slug-123    → https://medium.com/feed/@ann, false
//	https://medium.com/feed/@ann       → itself, true
//	https://medium.com/publication/x   → https://medium.com/feed/publication, false
func mediumFeed(u *url.URL) (feed string, all bool) {
	host := strings.ToLower(u.Hostname())
	base := u.Scheme + "://" + u.Host
	parts := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	if host != "medium.com" {
		user := strings.TrimSuffix(host, ".medium.com")
		mainHost := strings.TrimPrefix(u.Host, user+".")
		return u.Scheme + "://" + mainHost + "/feed/@" + user, len(parts) == 0
	}
	switch {
	case len(parts) == 0:
		return "", false
	case parts[0] == "feed":
		return u.String(), true
	default:
		return base + "/feed/" + parts[0], len(parts) == 1
	}
}
