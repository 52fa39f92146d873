package web

import (
	"context"
	"net/url"
	"strings"

	"github.com/twin-llm/twin/schemas"
)

// Walled refuses sites whose content sits behind a login: crawling them
// would need an account and break their terms, and what a crawler sees is
// a login page.
type Walled struct{}

// walledHosts are registrable domains that require a login to read.
var walledHosts = []string{
	"linkedin.com", "lnkd.in", "facebook.com", "fb.com", "instagram.com",
	"x.com", "twitter.com", "threads.net", "tiktok.com", "patreon.com", "onlyfans.com",
}

// Name implements Source.
func (Walled) Name() string { return "walled" }

// Match implements Source.
func (Walled) Match(u *url.URL) bool { return walledDomain(u.Hostname()) != "" }

// Crawl implements Source: always a refusal with the reason.
func (Walled) Crawl(_ context.Context, rawURL, _ string) ([]schemas.CrawledDocument, error) {
	u, _ := url.Parse(rawURL)
	return nil, refuse("%s requires a login; twin does not crawl login-walled sites (export the content and use twin import)", walledDomain(u.Hostname()))
}

func walledDomain(host string) string {
	host = strings.ToLower(host)
	for _, d := range walledHosts {
		if host == d || strings.HasSuffix(host, "."+d) {
			return d
		}
	}
	return ""
}
