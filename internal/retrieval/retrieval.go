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

	"github.com/twin-llm/twin/internal/embed"
	"github.com/twin-llm/twin/internal/vectors"
	"github.com/twin-llm/twin/internal/warehouse"
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

// Searcher runs searches.
type Searcher struct {
	Dense  embed.Dense
	Sparse embed.Sparse
	Store  vectors.Store
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

// Search runs r as a hybrid search: dense and sparse candidates fused by
// reciprocal rank.
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
	dense, err := s.Dense.Embed(ctx, []string{q})
	if err != nil {
		return nil, fmt.Errorf("embed query: %w", err)
	}
	query := vectors.Query{Dense: dense[0], Sparse: s.Sparse.Query(q), Limit: k}
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
