// Package scifacttest loads BEIR SciFact's corpus and training claims for
// the quality tests of the models and rerankers, and searches it with BM25
// scored as the vector store scores. The data is CC BY-NC, evaluation
// only: it is read from the shared data folder (or TWIN_SCIFACT_DIR) and
// never copied into the repository.
package scifacttest

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twin-llm/twin/internal/evaldata"
	"github.com/twin-llm/twin/internal/store/vectors"
)

// Available reports whether the data is there.
func Available() bool {
	_, err := os.Stat(filepath.Join(dir(), "corpus.jsonl.gz"))
	return err == nil
}

func dir() string {
	if d := os.Getenv("TWIN_SCIFACT_DIR"); d != "" {
		return d
	}
	return evaldata.Path("scifact")
}

// Set is the corpus and the judged training claims.
type Set struct {
	DocIDs  []string
	Docs    []string // title + "\n" + text: one chunk per abstract
	Queries []Query
}

// Query is a claim with its judged documents (id → relevance).
type Query struct {
	ID, Text string
	Rel      map[string]int
}

// Load reads the data, or skips the test when it is not there.
func Load(t testing.TB) *Set {
	t.Helper()
	if !Available() {
		t.Skipf("SciFact data not found at %s (set TWIN_SCIFACT_DIR)", dir())
	}
	d := &Set{}
	f, err := os.Open(filepath.Join(dir(), "corpus.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(gz)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var doc struct {
			ID    string `json:"_id"`
			Title string `json:"title"`
			Text  string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatalf("corpus: %v", err)
		}
		d.DocIDs = append(d.DocIDs, doc.ID)
		d.Docs = append(d.Docs, doc.Title+"\n"+doc.Text)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("corpus: %v", err)
	}

	qrels := map[string]map[string]int{}
	raw, err := os.ReadFile(filepath.Join(dir(), "qrels", "train.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		fields := strings.Split(strings.TrimSpace(line), "\t")
		if i == 0 || len(fields) != 3 {
			continue // the header
		}
		score, err := strconv.Atoi(fields[2])
		if err != nil {
			t.Fatalf("qrels line %d: %v", i+1, err)
		}
		if qrels[fields[0]] == nil {
			qrels[fields[0]] = map[string]int{}
		}
		qrels[fields[0]][fields[1]] = score
	}

	raw, err = os.ReadFile(filepath.Join(dir(), "queries.train.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var q struct {
			ID   string `json:"_id"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(line), &q); err != nil {
			t.Fatalf("queries: %v", err)
		}
		if rel := qrels[q.ID]; len(rel) > 0 {
			d.Queries = append(d.Queries, Query{ID: q.ID, Text: q.Text, Rel: rel})
		}
	}
	return d
}

// Index is an inverted index of sparse vectors scored like the store:
// BM25 with the IDF of the documents it holds.
type Index struct {
	n        int
	postings map[uint32][]posting
}

type posting struct {
	doc int32
	w   float32
}

// NewIndex indexes docs; a document is its position.
func NewIndex(docs []vectors.Sparse) *Index {
	ix := &Index{n: len(docs), postings: map[uint32][]posting{}}
	for d, v := range docs {
		for i, id := range v.Indices {
			ix.postings[id] = append(ix.postings[id], posting{int32(d), v.Values[i]})
		}
	}
	return ix
}

// Search returns the documents with a positive score, best first, at most
// limit. scores, one per document, is scratch space.
func (ix *Index) Search(q vectors.Sparse, limit int, scores []float64) []int {
	clear(scores)
	var hits []int
	for i, id := range q.Indices {
		ps := ix.postings[id]
		if len(ps) == 0 {
			continue
		}
		nt := float64(len(ps))
		idf := math.Log(1 + (float64(ix.n)-nt+0.5)/(nt+0.5))
		for _, p := range ps {
			if scores[p.doc] == 0 {
				hits = append(hits, int(p.doc))
			}
			scores[p.doc] += idf * float64(q.Values[i]) * float64(p.w)
		}
	}
	return TopK(hits, scores, limit)
}

// TopK sorts docs by score, ties broken by document order, and keeps limit.
func TopK(docs []int, scores []float64, limit int) []int {
	slices.SortFunc(docs, func(a, b int) int {
		if c := cmp.Compare(scores[b], scores[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return docs[:min(limit, len(docs))]
}
