// Package fetch is the HTTP client every crawler uses to GET pages: safely
// (only public addresses, checked on the resolved IP at dial time; bounded
// redirects, time and size) and politely (robots.txt, a per-host rate and
// concurrency limit, a User-Agent that names the project).
//
// A Fetcher is safe for concurrent use; make one per crawler process and
// share it, since the politeness limits hold per Fetcher.
package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/twin-llm/twin/streams"
)

// Resolver looks up the addresses of a host name. *net.Resolver implements
// it; tests use a fake to map names to loopback without DNS.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Config sets up a Fetcher. The zero value is a sensible, safe crawler: every
// zero field takes the default documented beside it.
type Config struct {
	// UserAgent is sent with every request. Its product token (the part
	// before the first '/') is the agent matched in robots.txt.
	// Default "twin/<version> (+https://github.com/twin-llm/twin; LLM twin crawler)".
	UserAgent string
	// AllowPrivate allows loopback, private, link-local and other
	// non-public addresses (--crawl-allow-private), for tests and intranets.
	// Cloud metadata endpoints stay refused even then.
	AllowPrivate bool
	// Resolver resolves host names; default net.DefaultResolver.
	Resolver Resolver

	// ConnectTimeout bounds each TCP connect and TLS handshake; default 10s.
	ConnectTimeout time.Duration
	// Timeout bounds one HTTP exchange, from dial to the last body byte;
	// default 30s. Retries and redirects each get a fresh Timeout: bound the
	// whole Get with its context.
	Timeout time.Duration
	// MaxBodyBytes is the largest body accepted, after decompression;
	// default 10 MB.
	MaxBodyBytes int64
	// MaxRedirects is how many redirects are followed; default 5, negative
	// for none.
	MaxRedirects int

	// PerHostConcurrency is how many requests may be in flight to one host;
	// default 2.
	PerHostConcurrency int
	// PerHostRate is the most requests per second started to one host;
	// default 1, negative for no limit. A robots.txt Crawl-delay lowers it.
	PerHostRate float64

	// Retries is how many times a temporary failure (timeouts, 408, 429,
	// 5xx, connection resets) is retried, with exponential backoff and
	// jitter; default 3, negative for none.
	Retries int
	// RetryBaseDelay is the first backoff delay, doubled at each retry;
	// default 500ms.
	RetryBaseDelay time.Duration
	// MaxRetryDelay bounds one backoff delay and the Retry-After the fetcher
	// waits for; a longer Retry-After ends the Get with a *StatusError
	// carrying it, for the caller to retry later. Default 30s.
	MaxRetryDelay time.Duration

	// AcceptTypes are the media types accepted; "type/*" accepts a whole
	// type. Default text/html, application/xhtml+xml, text/plain,
	// text/markdown, application/rss+xml, application/atom+xml,
	// application/xml, text/xml.
	AcceptTypes []string

	// IgnoreRobots skips robots.txt. The zero value respects it, so that
	// forgetting a field never makes the crawler impolite.
	IgnoreRobots bool
	// RobotsTTL is how long a fetched robots.txt is trusted; default 1h.
	RobotsTTL time.Duration
	// RobotsErrorTTL is how long an unreachable robots.txt (5xx, network
	// failure) blocks its site before it is fetched again; default 1m.
	RobotsErrorTTL time.Duration
}

// defaultAcceptTypes are the media types accepted when Config.AcceptTypes is
// empty.
var defaultAcceptTypes = []string{
	"text/html", "application/xhtml+xml", "text/plain", "text/markdown",
	"application/rss+xml", "application/atom+xml", "application/xml", "text/xml",
}

// defaultMaxHosts bounds the per-host state and the robots.txt cache.
const defaultMaxHosts = 4096

// Fetcher GETs pages safely and politely. Make one with New.
type Fetcher struct {
	cfg        Config
	agentToken string // the UserAgent's product token, lowercased, for robots.txt
	accept     string // the Accept header
	resolver   Resolver
	dialer     *net.Dialer
	client     *http.Client
	// permit is the address policy applied at dial time; tests replace it
	// to let one loopback server pass as public.
	permit   func(netip.AddrPort) error
	maxHosts int

	mu     sync.Mutex // guards hosts and robots
	hosts  map[string]*hostState
	robots map[string]*robotsEntry
}

// New returns a Fetcher for cfg, with defaults filled in.
func New(cfg Config) *Fetcher {
	cfg = withDefaults(cfg)
	f := &Fetcher{
		cfg:        cfg,
		agentToken: productToken(cfg.UserAgent),
		accept:     strings.Join(cfg.AcceptTypes, ", "),
		resolver:   cfg.Resolver,
		maxHosts:   defaultMaxHosts,
		hosts:      make(map[string]*hostState),
		robots:     make(map[string]*robotsEntry),
	}
	f.permit = func(ap netip.AddrPort) error { return permitAddr(ap.Addr(), cfg.AllowPrivate) }
	f.dialer = &net.Dialer{
		Timeout:   cfg.ConnectTimeout,
		KeepAlive: 30 * time.Second,
		Control:   f.controlDial,
	}
	transport := &http.Transport{
		// No proxy, whatever the environment says: the address check would
		// then see the proxy's address, not the target's.
		Proxy:                  nil,
		DialContext:            f.dialContext,
		ForceAttemptHTTP2:      true, // a custom DialContext turns it off otherwise
		TLSHandshakeTimeout:    cfg.ConnectTimeout,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    cfg.PerHostConcurrency,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
	f.client = &http.Client{
		Transport: transport,
		// Redirects are followed by Get, one hop at a time, so that each hop
		// is checked against robots.txt and the per-host limits.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return f
}

func withDefaults(c Config) Config {
	if c.UserAgent == "" {
		c.UserAgent = defaultUserAgent()
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 10 << 20
	}
	switch {
	case c.MaxRedirects == 0:
		c.MaxRedirects = 5
	case c.MaxRedirects < 0:
		c.MaxRedirects = 0
	}
	if c.PerHostConcurrency <= 0 {
		c.PerHostConcurrency = 2
	}
	if c.PerHostRate == 0 {
		c.PerHostRate = 1
	}
	switch {
	case c.Retries == 0:
		c.Retries = 3
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.RetryBaseDelay <= 0 {
		c.RetryBaseDelay = 500 * time.Millisecond
	}
	if c.MaxRetryDelay <= 0 {
		c.MaxRetryDelay = 30 * time.Second
	}
	if len(c.AcceptTypes) == 0 {
		c.AcceptTypes = defaultAcceptTypes
	}
	lowered := make([]string, len(c.AcceptTypes))
	for i, t := range c.AcceptTypes {
		lowered[i] = strings.ToLower(strings.TrimSpace(t))
	}
	c.AcceptTypes = lowered
	if c.RobotsTTL <= 0 {
		c.RobotsTTL = time.Hour
	}
	if c.RobotsErrorTTL <= 0 {
		c.RobotsErrorTTL = time.Minute
	}
	return c
}

func defaultUserAgent() string {
	version := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = strings.TrimPrefix(bi.Main.Version, "v")
	}
	return "twin/" + version + " (+https://github.com/twin-llm/twin; LLM twin crawler)"
}

// productToken is the name robots.txt groups are matched against: the
// User-Agent up to its first '/' or space, lowercased ("twin").
func productToken(ua string) string {
	token, _, _ := strings.Cut(ua, "/")
	token, _, _ = strings.Cut(token, " ")
	if token == "" {
		return "twin"
	}
	return strings.ToLower(token)
}

// Response is a fetched page.
type Response struct {
	URL         string // final URL, after redirects
	StatusCode  int
	ContentType string // the Content-Type header, or the sniffed type when absent
	Body        []byte
	Header      http.Header
}

// Get fetches url, following redirects. Errors match this package's
// sentinels where one applies (errors.Is), and Temporary tells whether
// trying again later may succeed.
func (f *Fetcher) Get(ctx context.Context, rawURL string) (*Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if err := checkTarget(u); err != nil {
		return nil, err
	}
	for redirects := 0; ; redirects++ {
		resp, next, err := f.getOne(ctx, u)
		if err != nil {
			return nil, err
		}
		if next == nil {
			return resp, nil
		}
		if redirects == f.cfg.MaxRedirects {
			return nil, fmt.Errorf("get %s: %w: more than %d", rawURL, ErrTooManyRedirects, f.cfg.MaxRedirects)
		}
		u = next
	}
}

// checkTarget refuses what the fetcher never fetches, whether asked directly
// or through a redirect.
func checkTarget(u *url.URL) error {
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: scheme %q in %s (want http or https)", ErrInvalidURL, u.Scheme, u.Redacted())
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%w: no host in %s", ErrInvalidURL, u.Redacted())
	case u.User != nil:
		return fmt.Errorf("%w: credentials in %s", ErrInvalidURL, u.Redacted())
	}
	return nil
}

// getOne fetches u without following a redirect: it returns the response, or
// the redirect's target. robots.txt is checked once, then temporary failures
// are retried with backoff.
func (f *Fetcher) getOne(ctx context.Context, u *url.URL) (*Response, *url.URL, error) {
	var crawlDelay time.Duration
	if !f.cfg.IgnoreRobots {
		d, err := f.checkRobots(ctx, u)
		if err != nil {
			return nil, nil, err
		}
		crawlDelay = d
	}
	h := f.acquireHost(strings.ToLower(u.Hostname()), crawlDelay)
	defer f.releaseHost(h)

	for attempt := 0; ; attempt++ {
		resp, next, err := f.try(ctx, h, u)
		if err == nil {
			return resp, next, nil
		}
		if attempt >= f.cfg.Retries || !Temporary(err) || ctx.Err() != nil {
			return nil, nil, err
		}
		wait, ok := f.retryDelay(attempt, err)
		if !ok {
			return nil, nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), err)
		}
	}
}

// retryDelay is how long to wait before retry number attempt+1: the
// server's Retry-After when it sent one, else exponential backoff with
// jitter. ok is false when the server asks for more than MaxRetryDelay: the
// caller, which can wait without holding anything, should retry instead.
func (f *Fetcher) retryDelay(attempt int, err error) (wait time.Duration, ok bool) {
	if se := (*StatusError)(nil); errors.As(err, &se) && se.RetryAfter > 0 {
		return se.RetryAfter, se.RetryAfter <= f.cfg.MaxRetryDelay
	}
	d := f.cfg.RetryBaseDelay << min(attempt, 20)
	if d <= 0 || d > f.cfg.MaxRetryDelay {
		d = f.cfg.MaxRetryDelay
	}
	// Jitter in [d/2, d) spreads retries from many workers apart.
	return d/2 + rand.N(d/2+1), true
}

// try makes one request to u, holding one of the host's concurrency slots
// and after waiting for its rate limiter.
func (f *Fetcher) try(ctx context.Context, h *hostState, u *url.URL) (*Response, *url.URL, error) {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	defer func() { <-h.slots }()
	if err := h.limiter.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		// The wait would outlast the context's deadline.
		return nil, nil, fmt.Errorf("get %s: waiting for the host's rate limit: %w (%v)", u.Redacted(), context.DeadlineExceeded, err)
	}

	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	req.Header.Set("Accept", f.accept)
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, nil, err // a *url.Error, which names the URL
	}
	defer resp.Body.Close()

	switch code := resp.StatusCode; {
	case isRedirect(code):
		drain(resp.Body)
		next, err := redirectTarget(u, resp)
		if err != nil {
			return nil, nil, err
		}
		return nil, next, nil
	case code < 200 || code >= 300:
		drain(resp.Body)
		return nil, nil, fmt.Errorf("get %s: %w", u.Redacted(), &StatusError{Code: code, RetryAfter: retryAfter(resp.Header)})
	}

	// The type is checked before the body is read: a video is refused after
	// its headers, not after 10 MB of it.
	var body io.Reader = resp.Body
	contentType := resp.Header.Get("Content-Type")
	if contentType == "" {
		br := bufio.NewReaderSize(resp.Body, 512)
		head, _ := br.Peek(512)
		contentType = http.DetectContentType(head)
		body = br
	}
	if err := f.checkContentType(contentType); err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", u.Redacted(), err)
	}
	limit := f.cfg.MaxBodyBytes
	if resp.ContentLength > limit {
		return nil, nil, fmt.Errorf("get %s: %w: %d bytes announced, the limit is %d", u.Redacted(), ErrTooLarge, resp.ContentLength, limit)
	}
	// Reading one byte more than allowed tells "exactly max" from "more".
	// The limit applies after gzip decoding, so a compressed bomb stops too.
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: reading the body: %w", u.Redacted(), err)
	}
	if int64(len(data)) > limit {
		return nil, nil, fmt.Errorf("get %s: %w: more than %d bytes", u.Redacted(), ErrTooLarge, limit)
	}
	return &Response{
		URL:         u.String(),
		StatusCode:  resp.StatusCode,
		ContentType: contentType,
		Body:        data,
		Header:      resp.Header,
	}, nil, nil
}

func (f *Fetcher) checkContentType(contentType string) error {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("%w: unparsable Content-Type %q", ErrContentType, contentType)
	}
	for _, t := range f.cfg.AcceptTypes {
		if t == mediaType {
			return nil
		}
		if prefix, ok := strings.CutSuffix(t, "/*"); ok && strings.HasPrefix(mediaType, prefix+"/") {
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrContentType, mediaType)
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// redirectTarget resolves a redirect's Location against the URL that
// answered, and refuses targets the fetcher never fetches.
func redirectTarget(from *url.URL, resp *http.Response) (*url.URL, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, fmt.Errorf("get %s: %w: redirect without Location", from.Redacted(), &StatusError{Code: resp.StatusCode})
	}
	next, err := from.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w: redirect to %q: %v", from.Redacted(), ErrInvalidURL, loc, err)
	}
	next.Fragment, next.RawFragment = "", ""
	if err := checkTarget(next); err != nil {
		return nil, fmt.Errorf("get %s: redirect: %w", from.Redacted(), err)
	}
	return next, nil
}

// retryAfter parses a Retry-After header: seconds or an HTTP date. It returns
// 0 when there is none or it does not parse.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, 1<<31)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// drain reads a little of an unwanted body so that the connection can be
// reused, without reading a large one.
func drain(body io.Reader) {
	_, _ = io.CopyN(io.Discard, body, 4<<10)
}

// hostState holds the politeness limits of one host. Entries are created on
// first use and dropped once idle (see acquireHost).
type hostState struct {
	slots    chan struct{} // one token per request in flight
	limiter  *rate.Limiter
	refs     int       // Get calls using the entry; guarded by Fetcher.mu
	lastUsed time.Time // guarded by Fetcher.mu
}

// acquireHost returns the state of host, creating it if needed, and applies
// a robots.txt Crawl-delay as a floor on the interval between requests.
// Every call must be paired with releaseHost.
func (f *Fetcher) acquireHost(host string, crawlDelay time.Duration) *hostState {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.hosts[host]
	if h == nil {
		f.evictHostsLocked()
		h = &hostState{
			slots:   make(chan struct{}, f.cfg.PerHostConcurrency),
			limiter: rate.NewLimiter(f.baseLimit(), 1),
		}
		f.hosts[host] = h
	}
	h.refs++
	limit := f.baseLimit()
	if crawlDelay > 0 {
		limit = min(limit, rate.Every(crawlDelay))
	}
	if h.limiter.Limit() != limit {
		h.limiter.SetLimit(limit)
	}
	return h
}

func (f *Fetcher) releaseHost(h *hostState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h.refs--
	h.lastUsed = time.Now()
}

func (f *Fetcher) baseLimit() rate.Limit {
	if f.cfg.PerHostRate < 0 {
		return rate.Inf
	}
	return rate.Limit(f.cfg.PerHostRate)
}

// evictHostsLocked keeps the host map from growing with every host ever
// crawled. Invariant: an entry is dropped only when no Get uses it and its
// last request is at least one rate interval old, so the fresh entry that
// may replace it (whose limiter allows one request at once) cannot break
// the host's rate. When nothing can be dropped yet the map grows past
// maxHosts; it is bounded by the hosts in use or used within an interval.
// f.mu must be held.
func (f *Fetcher) evictHostsLocked() {
	if len(f.hosts) < f.maxHosts {
		return
	}
	now := time.Now()
	for name, h := range f.hosts {
		if h.refs > 0 {
			continue
		}
		var interval time.Duration
		if l := h.limiter.Limit(); l != rate.Inf && l > 0 {
			interval = time.Duration(float64(time.Second) / float64(l))
		}
		if now.Sub(h.lastUsed) >= interval {
			delete(f.hosts, name)
		}
	}
}

// IsPermanent reports whether a crawl error will not change on a retry:
// a refusal, or a fetch failure Temporary does not call temporary
// (robots, blocked address, 404, wrong content type, too large).
func IsPermanent(err error) bool {
	if errors.Is(err, streams.ErrPermanent) {
		return true
	}
	for _, e := range []error{ErrBlockedAddress, ErrRobots, ErrTooLarge, ErrContentType,
		ErrTooManyRedirects, ErrHTTPStatus, ErrInvalidURL} {
		if errors.Is(err, e) {
			return !Temporary(err)
		}
	}
	return false
}
