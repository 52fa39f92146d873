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
	"time"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/testwait"
)

func TestCrawlWaitReportsStoredAndFailedURLs(t *testing.T) {
	t.Parallel()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/post" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "<html><head><title>A post</title></head><body><article><h1>A post</h1><p>%s</p></article></body></html>",
			strings.Repeat("Sentences about queues and streams. ", 30))
	}))
	defer site.Close()
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

func TestImportWritesDocumentsAndReportsBadLines(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	sample := "../../testdata/simonw-til/til-sample.jsonl"
	out, err := p.twin(t, "import", sample, "--author", "Simon Willison", "--kind", "post")
	if err != nil || !strings.Contains(out, "12 documents published, 0 bad lines") {
		t.Fatalf("twin import = %q, %v", out, err)
	}
	bad := writeTemp(t, `{"id":"ok-1","title":"Fine","text":"some text"}
not json
{"title":"no identity","text":"x"}
{"id":"empty"}
`)
	out, err = p.twin(t, "import", bad)
	if err != nil || !strings.Contains(out, "1 documents published, 3 bad lines") ||
		!strings.Contains(out, "line 2:") || !strings.Contains(out, "line 3:") || !strings.Contains(out, "line 4:") {
		t.Fatalf("twin import with bad lines = %q, %v", out, err)
	}
	testwait.Until(t, 10*time.Second, "13 documents in the warehouse", func() bool {
		var ls struct{ Documents []gateway.DocSummary }
		out, err := p.twin(t, "docs", "ls", "--json")
		return err == nil && json.Unmarshal([]byte(out), &ls) == nil && len(ls.Documents) == 13
	})
	// An imported document keeps its id.
	out, err = p.twin(t, "docs", "get", "ab/apache-bench-length-errors")
	if err != nil || !strings.Contains(out, "Apache Bench") || !strings.Contains(out, "Simon Willison") {
		t.Fatalf("twin docs get of an imported id = %q, %v", out, err)
	}
	// Importing the same file again stores nothing new.
	if _, err := p.twin(t, "import", sample, "--author", "Simon Willison", "--kind", "post"); err != nil {
		t.Fatal(err)
	}
	var st struct{ Documents []gateway.DocSummary }
	out, _ = p.twin(t, "docs", "ls", "--json")
	json.Unmarshal([]byte(out), &st)
	for _, d := range st.Documents {
		if d.Revision > 13 {
			t.Fatalf("a second import wrote %s again (revision %d)", d.ID, d.Revision)
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
