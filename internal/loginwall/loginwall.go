// Package loginwall knows the sites whose content sits behind a login.
// Crawling them would need an account and break their terms, and what a
// crawler sees there is a login page; so the crawl publisher refuses them
// when they are submitted, and the crawler again for requests that reach
// NATS some other way.
package loginwall

import "strings"

// domains are registrable domains that require a login to read.
var domains = []string{
	"linkedin.com", "lnkd.in", "facebook.com", "fb.com", "instagram.com",
	"x.com", "twitter.com", "threads.net", "tiktok.com", "patreon.com", "onlyfans.com",
}

// Domain is the login-walled domain that host belongs to (itself or a
// subdomain of it), or "" when host is not walled.
func Domain(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, d := range domains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return d
		}
	}
	return ""
}

// Reason is the refusal of a URL on domain d: what happened and what to do
// instead.
func Reason(d string) string {
	return d + " requires a login; twin does not crawl login-walled sites (export the content and use twin import)"
}
