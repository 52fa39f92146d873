package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twin-llm/twin/gateway"
)

// postSite serves one article, "A post", at /post and 404 elsewhere.
func postSite(t *testing.T) *httptest.Server {
	t.Helper()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/post" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "<html><head><title>A post</title></head><body><article><h1>A post</h1><p>%s</p></article></body></html>",
			strings.Repeat("Sentences about queues and streams. ", 30))
	}))
	t.Cleanup(site.Close)
	return site
}

func TestCrawlWaitReportsStoredAndFailedURLs(t *testing.T) {
	t.Parallel()
	site := postSite(t)
	p := startUp(t, t.TempDir(), "--crawl-allow-private")

	out, err := p.twin(t, "crawl", site.URL+"/post", "--author", "Ann Example", "--wait")
	if err != nil || !strings.Contains(out, "stored    "+site.URL+"/post (1 document)") {
		t.Fatalf("twin crawl --wait = %q, %v", out, err)
	}
	out, err = p.twin(t, "crawl", site.URL+"/missing", "mailto:ann@example.com", "--wait")
	if err == nil || !strings.Contains(out, "failed    "+site.URL+"/missing") || !strings.Contains(out, "404") ||
		!strings.Contains(out, "rejected  mailto:ann@example.com") {
		t.Fatalf("twin crawl --wait with a missing page = %q, %v; want a failure with the reason and a non-zero exit", out, err)
	}

	out, err = p.twin(t, "docs", "ls", "--author", "ann example", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ls struct{ Documents []gateway.DocSummary }
	if err := json.Unmarshal([]byte(out), &ls); err != nil || len(ls.Documents) != 1 || ls.Documents[0].Title != "A post" {
		t.Fatalf("twin docs ls = %q (%v), want the one post", out, err)
	}
	out, err = p.twin(t, "docs", "get", ls.Documents[0].ID)
	if err != nil || !strings.Contains(out, "Sentences about queues") || !strings.Contains(out, "revision    1") {
		t.Fatalf("twin docs get = %q, %v", out, err)
	}
	if _, err := p.twin(t, "docs", "get", "no-such-id"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("twin docs get of an unknown id: %v, want a 404", err)
	}
}

func TestCrawlEndpointAnswersWithReasons(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	for _, c := range []struct {
		body     string
		code     int
		contains string
	}{
		{`{"urls":["https://example.com/a?utm_source=x#top","ftp://x"],"author":"Ann"}`, 202, `"normalized": "https://example.com/a"`},
		{`{"urls":["https://example.com/a?utm_source=x#top","ftp://x"],"author":"Ann"}`, 202, `"duplicate": true`},
		{`{"urls":["ftp://x","http://user:pw@example.com/"]}`, 400, `"reason"`},
		{`{"urls":[]}`, 400, "at least one URL"},
		{`{"url":"https://example.com"}`, 400, "unknown field"},
		{`not json`, 400, "invalid JSON"},
		{``, 400, "empty body"},
		{`{"urls":["https://example.com"]} {}`, 400, "more than one value"},
	} {
		resp, err := http.Post(p.http+"/v1/crawl", "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(buf.String(), c.contains) {
			t.Errorf("POST %s = %d %s; want %d containing %q", c.body, resp.StatusCode, buf.String(), c.code, c.contains)
		}
	}
}

func TestExtractPrintsWhatTheCrawlerWouldStore(t *testing.T) {
	t.Parallel()
	page := writeTemp(t, `<html lang="en"><head><title>Streams in practice</title><meta name="author" content="Ann Example"></head>
<body><nav>Home | About</nav><article><h1>Streams in practice</h1><p>`+strings.Repeat("A stream keeps every message until its consumers ack it. ", 20)+`</p></article><footer>© 2026</footer></body></html>`)
	var out, errOut bytes.Buffer
	if code := execute(context.Background(), []string{"extract", page, "--json"}, &out, &errOut, noEnv); code != 0 {
		t.Fatalf("twin extract: %s", errOut.String())
	}
	var res struct{ Title, Author, Language, Text string }
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Title != "Streams in practice" || res.Author != "Ann Example" || !strings.Contains(res.Text, "until its consumers ack it") || strings.Contains(res.Text, "Home | About") {
		t.Fatalf("twin extract --json = %+v", res)
	}
}
