package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/temoto/robotstxt"
)

const (
	// maxRobotsBytes is how much of a robots.txt is read; RFC 9309 asks
	// crawlers to parse at least 500 KiB.
	maxRobotsBytes = 512 << 10
	// maxRobotsRedirects is how many redirects are followed for robots.txt
	// (RFC 9309: at least five).
	maxRobotsRedirects = 5
	// maxCrawlDelay bounds a Crawl-delay: a site asking for hours between
	// requests would otherwise stall every crawl of it past any ack deadline.
	maxCrawlDelay = time.Minute
)

// robotsEntry is the cached robots.txt of one origin. The goroutine that
// creates it loads it and then closes ready; the other fields are written
// only before that, so readers that have seen ready closed need no lock.
type robotsEntry struct {
	ready      chan struct{}
	data       *robotstxt.RobotsData // nil when err is set
	crawlDelay time.Duration         // for our product token
	err        error                 // robots.txt unavailable: refuse everything
	expires    time.Time
}

func (e *robotsEntry) loaded() bool {
	select {
	case <-e.ready:
		return true
	default:
		return false
	}
}

// robotsOrigin is the key robots.txt applies to: scheme, host and port, the
// port always spelled out so that http://a and http://a:80 share an entry.
func robotsOrigin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return u.Scheme + "://" + joinHostPort(strings.ToLower(u.Hostname()), port)
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// checkRobots reports whether robots.txt allows u, and the Crawl-delay it
// asks of us. robots.txt is fetched once per origin and cached: concurrent
// callers for an origin not yet cached wait for one fetch. That fetch does
// not count against the host's rate or concurrency limits: it happens once
// per RobotsTTL, and counting it would delay every site's first page.
func (f *Fetcher) checkRobots(ctx context.Context, u *url.URL) (time.Duration, error) {
	origin := robotsOrigin(u)
	f.mu.Lock()
	e := f.robots[origin]
	if e != nil && e.loaded() && !time.Now().Before(e.expires) {
		delete(f.robots, origin)
		e = nil
	}
	if e == nil {
		e = &robotsEntry{ready: make(chan struct{})}
		f.evictRobotsLocked()
		f.robots[origin] = e
		// The load is detached from this caller's cancellation: other
		// callers may be waiting for it, and it is bounded by
		// Config.Timeout for each request it makes.
		go f.loadRobots(context.WithoutCancel(ctx), origin, e)
	}
	f.mu.Unlock()

	select {
	case <-e.ready:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if e.err != nil {
		return 0, e.err
	}
	if !e.data.TestAgent(u.RequestURI(), f.agentToken) {
		return 0, fmt.Errorf("%w: %s/robots.txt disallows %s for %q", ErrRobots, origin, u.RequestURI(), f.agentToken)
	}
	return e.crawlDelay, nil
}

// evictRobotsLocked keeps the cache under maxHosts entries: expired entries
// go first, then any loaded one (it is only refetched). f.mu must be held.
func (f *Fetcher) evictRobotsLocked() {
	if len(f.robots) < f.maxHosts {
		return
	}
	now := time.Now()
	for origin, e := range f.robots {
		if e.loaded() && !now.Before(e.expires) {
			delete(f.robots, origin)
		}
	}
	for origin, e := range f.robots {
		if len(f.robots) < f.maxHosts {
			break
		}
		if e.loaded() {
			delete(f.robots, origin)
		}
	}
}

// loadRobots fetches and parses robots.txt for origin into e, following RFC
// 9309: 2xx is parsed; 4xx (but 429), or too many redirects, means there is
// no robots.txt and everything is allowed; 429, 5xx and network failures
// mean everything is disallowed for Config.RobotsErrorTTL, with an error
// that Temporary reports as worth retrying. A permanent failure (a refused
// address, an unknown host) is returned as it is.
func (f *Fetcher) loadRobots(ctx context.Context, origin string, e *robotsEntry) {
	defer close(e.ready)
	robotsURL := origin + "/robots.txt"
	status, body, err := f.fetchRobots(ctx, robotsURL)

	ttl := f.cfg.RobotsTTL
	switch {
	case err != nil && errors.Is(err, ErrTooManyRedirects):
		e.data = allowAll()
	case err != nil && !Temporary(err):
		// A refused address, a name that does not exist: the page on the
		// same origin would fail the same way, so say that, not "robots".
		e.err = err
		ttl = f.cfg.RobotsErrorTTL
	case err != nil:
		e.err = transientError{fmt.Errorf("%w: %s unreachable, so the site is not crawled for now: %v", ErrRobots, robotsURL, err)}
		ttl = f.cfg.RobotsErrorTTL
	case status == http.StatusTooManyRequests || status >= 500:
		e.err = transientError{fmt.Errorf("%w: %s answered %d, so the site is not crawled for now", ErrRobots, robotsURL, status)}
		ttl = f.cfg.RobotsErrorTTL
	case status >= 200 && status < 300:
		data, err := robotstxt.FromBytes(sanitizeRobots(body))
		if err != nil {
			// sanitizeRobots keeps only lines the parser accepts, so this
			// does not happen; if it did, no usable rules means no rules.
			data = allowAll()
		}
		e.data = data
		e.crawlDelay = min(data.FindGroup(f.agentToken).CrawlDelay, maxCrawlDelay)
	default: // 4xx, or an unfollowed 1xx/3xx
		e.data = allowAll()
	}
	e.expires = time.Now().Add(ttl)
}

func allowAll() *robotstxt.RobotsData {
	data, _ := robotstxt.FromStatusAndBytes(http.StatusNotFound, nil)
	return data
}

// fetchRobots GETs robots.txt through the same safe client as pages,
// following redirects itself (the client never does) so that every hop is
// dialed through the address check. It returns the last status and at most
// maxRobotsBytes of the body.
func (f *Fetcher) fetchRobots(ctx context.Context, rawURL string) (int, []byte, error) {
	target, err := url.Parse(rawURL)
	if err != nil {
		return 0, nil, err
	}
	for hop := 0; ; hop++ {
		status, body, next, err := f.fetchRobotsOnce(ctx, target)
		if err != nil || next == nil {
			return status, body, err
		}
		if hop == maxRobotsRedirects {
			return 0, nil, fmt.Errorf("%w: robots.txt redirected more than %d times", ErrTooManyRedirects, maxRobotsRedirects)
		}
		target = next
	}
}

func (f *Fetcher) fetchRobotsOnce(ctx context.Context, u *url.URL) (int, []byte, *url.URL, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	req.Header.Set("Accept", "text/plain, */*;q=0.5")
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	if isRedirect(resp.StatusCode) {
		drain(resp.Body)
		next, err := redirectTarget(u, resp)
		if err != nil {
			return 0, nil, nil, err
		}
		return resp.StatusCode, nil, next, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		drain(resp.Body)
		return resp.StatusCode, nil, nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRobotsBytes))
	if err != nil {
		return 0, nil, nil, err
	}
	if len(body) == maxRobotsBytes {
		// Cut at the last complete line rather than mid-rule.
		if i := bytes.LastIndexAny(body, "\r\n"); i >= 0 {
			body = body[:i]
		}
	}
	return resp.StatusCode, body, nil, nil
}

// sanitizeRobots rewrites a robots.txt into the subset that
// github.com/temoto/robotstxt parses without error. That parser rejects the
// whole file for one bad line (a rule before any User-agent, an unparsable
// Crawl-delay), while RFC 9309 asks crawlers to use every rule they can
// parse. Each kept line is written as "field: value", the value being the
// first white-space separated word (paths have no spaces; they would be
// percent-encoded), comments removed.
func sanitizeRobots(body []byte) []byte {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	var out bytes.Buffer
	inGroup := false
	lines := strings.FieldsFunc(string(body), func(r rune) bool { return r == '\n' || r == '\r' })
	for _, line := range lines {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		words := strings.Fields(value)
		if len(words) == 0 {
			continue
		}
		v := words[0]
		switch field := strings.ToLower(strings.TrimSpace(key)); field {
		case "user-agent", "useragent":
			inGroup = true
			out.WriteString("user-agent: " + v + "\n")
		case "allow", "disallow":
			if !inGroup {
				continue
			}
			if strings.Trim(v, "*") == "" {
				// The parser drops trailing '*'s and would be left with an
				// empty rule that matches nothing; "*" means everything.
				v = "/"
			}
			out.WriteString(field + ": " + v + "\n")
		case "crawl-delay", "crawldelay":
			d, err := strconv.ParseFloat(v, 64)
			if !inGroup || err != nil || d < 0 || math.IsNaN(d) || math.IsInf(d, 0) {
				continue
			}
			// Bound it before the parser turns seconds into a Duration,
			// which overflows past about 292 years.
			d = min(d, maxCrawlDelay.Seconds())
			out.WriteString("crawl-delay: " + strconv.FormatFloat(d, 'f', -1, 64) + "\n")
		}
	}
	return out.Bytes()
}
