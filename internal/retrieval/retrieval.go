// Package retrieval answers a text query from the vector store: it embeds
// the query with the same models as the chunks (dense and BM25 sparse) and
// runs one hybrid, filtered search. The gateway's /v1/search, `twin search`,
// `twin eval retrieval` and the rag worker all search through it.
package retrieval

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

// Hit is one search result, in the shape of GET /v1/search.
type Hit struct {
	ID         string  `json:"id"`
	DocumentID string  `json:"document_id"`
	Score      float64 `json:"score"`
	Text       string  `json:"text"`
	Title      string  `json:"title"`
	Link       string  `json:"link"`
	Author     string  `json:"author"`
	Category   string  `json:"category"`
	ChunkIndex int     `json:"chunk_index"`
}

// Modes of search.
const (
	Hybrid = "hybrid" // dense and sparse candidates fused by reciprocal rank
	Sparse = "sparse" // BM25 alone
	Dense  = "dense"  // the dense model alone
)

// Searcher runs searches.
type Searcher struct {
	Dense  embed.Dense
	Sparse embed.Sparse
	Store  vectors.Store
	// Mode is Hybrid (the default), Sparse or Dense. Fusion pays only when
	// both sides are good: with the embedded hashed model, which is
	// lexical and weaker than BM25, it is better left out (see
	// docs/features.md for the measurements).
	Mode string
}

// DefaultMode is the search mode that suits a dense model: BM25 alone for
// the embedded hashed features, hybrid for a real encoder.
func DefaultMode(d embed.Dense) string {
	if _, ok := d.(*embed.Hashed); ok {
		return Sparse
	}
	return Hybrid
}

// Request is one search.
type Request struct {
	Query    string
	Author   string   // a name; matched by its normalized form
	Category []string // articles, posts, repositories
	K        int      // results wanted; default 10, at most 100
}

// ErrEmptyQuery is a query with no text.
var ErrEmptyQuery = errors.New("empty query")

// MaxK bounds how many results one search returns.
const MaxK = 100

// Search runs r in the searcher's mode.
func (s *Searcher) Search(ctx context.Context, r Request) ([]Hit, error) {
	q := strings.TrimSpace(r.Query)
	if q == "" {
		return nil, ErrEmptyQuery
	}
	k := r.K
	if k <= 0 {
		k = 10
	}
	k = min(k, MaxK)
	query := vectors.Query{Limit: k}
	if s.Mode != Sparse {
		dense, err := s.Dense.Embed(ctx, []string{q})
		if err != nil {
			return nil, fmt.Errorf("embed query: %w", err)
		}
		query.Dense = dense[0]
	}
	if s.Mode != Dense {
		query.Sparse = s.Sparse.Query(q)
	}
	if r.Author != "" {
		query.Filter.AuthorIDs = []string{warehouse.AuthorID(r.Author)}
	}
	query.Filter.Categories = r.Category
	hits, err := s.Store.Search(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	out := make([]Hit, len(hits))
	for i, h := range hits {
		p := h.Payload
		out[i] = Hit{ID: h.ID, DocumentID: p.DocumentID, Score: h.Score, Text: p.Text, Title: p.Title,
			Link: p.Link, Author: p.Author, Category: p.Category, ChunkIndex: p.ChunkIndex}
	}
	return out, nil
}
