package web

import (
	"bytes"
	"context"
	"net/url"
	"strings"

	"github.com/mmcdole/gofeed"

	"github.com/twin-llm/twin/consumers/crawler/extract"
	"github.com/twin-llm/twin/internal/urlnorm"
	"github.com/twin-llm/twin/schemas"
)

// feedDocuments fetches an RSS or Atom feed and turns its items into
// documents of kind from platform. With only set, it keeps the one item
// whose link normalizes to it.
func feedDocuments(ctx context.Context, f Fetcher, feedURL, only, kind, platform string) ([]schemas.CrawledDocument, error) {
	resp, err := f.Get(ctx, feedURL)
	if err != nil {
		return nil, err
	}
	feed, err := gofeed.NewParser().Parse(bytes.NewReader(resp.Body))
	if err != nil {
		return nil, refuse("%s is not a readable feed: %v", feedURL, err)
	}
	var docs []schemas.CrawledDocument
	for _, item := range feed.Items {
		link := item.Link
		if norm, err := urlnorm.Normalize(link, urlnorm.Options{}); err == nil {
			link = norm
		}
		if only != "" {
			if stripQuery(link) != stripQuery(only) {
				continue
			}
			link = only // the document is the page that was asked for
		}
		html := item.Content
		if html == "" {
			html = item.Description
		}
		if strings.TrimSpace(html) == "" {
			continue
		}
		res, err := extract.Extract(ctx, []byte("<html><body><article>"+html+"</article></body></html>"), extract.Options{URL: link})
		if err != nil {
			continue // an item without text is skipped, not fatal for the feed
		}
		doc := schemas.CrawledDocument{
			Kind: kind, Platform: platform, URL: link,
			Title: item.Title, Content: res.Text, Language: res.Language, SiteName: feed.Title,
			Metadata: map[string]string{"via": "feed", "feed_url": feedURL},
		}
		if item.Author != nil {
			doc.Author = item.Author.Name
		} else if len(item.Authors) > 0 && item.Authors[0] != nil {
			doc.Author = item.Authors[0].Name
		}
		if item.PublishedParsed != nil {
			doc.PublishedAt = item.PublishedParsed.UTC()
		}
		docs = append(docs, doc)
	}
	if len(docs) == 0 {
		if only != "" {
			return nil, refuse("%s is not in the feed %s", only, feedURL)
		}
		return nil, refuse("the feed %s has no items with text", feedURL)
	}
	return docs, nil
}

// stripQuery drops the query: feeds add tracking parameters (Medium's
// ?source=rss...) that the page URL does not have.
func stripQuery(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	u.RawQuery = ""
	return strings.TrimSuffix(u.String(), "/")
}
