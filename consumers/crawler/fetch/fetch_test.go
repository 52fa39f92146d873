package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeResolver maps host names to addresses without DNS. Names it does not
// know fail as not found, so no test ever asks a real resolver.
type fakeResolver map[string]string

func (r fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ip, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host (test resolver)", Name: host, IsNotFound: true}
	}
	return []net.IPAddr{{IP: net.ParseIP(ip)}}, nil
}

// testConfig is fast and local: loopback allowed, no rate limit, no retries,
// short timeouts, and a resolver that knows no names.
func testConfig() Config {
	return Config{
		AllowPrivate:   true,
		Resolver:       fakeResolver{},
		Timeout:        2 * time.Second,
		ConnectTimeout: time.Second,
		PerHostRate:    -1,
		Retries:        -1,
		RetryBaseDelay: time.Millisecond,
	}
}

// site is a test server with a robots.txt (404 unless set) and handlers per
// path. It counts requests per path.
type site struct {
	*httptest.Server
	mux *http.ServeMux

	mu     sync.Mutex // guards robots and hits
	robots http.HandlerFunc
	hits   map[string]int
}

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{hits: map[string]int{}, mux: http.NewServeMux(), robots: http.NotFound}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		robots := s.robots
		s.mu.Unlock()
		if r.URL.Path == "/robots.txt" {
			robots(w, r)
			return
		}
		s.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *site) handle(path string, h http.HandlerFunc) { s.mux.HandleFunc(path, h) }

func (s *site) setRobotsHandler(h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.robots = h
}

func (s *site) setRobots(body string) {
	s.setRobotsHandler(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
}

func (s *site) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func html(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, body)
	}
}

func TestGetReturnsPage(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	var gotUA, gotAccept string
	s.handle("/page", func(w http.ResponseWriter, r *http.Request) {
		gotUA, gotAccept = r.UserAgent(), r.Header.Get("Accept")
		w.Header().Set("X-Test", "yes")
		html("<h1>hello</h1>")(w, r)
	})
	f := New(testConfig())
	resp, err := f.Get(t.Context(), s.URL+"/page")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if resp.StatusCode != 200 || string(resp.Body) != "<h1>hello</h1>" || resp.URL != s.URL+"/page" ||
		resp.ContentType != "text/html; charset=utf-8" || resp.Header.Get("X-Test") != "yes" {
		t.Fatalf("unexpected response %+v (body %q)", resp, resp.Body)
	}
	if !strings.HasPrefix(gotUA, "twin/") || !strings.Contains(gotUA, "+https://github.com/twin-llm/twin; LLM twin crawler") {
		t.Errorf("User-Agent = %q, want the twin crawler's", gotUA)
	}
	if !strings.Contains(gotAccept, "text/html") {
		t.Errorf("Accept = %q, want it to list text/html", gotAccept)
	}
}

func TestRefusesLoopbackWithoutAllowPrivate(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.handle("/", html("secret"))
	cfg := testConfig()
	cfg.AllowPrivate = false
	f := New(cfg)
	for _, u := range []string{s.URL + "/", strings.Replace(s.URL, "127.0.0.1", "[::ffff:127.0.0.1]", 1) + "/"} {
		_, err := f.Get(t.Context(), u)
		if !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("Get(%s) = %v, want ErrBlockedAddress", u, err)
		}
		if Temporary(err) {
			t.Errorf("Temporary(%v) = true, want a permanent error", err)
		}
	}
	if n := s.count("/") + s.count("/robots.txt"); n != 0 {
		t.Fatalf("the loopback server got %d requests, want none", n)
	}
}

func TestRefusesPublicNameResolvingToLoopback(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.handle("/", html("secret"))
	cfg := testConfig()
	cfg.AllowPrivate = false
	cfg.Resolver = fakeResolver{"evil.example": "127.0.0.1"}
	f := New(cfg)
	_, err := f.Get(t.Context(), "http://evil.example:"+s.port()+"/")
	if !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("Get = %v, want ErrBlockedAddress", err)
	}
	if n := s.count("/") + s.count("/robots.txt"); n != 0 {
		t.Fatalf("the loopback server got %d requests, want none", n)
	}
}

func (s *site) port() string {
	u, _ := url.Parse(s.URL)
	return u.Port()
}

// publicFetcher returns a fetcher that refuses private addresses but treats
// the given loopback servers as public, so a test can play a public site
// without leaving loopback.
func publicFetcher(cfg Config, public ...*site) *Fetcher {
	cfg.AllowPrivate = false
	f := New(cfg)
	allowed := map[netip.AddrPort]bool{}
	for _, s := range public {
		allowed[netip.MustParseAddrPort(strings.TrimPrefix(s.URL, "http://"))] = true
	}
	f.permit = func(ap netip.AddrPort) error {
		if allowed[ap] {
			return nil
		}
		return permitAddr(ap.Addr(), false)
	}
	return f
}

func TestRefusesRedirectToPrivateAddress(t *testing.T) {
	t.Parallel()
	internal := newSite(t)
	internal.handle("/", html("internal admin page"))
	public := newSite(t)
	public.handle("/to-ip", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/", http.StatusFound)
	})
	public.handle("/to-name", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://evil.example:"+internal.port()+"/", http.StatusMovedPermanently)
	})
	public.handle("/ok", html("public page"))
	cfg := testConfig()
	cfg.Resolver = fakeResolver{"public.example": "127.0.0.1", "evil.example": "127.0.0.1"}
	f := publicFetcher(cfg, public)
	base := "http://public.example:" + public.port()

	if _, err := f.Get(t.Context(), base+"/ok"); err != nil {
		t.Fatalf("the public site itself must be reachable: %v", err)
	}
	for _, path := range []string{"/to-ip", "/to-name"} {
		_, err := f.Get(t.Context(), base+path)
		if !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("Get(%s) = %v, want ErrBlockedAddress", path, err)
		}
	}
	if n := internal.count("/") + internal.count("/robots.txt"); n != 0 {
		t.Fatalf("the internal server got %d requests, want none", n)
	}
}

func TestRefusesRedirectToOtherSchemes(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.handle("/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	_, err := New(testConfig()).Get(t.Context(), s.URL+"/")
	if !errors.Is(err, ErrInvalidURL) || Temporary(err) {
		t.Fatalf("Get = %v, want a permanent ErrInvalidURL", err)
	}
}

func TestRefusesNonHTTPURLs(t *testing.T) {
	t.Parallel()
	f := New(testConfig())
	for _, u := range []string{"ftp://example.com/", "file:///etc/passwd", "http:///x", "https://u:p@example.com/", "::"} {
		if _, err := f.Get(t.Context(), u); !errors.Is(err, ErrInvalidURL) {
			t.Errorf("Get(%q) = %v, want ErrInvalidURL", u, err)
		}
	}
}

func TestFollowsRedirects(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.handle("/a", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/b#frag", http.StatusMovedPermanently)
	})
	s.handle("/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/c", http.StatusTemporaryRedirect) })
	s.handle("/c", html("final"))
	resp, err := New(testConfig()).Get(t.Context(), s.URL+"/a")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if resp.URL != s.URL+"/c" || string(resp.Body) != "final" {
		t.Fatalf("got %s %q, want %s/c \"final\"", resp.URL, resp.Body, s.URL)
	}
}

func TestRedirectLoopIsTooManyRedirects(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.handle("/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/b", http.StatusFound) })
	s.handle("/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/a", http.StatusFound) })
	_, err := New(testConfig()).Get(t.Context(), s.URL+"/a")
	if !errors.Is(err, ErrTooManyRedirects) || Temporary(err) {
		t.Fatalf("Get = %v, want a permanent ErrTooManyRedirects", err)
	}
	if n := s.count("/a") + s.count("/b"); n != 6 { // the first request and 5 redirects
		t.Errorf("the server saw %d requests, want 6", n)
	}
}

func TestRobotsDisallowHonouredAndCached(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.setRobots("User-agent: *\nDisallow: /\n\nUser-agent: twin\nDisallow: /private\n")
	s.handle("/", html("ok"))
	s.handle("/private/", html("no"))
	f := New(testConfig())

	_, err := f.Get(t.Context(), s.URL+"/private/page")
	if !errors.Is(err, ErrRobots) || Temporary(err) {
		t.Fatalf("Get(/private/page) = %v, want a permanent ErrRobots", err)
	}
	if n := s.count("/private/page"); n != 0 {
		t.Fatalf("a disallowed page was requested %d times", n)
	}

	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if _, err := f.Get(t.Context(), fmt.Sprintf("%s/public/%d", s.URL, i)); err != nil {
				t.Errorf("Get of an allowed page: %v", err)
			}
		})
	}
	wg.Wait()
	if n := s.count("/robots.txt"); n != 1 {
		t.Fatalf("robots.txt fetched %d times for 11 requests, want once", n)
	}
}

func TestRobotsRefetchedAfterTTL(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.handle("/", html("ok"))
	cfg := testConfig()
	cfg.RobotsTTL = time.Nanosecond // expired by the next request
	f := New(cfg)
	for range 3 {
		if _, err := f.Get(t.Context(), s.URL+"/"); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.count("/robots.txt"); n != 3 {
		t.Fatalf("robots.txt fetched %d times, want 3 (once per expired entry)", n)
	}
}

func TestRobotsServerErrorBlocksTemporarily(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.setRobotsHandler(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	s.handle("/", html("ok"))
	f := New(testConfig())
	for range 2 {
		_, err := f.Get(t.Context(), s.URL+"/page")
		if !errors.Is(err, ErrRobots) || !Temporary(err) {
			t.Fatalf("Get = %v, want ErrRobots that is temporary", err)
		}
	}
	if n := s.count("/page"); n != 0 {
		t.Fatalf("the page was requested %d times while robots.txt was failing", n)
	}
	if n := s.count("/robots.txt"); n != 1 {
		t.Fatalf("robots.txt fetched %d times within RobotsErrorTTL, want once", n)
	}
}

func TestRobotsRedirectFollowed(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.setRobotsHandler(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/real-robots.txt", http.StatusMovedPermanently)
	})
	s.handle("/real-robots.txt", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "User-agent: *\nDisallow: /no\n")
	})
	s.handle("/", html("ok"))
	f := New(testConfig())
	if _, err := f.Get(t.Context(), s.URL+"/no"); !errors.Is(err, ErrRobots) {
		t.Fatalf("Get(/no) = %v, want ErrRobots", err)
	}
	if _, err := f.Get(t.Context(), s.URL+"/yes"); err != nil {
		t.Fatalf("Get(/yes) = %v", err)
	}
}

func TestIgnoreRobots(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.setRobots("User-agent: *\nDisallow: /\n")
	s.handle("/", html("ok"))
	cfg := testConfig()
	cfg.IgnoreRobots = true
	if _, err := New(cfg).Get(t.Context(), s.URL+"/"); err != nil {
		t.Fatalf("Get = %v", err)
	}
	if n := s.count("/robots.txt"); n != 0 {
		t.Fatalf("robots.txt fetched %d times, want none", n)
	}
}

// timestamps records when each request reached the server.
type timestamps struct {
	mu    sync.Mutex
	times []time.Time
}

func (ts *timestamps) record() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.times = append(ts.times, time.Now())
}

// meanGap is the mean time between two arrivals of the want requests.
func (ts *timestamps) meanGap(t *testing.T, want int) time.Duration {
	t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.times) != want || want < 2 {
		t.Fatalf("the server saw %d requests, want %d", len(ts.times), want)
	}
	return ts.times[len(ts.times)-1].Sub(ts.times[0]) / time.Duration(want-1)
}

func (ts *timestamps) minGap(t *testing.T, want int) time.Duration {
	t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.times) != want {
		t.Fatalf("the server saw %d requests, want %d", len(ts.times), want)
	}
	gap := time.Duration(1<<63 - 1)
	for i := 1; i < len(ts.times); i++ {
		gap = min(gap, ts.times[i].Sub(ts.times[i-1]))
	}
	return gap
}

// getAll fetches n URLs of the site concurrently, failing on any error.
func getAll(t *testing.T, f *Fetcher, base string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := f.Get(t.Context(), fmt.Sprintf("%s/p/%d", base, i)); err != nil {
				t.Errorf("Get: %v", err)
			}
		})
	}
	wg.Wait()
}

func TestRateLimitHeldPerHost(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	var ts timestamps
	s.handle("/p/", func(w http.ResponseWriter, r *http.Request) { ts.record(); html("ok")(w, r) })
	cfg := testConfig()
	cfg.PerHostRate = 10 // one request per 100ms
	cfg.PerHostConcurrency = 4
	getAll(t, New(cfg), s.URL, 4)
	// The mean of the gaps, not the least: the limiter spaces the sends,
	// and a loaded machine can hold one request on its way long enough to
	// bring two arrivals close. Unlimited, the mean is about a millisecond.
	if gap := ts.meanGap(t, 4); gap < 50*time.Millisecond {
		t.Fatalf("requests reached the host %v apart on average, want about 100ms (rate 10/s)", gap)
	}
}

func TestCrawlDelayIsAFloorOnTheRate(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.setRobots("User-agent: twin\nCrawl-delay: 0.2\n")
	var ts timestamps
	s.handle("/p/", func(w http.ResponseWriter, r *http.Request) { ts.record(); html("ok")(w, r) })
	cfg := testConfig()
	cfg.PerHostRate = 1000
	cfg.PerHostConcurrency = 4
	getAll(t, New(cfg), s.URL, 3)
	if gap := ts.meanGap(t, 3); gap < 100*time.Millisecond {
		t.Fatalf("requests reached the host %v apart on average, want about the 200ms Crawl-delay", gap)
	}
}

func TestPerHostConcurrencyHeld(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	var inFlight, peak atomic.Int32
	s.handle("/p/", func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(30 * time.Millisecond) // long enough for the others to pile up
		html("ok")(w, r)
	})
	cfg := testConfig()
	cfg.PerHostConcurrency = 2
	getAll(t, New(cfg), s.URL, 8)
	if p := peak.Load(); p != 2 {
		t.Fatalf("at most %d requests were in flight at once, want exactly 2", p)
	}
}

func TestHostStateIsBounded(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.handle("/", html("ok"))
	resolver := fakeResolver{}
	for i := range 20 {
		resolver[fmt.Sprintf("h%d.test", i)] = "127.0.0.1"
	}
	cfg := testConfig()
	cfg.Resolver = resolver
	f := New(cfg)
	f.maxHosts = 4
	for i := range 20 {
		if _, err := f.Get(t.Context(), fmt.Sprintf("http://h%d.test:%s/", i, s.port())); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	hosts, robots := len(f.hosts), len(f.robots)
	f.mu.Unlock()
	if hosts > 4 || robots > 4 {
		t.Fatalf("after 20 hosts the fetcher holds %d host entries and %d robots entries, want at most 4 each", hosts, robots)
	}
}

func TestOversizedBodyIsTooLarge(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	big := strings.Repeat("x", 2000)
	s.handle("/announced", html(big)) // Content-Length set by the server
	s.handle("/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for range 20 {
			fmt.Fprint(w, big[:100])
			w.(http.Flusher).Flush() // no Content-Length
		}
	})
	s.handle("/gzip", func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(strings.Repeat("x", 100_000))) // a 100 KB page in a few hundred bytes
		zw.Close()
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(buf.Bytes())
	})
	s.handle("/exact", html(big[:1000]))
	cfg := testConfig()
	cfg.MaxBodyBytes = 1000
	f := New(cfg)
	for _, path := range []string{"/announced", "/chunked", "/gzip"} {
		if _, err := f.Get(t.Context(), s.URL+path); !errors.Is(err, ErrTooLarge) || Temporary(err) {
			t.Errorf("Get(%s) = %v, want a permanent ErrTooLarge", path, err)
		}
	}
	resp, err := f.Get(t.Context(), s.URL+"/exact")
	if err != nil || len(resp.Body) != 1000 {
		t.Fatalf("a body of exactly MaxBodyBytes must pass: %v", err)
	}
}

func TestContentTypeChecked(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.handle("/pdf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte("%PDF-1.7"))
	})
	s.handle("/bad", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=")
		w.Write([]byte("x"))
	})
	s.handle("/sniffed", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // keep net/http from setting one
		w.Write([]byte("<!DOCTYPE html><html><body>hi</body></html>"))
	})
	s.handle("/feed", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "Application/RSS+XML; charset=utf-8")
		w.Write([]byte("<rss/>"))
	})
	f := New(testConfig())
	for _, path := range []string{"/pdf", "/bad"} {
		if _, err := f.Get(t.Context(), s.URL+path); !errors.Is(err, ErrContentType) || Temporary(err) {
			t.Errorf("Get(%s) = %v, want a permanent ErrContentType", path, err)
		}
	}
	resp, err := f.Get(t.Context(), s.URL+"/sniffed")
	if err != nil || !strings.HasPrefix(resp.ContentType, "text/html") || !strings.Contains(string(resp.Body), "hi") {
		t.Fatalf("a page without Content-Type must be sniffed as HTML: %+v, %v", resp, err)
	}
	if _, err := f.Get(t.Context(), s.URL+"/feed"); err != nil {
		t.Fatalf("an RSS feed must be accepted: %v", err)
	}
}

func TestRetriesAfterRetryAfter(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	var ts timestamps
	s.handle("/", func(w http.ResponseWriter, r *http.Request) {
		ts.record()
		if s.count("/") == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		html("ok")(w, r)
	})
	cfg := testConfig()
	cfg.Retries = 2
	resp, err := New(cfg).Get(t.Context(), s.URL+"/")
	if err != nil || string(resp.Body) != "ok" {
		t.Fatalf("Get = %v, want success after a retry", err)
	}
	if gap := ts.minGap(t, 2); gap < 900*time.Millisecond {
		t.Fatalf("retried %v after a 429 with Retry-After: 1, want about 1s", gap)
	}
}

func TestLongRetryAfterIsLeftToTheCaller(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "come back later", http.StatusServiceUnavailable)
	})
	cfg := testConfig()
	cfg.Retries = 3
	_, err := New(cfg).Get(t.Context(), s.URL+"/")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 503 || se.RetryAfter != time.Hour || !Temporary(err) {
		t.Fatalf("Get = %v, want a temporary 503 StatusError with RetryAfter 1h", err)
	}
	if n := s.count("/"); n != 1 {
		t.Fatalf("the server saw %d requests, want 1: an hour is not waited for", n)
	}
}

func TestServerErrorForeverIsTemporaryAfterRetries(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.handle("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	cfg := testConfig()
	cfg.Retries = 3
	_, err := New(cfg).Get(t.Context(), s.URL+"/")
	var se *StatusError
	if !errors.Is(err, ErrHTTPStatus) || !errors.As(err, &se) || se.Code != 503 || !Temporary(err) {
		t.Fatalf("Get = %v, want a temporary 503 StatusError", err)
	}
	if n := s.count("/"); n != 4 {
		t.Fatalf("the server saw %d requests, want 4 (1 + 3 retries)", n)
	}
}

func TestNotFoundIsPermanent(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	cfg := testConfig()
	cfg.Retries = 3
	_, err := New(cfg).Get(t.Context(), s.URL+"/missing")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 404 || Temporary(err) {
		t.Fatalf("Get = %v, want a permanent 404 StatusError", err)
	}
	if n := s.count("/missing"); n != 1 {
		t.Fatalf("the server saw %d requests, want 1: a 404 is not retried", n)
	}
}

func TestSlowServerTimesOut(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	stall := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	s.handle("/headers", func(w http.ResponseWriter, r *http.Request) { stall(r) })
	s.handle("/body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html>")
		w.(http.Flusher).Flush()
		stall(r)
	})
	cfg := testConfig()
	cfg.Timeout = 100 * time.Millisecond
	f := New(cfg)
	for _, path := range []string{"/headers", "/body"} {
		start := time.Now()
		_, err := f.Get(t.Context(), s.URL+path)
		if err == nil || !Temporary(err) {
			t.Errorf("Get(%s) = %v, want a temporary timeout error", path, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Get(%s) took %v, want about the 100ms Timeout", path, d)
		}
	}
}

func TestCanceledContextStopsGet(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.handle("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	})
	cfg := testConfig()
	cfg.Retries = 5
	cfg.RetryBaseDelay = time.Hour // only the context can end the wait
	cfg.MaxRetryDelay = time.Hour
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := New(cfg).Get(ctx, s.URL+"/")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get = %v, want the context's deadline", err)
	}
}

func TestTemporary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&StatusError{Code: 429}, true},
		{&StatusError{Code: 500}, true},
		{&StatusError{Code: 503, RetryAfter: time.Minute}, true},
		{&StatusError{Code: 408}, true},
		{&StatusError{Code: 404}, false},
		{&StatusError{Code: 403}, false},
		{fmt.Errorf("get x: %w", &StatusError{Code: 502}), true},
		{ErrBlockedAddress, false},
		{ErrRobots, false},
		{transientError{fmt.Errorf("%w: unreachable", ErrRobots)}, true},
		{ErrTooLarge, false},
		{ErrContentType, false},
		{ErrTooManyRedirects, false},
		{ErrInvalidURL, false},
		{context.Canceled, false},
		{context.DeadlineExceeded, true},
		{&url.Error{Op: "Get", URL: "x", Err: context.DeadlineExceeded}, true},
		{&net.DNSError{Err: "no such host", IsNotFound: true}, false},
		{&net.DNSError{Err: "server misbehaving", IsTemporary: true}, true},
		{&net.OpError{Op: "read", Err: fmt.Errorf("read: %w", syscall.ECONNRESET)}, true},
		{errors.New("something else"), false},
	} {
		if got := Temporary(tc.err); got != tc.want {
			t.Errorf("Temporary(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestUnknownHostIsPermanent(t *testing.T) {
	t.Parallel()
	_, err := New(testConfig()).Get(t.Context(), "http://no-such-host.test/")
	var de *net.DNSError
	if !errors.As(err, &de) || Temporary(err) || errors.Is(err, ErrRobots) {
		t.Fatalf("Get = %v, want a permanent DNS error that does not blame robots.txt", err)
	}
}
