package web

import (
	"context"
	"net/url"

	"github.com/twin-llm/twin/internal/loginwall"
	"github.com/twin-llm/twin/schemas"
)

// Walled refuses sites whose content sits behind a login (see package
// loginwall): the crawl publisher refuses them already, this catches the
// requests published to NATS by other clients.
type Walled struct{}

// Name implements Source.
func (Walled) Name() string { return "walled" }

// Match implements Source.
func (Walled) Match(u *url.URL) bool { return loginwall.Domain(u.Hostname()) != "" }

// Crawl implements Source: always a refusal with the reason.
func (Walled) Crawl(_ context.Context, rawURL, _ string) ([]schemas.CrawledDocument, error) {
	u, _ := url.Parse(rawURL)
	return nil, refuse("%s", loginwall.Reason(loginwall.Domain(u.Hostname())))
}
