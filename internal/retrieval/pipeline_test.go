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
