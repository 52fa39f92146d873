package crawler_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/crawler"
	"github.com/twin-llm/twin/consumers/crawler/fetch"
	"github.com/twin-llm/twin/consumers/crawler/github"
	"github.com/twin-llm/twin/consumers/crawler/web"
	"github.com/twin-llm/twin/consumers/writer"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/store/warehouse/ferrettest"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/producers/crawl"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

// stack is the crawl path on real parts: an embedded JetStream server with
// the twin topology, the crawler and the warehouse writer on the consumer
// runtime, and a real warehouse store.
type stack struct {
	js     jetstream.JetStream
	pub    *streams.Publisher
	crawl  *crawl.Publisher
	store  warehouse.Store
	dlq    *streams.DLQ
	cancel context.CancelFunc
	done   sync.WaitGroup
}

type stackOptions struct {
	fetch   fetch.Config
	sources func(f *fetch.Fetcher) []crawler.Source
	store   func(t testing.TB) warehouse.Store
}

func sqliteStore(t testing.TB) warehouse.Store {
	t.Helper()
	s, err := warehouse.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStack(t *testing.T, o stackOptions) *stack { return newStackB(t, o) }

// mongoStore is the MongoDB warehouse on FerretDB, a real MongoDB wire
// server running in the test process.
func mongoStore(t testing.TB) warehouse.Store {
	t.Helper()
	s, err := warehouse.OpenMongo(context.Background(), ferrettest.Start(t), "twin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// stores are the two warehouse implementations the crawl path is tested on.
var stores = []struct {
	name string
	open func(testing.TB) warehouse.Store
}{{"sqlite", sqliteStore}, {"mongodb", mongoStore}}

// crawlOpts is how the tests submit.
var crawlOpts = crawl.Options{Author: "Ann Example", Source: "test"}

func newStackB(t testing.TB, o stackOptions) *stack {
	t.Helper()
	js := streamstest.Start(t)
	topo := streamstest.Topology()
	if o.store == nil {
		o.store = sqliteStore
	}
	if o.fetch.PerHostRate == 0 {
		o.fetch.PerHostRate = 1000 // politeness has its own test
	}
	o.fetch.AllowPrivate = o.fetch.AllowPrivate || o.fetch.Resolver == nil
	if o.fetch.Timeout == 0 {
		o.fetch.Timeout = 2 * time.Second
	}
	o.fetch.Retries = -1 // the runtime retries; keep the tests quick
	f := fetch.New(o.fetch)
	sources := []crawler.Source{web.Walled{}, web.NewMedium(f), web.NewSubstack(f, 0), web.NewPage(f)}
	if o.sources != nil {
		sources = o.sources(f)
	}
	s := &stack{js: js, pub: streams.NewPublisher(js), store: o.store(t), dlq: streams.NewDLQ(js)}
	s.crawl = crawl.NewPublisher(s.pub, false)
	c := crawler.New(crawler.Config{Sources: sources, Publisher: s.pub, Log: zerolog.Nop()})
	rt := streams.NewRuntime(js, topo, nil, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	fast := []streams.Option{streams.Backoff(20*time.Millisecond, 100*time.Millisecond), streams.Heartbeat(time.Second)}
	s.done.Go(func() {
		_ = rt.Run(ctx, streams.ConsumerCrawler, c.Handler(), append(fast, streams.Workers(4), streams.PullBatch(4))...)
	})
	s.done.Go(func() { _ = rt.RunBatch(ctx, streams.ConsumerWriter, writer.New(s.store), fast...) })
	t.Cleanup(s.stop)
	return s
}

func (s *stack) stop() {
	s.cancel()
	s.done.Wait()
}

// submit queues urls and fails the test if any is rejected.
func (s *stack) submit(t *testing.T, refresh bool, urls ...string) {
	t.Helper()
	res, err := s.crawl.Submit(context.Background(), urls, crawl.Options{Author: "Ann Example", Source: "test", Refresh: refresh})
	if err != nil || len(res.Rejected) > 0 {
		t.Fatalf("submit %v: %+v, %v", urls, res.Rejected, err)
	}
}

// doc waits for the document of url in the warehouse with at least rev.
func (s *stack) doc(t *testing.T, url string, rev int64) warehouse.Document {
	t.Helper()
	var found warehouse.Document
	testwait.Until(t, 15*time.Second, "the document of "+url+" in the warehouse", func() bool {
		docs, err := s.store.List(context.Background(), warehouse.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			if d.Link == url && d.Revision >= rev {
				found = d
				return true
			}
		}
		letters, _ := s.dlq.List(context.Background(), "")
		for _, l := range letters {
			if strings.Contains(string(l.Letter.Body), url) {
				t.Fatalf("%s was dead-lettered by %s: %s", url, l.Letter.Consumer, l.Letter.Error)
			}
		}
		return false
	})
	return found
}

// deadLetter waits for the crawler's dead letter about url.
func (s *stack) deadLetter(t *testing.T, url string) string {
	t.Helper()
	var reason string
	testwait.Until(t, 15*time.Second, "a dead letter for "+url, func() bool {
		letters, err := s.dlq.List(context.Background(), streams.ConsumerCrawler)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range letters {
			if strings.Contains(string(l.Letter.Body), url) {
				reason = l.Letter.Error
				return true
			}
		}
		return false
	})
	return reason
}

func realPagesDir() (string, error) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "extraction-dev", "html")
	_, err := os.Stat(dir)
	return dir, err
}

// realPages returns a few real article pages of the extraction benchmark,
// or skips the test when the data set is absent.
func realPages(t *testing.T, n int) map[string][]byte {
	t.Helper()
	if _, err := realPagesDir(); err != nil {
		t.Skipf("real pages not available (%v): a fresh clone runs without ../shared/data", err)
	}
	return realPagesOf(t, n)
}

func realPagesOf(t testing.TB, n int) map[string][]byte {
	dir, _ := realPagesDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string][]byte{}
	for _, e := range entries[:min(n, len(entries))] {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		pages["/"+strings.TrimSuffix(e.Name(), ".html.gz")] = b
	}
	return pages
}

func TestCrawlsRealPagesIntoTheWarehouseOnce(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			crawlsRealPagesOnce(t, st.open)
		})
	}
}

func crawlsRealPagesOnce(t *testing.T, open func(testing.TB) warehouse.Store) {
	pages := realPages(t, 5)
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		if r.URL.Path == "/robots.txt" {
			fmt.Fprint(w, "User-agent: *\nDisallow: /private/\n")
			return
		}
		page, ok := pages[r.URL.Path]
		if !ok {
			page = []byte("<html><head><title>Secret</title></head><body><article><p>" + strings.Repeat("private words ", 50) + "</p></article></body></html>")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer srv.Close()
	s := newStack(t, stackOptions{store: open})

	var urls []string
	for p := range pages {
		urls = append(urls, srv.URL+p)
	}
	slices.Sort(urls)
	s.submit(t, false, urls...)
	s.submit(t, false, urls[0]) // the same URL again: deduplicated
	for _, u := range urls {
		d := s.doc(t, u, 1)
		if d.Title == "" || len(d.Content) < 200 || d.Author != "Ann Example" || d.Collection != warehouse.Articles {
			t.Errorf("%s stored as %+v", u, summary(d))
		}
	}
	s.submit(t, false, srv.URL+"/private/page")
	if reason := s.deadLetter(t, srv.URL+"/private/page"); !strings.Contains(reason, "robots") {
		t.Errorf("dead letter for a disallowed page says %q, want robots", reason)
	}
	mu.Lock()
	if hits[strings.TrimPrefix(urls[0], srv.URL)] != 1 || hits["/private/page"] != 0 || hits["/robots.txt"] != 1 {
		t.Errorf("server hits %v: want each page once, the disallowed one never, robots.txt once", hits)
	}
	mu.Unlock()
	docs, _ := s.store.List(context.Background(), warehouse.ListOptions{})
	if len(docs) != len(urls) {
		t.Errorf("warehouse holds %d documents, want %d", len(docs), len(urls))
	}
}

func summary(d warehouse.Document) string {
	return fmt.Sprintf("{title %q author %q collection %s rev %d, %d bytes}", d.Title, d.Author, d.Collection, d.Revision, len(d.Content))
}

func TestChangedPageGetsANewRevisionAndUnchangedNoneEvenBackToAnEarlierText(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			changedPageGetsANewRevision(t, st.open)
		})
	}
}

func changedPageGetsANewRevision(t *testing.T, open func(testing.TB) warehouse.Store) {
	var mu sync.Mutex
	body := "first version of the text. "
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "<html><head><title>Changing</title></head><body><article><h1>Changing</h1><p>%s</p></article></body></html>", strings.Repeat(body, 30))
	}))
	defer srv.Close()
	s := newStack(t, stackOptions{store: open})
	u := srv.URL + "/post"
	s.submit(t, false, u)
	first := s.doc(t, u, 1)

	s.submit(t, true, u) // unchanged content: crawled, not rewritten
	s.submit(t, true, srv.URL+"/marker")
	s.doc(t, srv.URL+"/marker", 1)
	if again, _ := s.store.Get(context.Background(), first.Collection, first.ID); again.Revision != first.Revision {
		t.Fatalf("an unchanged page got revision %d after %d", again.Revision, first.Revision)
	}

	mu.Lock()
	body = "second version, rewritten. "
	mu.Unlock()
	s.submit(t, true, u)
	second := s.doc(t, u, first.Revision+1)
	if second.ID != first.ID || !strings.Contains(second.Content, "second version") {
		t.Fatalf("changed page stored as %s, want the same id with the new text", summary(second))
	}

	// Back to the first text: a new write too, though the same content was
	// crawled within the dedup window.
	mu.Lock()
	body = "first version of the text. "
	mu.Unlock()
	s.submit(t, true, u)
	third := s.doc(t, u, second.Revision+1)
	if !strings.Contains(third.Content, "first version") {
		t.Fatalf("page changed back stored as %s, want the first text again", summary(third))
	}
}

func TestRefusesWhatItMustNotStore(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		page := []byte("<html><body>" + strings.Repeat("x", 2<<20) + "</body></html>")
		w.Header().Set("Content-Type", "text/html")
		// Announced, so the refusal comes before the body is read and does
		// not race this test's short timeout on a loaded machine.
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		w.Write(page)
	})
	mux.HandleFunc("/image", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG\r\n"))
	})
	mux.HandleFunc("/challenge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<html><head><title>Just a moment...</title></head><body>Enable JavaScript and cookies to continue</body></html>`)
	})
	mux.HandleFunc("/challenge-200", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><head><title>Just a moment...</title></head><body><div id="challenge-platform">Checking if the site connection is secure</div></body></html>`)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/gone", http.NotFound)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s := newStack(t, stackOptions{fetch: fetch.Config{MaxBodyBytes: 1 << 20, Timeout: 300 * time.Millisecond}})

	for path, want := range map[string]string{
		"/big":           "too large",
		"/image":         "content type",
		"/challenge-200": "bot challenge",
		"/gone":          "404",
		"/slow":          "", // a timeout is retried until MaxDeliver, then dead-lettered
	} {
		s.submit(t, false, srv.URL+path)
		reason := s.deadLetter(t, srv.URL+path)
		if !strings.Contains(strings.ToLower(reason), want) {
			t.Errorf("%s: dead letter says %q, want %q", path, reason, want)
		}
	}
	// The publisher refuses a login-walled URL when it is submitted; one
	// published straight to NATS is refused by the crawler.
	const walled = "https://www.linkedin.com/in/ann"
	if res, err := s.crawl.Submit(context.Background(), []string{walled}, crawl.Options{Source: "test"}); err != nil ||
		len(res.Accepted) != 0 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, "requires a login") {
		t.Errorf("submit %s = %+v, %v; want it rejected for its login wall", walled, res, err)
	}
	if _, err := s.pub.Publish(context.Background(), streams.Out{Subject: schemas.SubjectCrawlRequests, MsgID: crawl.MsgID(walled),
		Body: &schemas.CrawlRequest{URL: walled, Source: "nats", RequestedAt: time.Now().UTC()}}); err != nil {
		t.Fatal(err)
	}
	if reason := s.deadLetter(t, "https://www.linkedin.com/in/ann"); !strings.Contains(reason, "login") {
		t.Errorf("linkedin: dead letter says %q, want a login-wall refusal", reason)
	}
	if docs, _ := s.store.List(context.Background(), warehouse.ListOptions{}); len(docs) != 0 {
		t.Errorf("warehouse holds %d documents, want none", len(docs))
	}
}

// loopbackResolver sends every host to 127.0.0.1, standing in for DNS.
type loopbackResolver struct{}

func (loopbackResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}, nil
}

func TestRefusesPrivateAddressesUnlessAllowed(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<html><body><article><p>internal page</p></article></body></html>")
	}))
	defer srv.Close()
	// No --crawl-allow-private: a public-looking name that resolves to a
	// loopback address is refused at dial time.
	s := newStack(t, stackOptions{fetch: fetch.Config{Resolver: loopbackResolver{}}})
	u := "http://intranet.example.com:" + strings.Split(srv.URL, ":")[2] + "/page"
	s.submit(t, false, u)
	if reason := s.deadLetter(t, u); !strings.Contains(reason, "blocked") && !strings.Contains(reason, "private") && !strings.Contains(reason, "loopback") {
		t.Errorf("dead letter says %q, want the address refused", reason)
	}
}

func TestMediumFallsBackToTheAuthorFeedBehindAChallenge(t *testing.T) {
	t.Parallel()
	var base string // the test server as medium.com, known once it listens
	feedXML := func() string {
		article := base + "/@ann/why-queues-matter-123abc"
		return `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Stories by Ann on Medium</title>
<item><title>Why queues matter</title><link>` + article + `?source=rss-abc</link><dc:creator>Ann</dc:creator>
<pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate>
<content:encoded><![CDATA[<h3>Why queues matter</h3><p>` + strings.Repeat("Queues decouple producers from consumers. ", 20) + `</p>]]></content:encoded></item>
<item><title>Another story</title><link>` + base + `/@ann/another-456?source=rss-abc</link>
<content:encoded><![CDATA[<p>` + strings.Repeat("Something else entirely. ", 20) + `</p>]]></content:encoded></item>
</channel></rss>`
	}
	var feedHits int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/feed/@ann":
			mu.Lock()
			feedHits++
			mu.Unlock()
			w.Header().Set("Content-Type", "application/rss+xml")
			fmt.Fprint(w, feedXML())
		case "/robots.txt":
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Cf-Mitigated", "challenge")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, "<html><head><title>Just a moment...</title></head><body></body></html>")
		}
	}))
	defer srv.Close()
	// medium.com is served by the loopback server: the fetcher's resolver
	// says so, and the URL carries the test server's port.
	base = "http://medium.com:" + strings.Split(srv.URL, ":")[2]
	s := newStack(t, stackOptions{fetch: fetch.Config{Resolver: loopbackResolver{}, AllowPrivate: true}})
	u := base + "/@ann/why-queues-matter-123abc"
	s.submit(t, false, u)
	d := s.doc(t, u, 1)
	if d.Title != "Why queues matter" || !strings.Contains(d.Content, "Queues decouple") || strings.Contains(d.Content, "Just a moment") {
		t.Fatalf("stored %s: want the article from the feed, not the challenge", summary(d))
	}
	mu.Lock()
	defer mu.Unlock()
	if feedHits != 1 {
		t.Errorf("feed fetched %d times, want 1", feedHits)
	}
}

func TestSubstackArchiveGivesEveryFreePost(t *testing.T) {
	t.Parallel()
	post := func(slug string) string {
		return fmt.Sprintf("<html><head><title>%s</title></head><body><article><h1>%s</h1><p>%s</p></article></body></html>",
			slug, slug, strings.Repeat("A newsletter paragraph about "+slug+". ", 25))
	}
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v1/archive":
			if r.URL.Query().Get("offset") != "0" {
				fmt.Fprint(w, "[]")
				return
			}
			json.NewEncoder(w).Encode([]map[string]string{
				{"canonical_url": srvURL + "/p/one", "audience": "everyone"},
				{"canonical_url": srvURL + "/p/two", "audience": "everyone"},
				{"canonical_url": srvURL + "/p/paid", "audience": "only_paid"},
			})
		case strings.HasPrefix(r.URL.Path, "/p/"):
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, post(strings.TrimPrefix(r.URL.Path, "/p/")))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	port := strings.Split(srv.URL, ":")[2]
	srvURL = "http://ann.substack.com:" + port
	s := newStack(t, stackOptions{fetch: fetch.Config{Resolver: loopbackResolver{}, AllowPrivate: true}})
	s.submit(t, false, srvURL+"/archive")
	for _, slug := range []string{"one", "two"} {
		d := s.doc(t, srvURL+"/p/"+slug, 1)
		if d.Collection != warehouse.Posts || d.Platform != "substack" || !strings.Contains(d.Content, "about "+slug) {
			t.Errorf("post %s stored as %s", slug, summary(d))
		}
	}
	docs, _ := s.store.List(context.Background(), warehouse.ListOptions{})
	if len(docs) != 2 {
		t.Errorf("warehouse holds %d documents, want the 2 free posts", len(docs))
	}
}

func TestCrawlsAGitHubStyleRepositoryFromALocalGitRepository(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("go-git clones local repositories through the git binary, which is not installed")
	}
	dir := t.TempDir()
	for path, content := range map[string]string{
		"README.md":                "# engine\n\nA tiny engine for tests.\n",
		"main.go":                  "package main\n\nfunc main() {}\n",
		"vendor/dep/dep.go":        "package dep\n",
		"logo.png":                 "\x89PNG\r\n\x1a\n\x00\x00",
		"internal/gen/api.pb.go":   "// Code generated by protoc-gen-go. DO NOT EDIT.\npackage gen\n",
		"docs/guide.md":            "# Guide\n\nHow to use it.\n",
		"node_modules/x/index.js":  "module.exports = 1\n",
		"scripts/build.sh":         "#!/bin/sh\necho build\n",
		"package-lock.json":        "{}\n",
		".github/workflows/ci.yml": "on: push\n",
	} {
		p := filepath.Join(dir, path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	s := newStack(t, stackOptions{sources: func(f *fetch.Fetcher) []crawler.Source {
		return []crawler.Source{github.New(github.Config{CloneURL: func(owner, repo string) string { return dir }}), web.NewPage(f)}
	}})
	s.submit(t, false, "https://github.com/ann/engine")
	d := s.doc(t, "https://github.com/ann/engine", 1)
	if d.Collection != warehouse.Repositories || d.Platform != "github" || d.Title != "ann/engine" {
		t.Fatalf("repository stored as %s", summary(d))
	}
	for _, kept := range []string{"## README.md", "## main.go", "## docs/guide.md", "## scripts/build.sh"} {
		if !strings.Contains(d.Content, kept) {
			t.Errorf("content lacks %q", kept)
		}
	}
	for _, skipped := range []string{"vendor/dep", "logo.png", "api.pb.go", "node_modules", "package-lock.json", ".github"} {
		if strings.Contains(d.Content, skipped) {
			t.Errorf("content has %q, which should have been skipped", skipped)
		}
	}
}

func TestPolitenessHoldsThePerHostRate(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var at []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		fmt.Fprintf(w, "<html><head><title>%s</title></head><body><article><p>%s</p></article></body></html>", r.URL.Path, strings.Repeat("words and more words. ", 30))
	}))
	defer srv.Close()
	const rate = 10 // per second: at least 100ms between two requests
	s := newStack(t, stackOptions{fetch: fetch.Config{PerHostRate: rate}})
	var urls []string
	for i := range 6 {
		urls = append(urls, fmt.Sprintf("%s/p%d", srv.URL, i))
	}
	s.submit(t, false, urls...)
	for _, u := range urls {
		s.doc(t, u, 1)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	// The server sees arrival times, which connection set-up skews by a few
	// tens of milliseconds; over the run the rate must hold.
	if span, least := at[len(at)-1].Sub(at[0]), time.Duration(len(at)-1)*time.Second/rate-50*time.Millisecond; span < least {
		t.Errorf("%d requests within %s: faster than %d per second", len(at), span, rate)
	}
}
