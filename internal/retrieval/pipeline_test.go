package retrieval_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/vectors/embedded"
)

// searcher is a real BM25 searcher over the embedded vector store, holding
// one chunk per text, document "d<i>".
func searcher(t *testing.T, texts ...string) *retrieval.Searcher {
	t.Helper()
	dense, sparse := embed.NewHashed(64), embed.NewBM25()
	st, err := embedded.Open(t.TempDir(), dense.Dim())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	vecs, err := dense.Embed(t.Context(), texts)
	if err != nil {
		t.Fatal(err)
	}
	points := make([]vectors.Point, len(texts))
	for i, text := range texts {
		points[i] = vectors.Point{ID: fmt.Sprintf("00000000-0000-4000-8000-%012x", i), Dense: vecs[i], Sparse: sparse.Document(text),
			Payload: vectors.Payload{DocumentID: fmt.Sprintf("d%d", i), Category: "posts", Text: text}}
	}
	if err := st.Upsert(t.Context(), points); err != nil {
		t.Fatal(err)
	}
	return &retrieval.Searcher{Dense: dense, Sparse: sparse, Store: st, Mode: retrieval.Sparse}
}

// byLength prefers shorter passages: an order no retrieval would produce,
// so a test sees that the reranker decided.
type byLength struct{ err error }

func (byLength) Name() string { return "by-length" }

func (s byLength) Score(_ context.Context, _ string, texts []string) ([]float64, error) {
	if s.err != nil {
		return nil, s.err
	}
	out := make([]float64, len(texts))
	for i, t := range texts {
		out[i] = -float64(len(t))
	}
	return out, nil
}

func docs(hits []retrieval.Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.DocumentID)
	}
	return out
}

func TestRetrieveFusesTheQueriesAndReranksUnlessAskedNot(t *testing.T) {
	t.Parallel()
	s := searcher(t,
		"sqlite indexes make queries fast; sqlite indexes sqlite indexes",
		"an index in sqlite",
		"indexing tables in sqlite is a long story told over many many words here",
		"pelicans riding bicycles")
	p := &retrieval.Pipeline{Search: s, Rerank: byLength{}}
	for _, tc := range []struct {
		name   string
		rerank bool
		k      int
		want   []string
	}{
		{"fused order", false, 10, []string{"d0", "d1", "d2"}},
		{"reranked", true, 10, []string{"d1", "d0", "d2"}},
		{"reranked, cut to k", true, 2, []string{"d1", "d0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hits, err := p.Retrieve(t.Context(), retrieval.Request{Query: "What about indexing SQLite?", K: tc.k}, tc.rerank)
			if err != nil {
				t.Fatal(err)
			}
			if got := docs(hits); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRetrieveErrors(t *testing.T) {
	t.Parallel()
	s := searcher(t, "sqlite indexes")
	for _, tc := range []struct {
		name string
		p    *retrieval.Pipeline
		q    string
		want string
	}{
		{"empty query", &retrieval.Pipeline{Search: s}, "  ", retrieval.ErrEmptyQuery.Error()},
		{"reranker down", &retrieval.Pipeline{Search: s, Rerank: byLength{err: errors.New("connection refused")}}, "sqlite", "connection refused"},
	} {
		_, err := tc.p.Retrieve(t.Context(), retrieval.Request{Query: tc.q}, true)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

func TestRerankTextLeadsWithTheTitleOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ title, text, want string }{
		{"SQLite indexes", "An index makes queries fast.", "SQLite indexes\nAn index makes queries fast."},
		{"SQLite indexes", "SQLite indexes\n\nAn index makes queries fast.", "SQLite indexes\n\nAn index makes queries fast."},
		{"", "An index makes queries fast.", "An index makes queries fast."},
	} {
		if got := retrieval.RerankText(retrieval.Hit{Title: tc.title, Text: tc.text}); got != tc.want {
			t.Errorf("RerankText(%q, %q) = %q, want %q", tc.title, tc.text, got, tc.want)
		}
	}
}

// TestRetrieveKeepsTheFirstResultsWhateverK checks that the reranked pool
// does not grow with k: asking for more results appends hits past the
// pool and never reorders the first ones, and the pool is what the rerank
// trainer learns from (CandidateSearch), whatever depth it asks for.
func TestRetrieveKeepsTheFirstResultsWhateverK(t *testing.T) {
	t.Parallel()
	var texts []string
	for i := range 12 {
		// Longer texts match more: retrieval prefers them, byLength does not.
		texts = append(texts, "sqlite"+strings.Repeat(" sqlite index", i+1)+strings.Repeat(" filler", 12-i))
	}
	s := searcher(t, texts...)
	p := &retrieval.Pipeline{Search: s, Rerank: byLength{}, Expansions: 1, PerQuery: 4, Candidates: 4}
	q := "sqlite index"
	few, err := p.Retrieve(t.Context(), retrieval.Request{Query: q, K: 3}, true)
	if err != nil {
		t.Fatal(err)
	}
	many, err := p.Retrieve(t.Context(), retrieval.Request{Query: q, K: 10}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(few) != 3 || len(many) != 10 {
		t.Fatalf("got %d and %d hits, want 3 and 10", len(few), len(many))
	}
	if !slices.Equal(docs(few), docs(many)[:3]) {
		t.Errorf("k=3 gives %v, k=10 starts %v: the first results moved", docs(few), docs(many)[:3])
	}
	seen := map[string]bool{}
	for _, h := range many {
		if seen[h.ID] {
			t.Fatalf("hit %s twice in %v", h.ID, docs(many))
		}
		seen[h.ID] = true
	}
	pool, err := p.Pool(t.Context(), retrieval.Request{Query: q, K: 4})
	if err != nil {
		t.Fatal(err)
	}
	trained, err := retrieval.CandidateSearch{Pipeline: p}.Search(t.Context(), retrieval.Request{Query: q, K: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(pool) != 4 || !slices.Equal(docs(pool), docs(trained)) {
		t.Errorf("pool %v, the trainer's candidates at depth 50 %v: want the same 4", docs(pool), docs(trained))
	}
	fewer, err := retrieval.CandidateSearch{Pipeline: p}.Search(t.Context(), retrieval.Request{Query: q, K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(docs(fewer), docs(pool)[:2]) {
		t.Errorf("the trainer's candidates at depth 2 %v, want the pool's first two of %v", docs(fewer), docs(pool))
	}
	// The pool is reranked; what follows it comes in fused order.
	reranked, err := p.Reranked(t.Context(), q, pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(docs(reranked), docs(many)[:4]) {
		t.Errorf("k=10 starts %v, want the reranked pool %v", docs(many)[:4], docs(reranked))
	}
}

// withDocuments records what a DocumentScorer is given.
type withDocuments struct {
	byLength
	docs   []string
	scores []float64
}

func (s *withDocuments) ScoreDocuments(ctx context.Context, q string, texts []string, scores []float64, docs []string) ([]float64, error) {
	s.docs, s.scores = docs, scores
	return s.Score(ctx, q, texts)
}

func TestRerankedGivesADocumentScorerTheDocumentsAndScores(t *testing.T) {
	t.Parallel()
	s := &withDocuments{}
	p := &retrieval.Pipeline{Rerank: s}
	hits := []retrieval.Hit{{ID: "a", DocumentID: "d1", Score: 0.5, Text: "long text here"}, {ID: "b", DocumentID: "d1", Score: 0.25, Text: "short"}}
	got, err := p.Reranked(t.Context(), "q", hits, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.docs, []string{"d1", "d1"}) || !slices.Equal(s.scores, []float64{0.5, 0.25}) {
		t.Errorf("the scorer got documents %v and scores %v", s.docs, s.scores)
	}
	if got[0].ID != "b" {
		t.Errorf("got %v first, want b", got[0].ID)
	}
}
