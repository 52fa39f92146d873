package fetch

import (
	"bytes"
	"testing"
	"time"

	"github.com/temoto/robotstxt"
)

func TestSanitizeRobotsKeepsWhatParses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		robots  string
		path    string
		allowed bool
		delay   time.Duration
	}{
		{
			name:   "plain disallow",
			robots: "User-agent: *\nDisallow: /private\n",
			path:   "/private/x", allowed: false,
		},
		{
			name:   "our group wins over *",
			robots: "User-agent: *\nDisallow: /\n\nUser-agent: twin\nDisallow: /secret\n",
			path:   "/public", allowed: true,
		},
		{
			name:   "rule before any user-agent is skipped, not fatal",
			robots: "Disallow: /nothing\nUser-agent: *\nDisallow: /blocked\n",
			path:   "/blocked", allowed: false,
		},
		{
			name:   "bad crawl-delay is skipped, not fatal",
			robots: "User-agent: *\nCrawl-delay: soon\nDisallow: /blocked\n",
			path:   "/blocked", allowed: false,
		},
		{
			name:   "comments, CRLF, BOM and case",
			robots: "\xef\xbb\xbf# hello\r\nUSER-AGENT: Twin # us\r\nDISALLOW: /a # no\r\n",
			path:   "/a/b", allowed: false,
		},
		{
			name:   "disallow star means everything",
			robots: "User-agent: *\nDisallow: *\n",
			path:   "/x", allowed: false,
		},
		{
			name:   "allow beats a shorter disallow",
			robots: "User-agent: *\nDisallow: /docs\nAllow: /docs/public\n",
			path:   "/docs/public/a", allowed: true,
		},
		{
			name:   "wildcards",
			robots: "User-agent: *\nDisallow: /*.pdf$\n",
			path:   "/a/b.pdf", allowed: false,
		},
		{
			name:   "crawl-delay read",
			robots: "User-agent: twin\nCrawl-delay: 2.5\n",
			path:   "/", allowed: true, delay: 2500 * time.Millisecond,
		},
		{
			name:   "huge crawl-delay bounded",
			robots: "User-agent: *\nCrawl-delay: 1e300\n",
			path:   "/", allowed: true, delay: maxCrawlDelay,
		},
		{
			name:   "empty disallow allows",
			robots: "User-agent: *\nDisallow:\n",
			path:   "/x", allowed: true,
		},
		{
			name:   "garbage",
			robots: "<html><body>Not found</body></html>",
			path:   "/x", allowed: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data, err := robotstxt.FromBytes(sanitizeRobots([]byte(tc.robots)))
			if err != nil {
				t.Fatalf("the parser refused the sanitized robots.txt: %v", err)
			}
			if got := data.TestAgent(tc.path, "twin"); got != tc.allowed {
				t.Errorf("TestAgent(%q) = %v, want %v", tc.path, got, tc.allowed)
			}
			if got := min(data.FindGroup("twin").CrawlDelay, maxCrawlDelay); got != tc.delay {
				t.Errorf("crawl delay = %v, want %v", got, tc.delay)
			}
		})
	}
}

func TestProductToken(t *testing.T) {
	t.Parallel()
	for ua, want := range map[string]string{
		defaultUserAgent():            "twin",
		"MyBot/1.0 (+https://x.test)": "mybot",
		"plain":                       "plain",
		"":                            "twin",
	} {
		if got := productToken(ua); got != want {
			t.Errorf("productToken(%q) = %q, want %q", ua, got, want)
		}
	}
}

// FuzzSanitizeRobots: whatever a server sends as robots.txt, the sanitized
// form parses without error (so no rule is lost to one bad line), and
// sanitizing is idempotent.
func FuzzSanitizeRobots(f *testing.F) {
	for _, seed := range []string{
		"User-agent: *\nDisallow: /\n",
		"Disallow: /x\nUser-agent: twin\nCrawl-delay: 1e400\nAllow: /*$\n",
		"User-agent: a\nUser-agent: b\nDisallow: /a b c\nSitemap: https://x/s.xml\n",
		"user-agent:\x0bx\ndisallow:\t*\ncrawl-delay: NaN\ncrawl-delay: -1\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		clean := sanitizeRobots(body)
		data, err := robotstxt.FromBytes(clean)
		if err != nil {
			t.Fatalf("sanitized robots.txt %q does not parse: %v", clean, err)
		}
		_ = data.TestAgent("/a/b?c", "twin")
		if again := sanitizeRobots(clean); !bytes.Equal(again, clean) {
			t.Fatalf("not idempotent: %q then %q", clean, again)
		}
	})
}
