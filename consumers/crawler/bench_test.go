package crawler_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/consumers/crawler/fetch"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

// BenchmarkCrawlThroughput crawls pages from a local server through the
// whole path (crawl request, fetch, extraction, DOCS, warehouse writer,
// SQLite) and reports pages/s from submission to stored. Politeness is off
// (the rate limit would be the only figure); the pages are the real ones of
// the extraction benchmark when present, else a generated article.
//
//	go test -run '^$' -bench CrawlThroughput -benchtime 200x ./consumers/crawler/
func BenchmarkCrawlThroughput(b *testing.B) {
	pages := benchPages(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		var i int
		fmt.Sscanf(r.URL.Path, "/p/%d", &i)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(pages[i%len(pages)])
	}))
	defer srv.Close()
	s := newStackB(b, stackOptions{fetch: fetch.Config{PerHostRate: -1, PerHostConcurrency: 8}})
	urls := make([]string, b.N)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/p/%d", srv.URL, i)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(urls); i += 500 {
		if _, err := s.crawl.Submit(context.Background(), urls[i:min(i+500, len(urls))], crawlOpts); err != nil {
			b.Fatal(err)
		}
	}
	for {
		docs, err := s.store.List(context.Background(), warehouse.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(docs) >= b.N {
			break
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("only %d of %d pages stored after 5 minutes", len(docs), b.N)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pages/s")
}

func benchPages(b *testing.B) [][]byte {
	var out [][]byte
	if _, err := realPagesDir(); err == nil {
		for _, p := range realPagesOf(b, 20) {
			out = append(out, p)
		}
		return out
	}
	return [][]byte{[]byte("<html><head><title>Generated</title></head><body><article><h1>Generated</h1><p>" +
		strings.Repeat("A generated sentence for the crawl benchmark. ", 200) + "</p></article></body></html>")}
}
