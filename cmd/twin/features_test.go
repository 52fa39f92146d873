package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/testwait"
)

func search(t *testing.T, p *upProcess, q, author string) []retrieval.Hit {
	t.Helper()
	v := url.Values{"q": {q}, "k": {"5"}}
	if author != "" {
		v.Set("author", author)
	}
	code, body := get(t, p.http+"/v1/search?"+v.Encode())
	if code != 200 {
		t.Fatalf("/v1/search?%s = %d %s", v.Encode(), code, body)
	}
	var res struct{ Hits []retrieval.Hit }
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	return res.Hits
}

func TestImportedDocumentsBecomeSearchableAndChangesReachTheIndex(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	out, err := p.twin(t, "import", "../../testdata/simonw-til/til-sample.jsonl", "--author", "Simon Willison", "--kind", "post", "--wait")
	if err != nil || !strings.Contains(out, "12 documents searchable") {
		t.Fatalf("twin import --wait = %q, %v", out, err)
	}
	hits := search(t, p, "Apache Bench length errors", "simon willison")
	if len(hits) == 0 || hits[0].DocumentID != "ab/apache-bench-length-errors" || hits[0].Author != "Simon Willison" {
		t.Fatalf("search hits %+v: want the Apache Bench post first", hits)
	}
	other := writeTemp(t, `{"id":"ada/engines","title":"Engines","text":"Notes on the analytical engine and its cards."}`+"\n")
	if out, err := p.twin(t, "import", other, "--author", "Ada Lovelace", "--kind", "post", "--wait"); err != nil {
		t.Fatalf("import of another author: %q %v", out, err)
	}
	for _, h := range search(t, p, "Apache Bench length errors", "ada lovelace") {
		if h.Author != "Ada Lovelace" {
			t.Fatalf("another author's filter found %+v", h)
		}
	}

	// An update replaces the document's chunks; a delete removes them.
	changed := writeTemp(t, `{"id":"ab/apache-bench-length-errors","title":"Rewritten","text":"Completely different words about zebras and giraffes."}`+"\n")
	if out, err := p.twin(t, "import", changed, "--author", "Simon Willison", "--kind", "post", "--wait"); err != nil {
		t.Fatalf("import of a change: %q %v", out, err)
	}
	hits = search(t, p, "zebras giraffes", "simon willison")
	if len(hits) == 0 || hits[0].DocumentID != "ab/apache-bench-length-errors" || !strings.Contains(hits[0].Text, "zebras") {
		t.Fatalf("after the update: %+v", hits)
	}
	for _, h := range search(t, p, "Apache Bench length errors -l option", "simon willison") {
		if h.DocumentID == "ab/apache-bench-length-errors" && strings.Contains(h.Text, "Apache Bench") {
			t.Fatalf("an old chunk of the updated document is still searchable: %+v", h)
		}
	}

	// A delete removes every chunk; waiting on the index revision says when.
	if out, err := p.twin(t, "docs", "rm", "ab/apache-bench-length-errors"); err != nil || !strings.Contains(out, "deleted") {
		t.Fatalf("twin docs rm = %q, %v", out, err)
	}
	testwait.Until(t, 10*time.Second, "the deleted document gone from search", func() bool {
		for _, h := range search(t, p, "zebras giraffes", "") {
			if h.DocumentID == "ab/apache-bench-length-errors" {
				return false
			}
		}
		return true
	})
	st, _ := p.twin(t, "status", "--json")
	if strings.Count(st, `"name": "embedder"`) != 1 {
		t.Errorf("status lacks the embedder: %s", st)
	}
}
