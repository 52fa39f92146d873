// Package vectors is the vector store behind twin's retrieval: points (one
// per chunk) with a dense vector, a sparse (BM25) vector and a payload,
// searched densely, sparsely or both fused with reciprocal rank fusion,
// under payload filters. Store has an embedded implementation (package
// vectors/embedded) and a Qdrant one (package vectors/qdrant); one test
// suite (vectorstest) runs against both.
package vectors

import (
	"context"
	"errors"
)

// Sparse is a sparse vector: term ids and their weights, ids ascending and
// unique. For BM25, the values are a chunk's saturated term frequencies and
// the store applies the inverse document frequency at query time (Qdrant's
// IDF modifier does the same), so adding a chunk never rewrites others.
type Sparse struct {
	Indices []uint32  `json:"indices"`
	Values  []float32 `json:"values"`
}

// Payload is what a point carries besides its vectors. The filterable
// fields are first-class; the rest (chunking and model parameters) rides in
// Extra.
type Payload struct {
	DocumentID string         `json:"document_id"`
	AuthorID   string         `json:"author_id"`
	Author     string         `json:"author"`
	Category   string         `json:"category"` // articles, posts, repositories
	Platform   string         `json:"platform"`
	Link       string         `json:"link,omitempty"`
	Title      string         `json:"title,omitempty"`
	ChunkIndex int            `json:"chunk_index"`
	Text       string         `json:"text"`
	Extra      map[string]any `json:"extra,omitempty"`
}

// Point is one chunk in the store. ID is a UUID (deterministic: UUIDv5 of
// document id, chunk index and content hash), so upserting the same chunk
// twice leaves one point.
type Point struct {
	ID      string
	Dense   []float32
	Sparse  Sparse
	Payload Payload
}

// Filter narrows a search or a count by set membership on payload fields:
// a point matches when, for every non-empty set, its field is in the set.
type Filter struct {
	AuthorIDs   []string
	Categories  []string
	Platforms   []string
	DocumentIDs []string
}

// Query is one search. With both Dense and Sparse set it is hybrid: each is
// searched for Prefetch candidates and the two rankings are fused with
// reciprocal rank fusion (score 1/(k+rank), k = 60, summed). With only one
// set it is a plain dense (cosine) or sparse (BM25 with IDF) search.
type Query struct {
	Dense    []float32
	Sparse   Sparse
	Filter   Filter
	Limit    int // results wanted; default 10
	Prefetch int // candidates per side of a hybrid query; default max(4*Limit, 50)
}

// Hit is one result: the point's payload and its score (cosine similarity,
// BM25 score or fused RRF score, higher is better).
type Hit struct {
	ID      string
	Score   float64
	Payload Payload
}

// Store is the vector store.
type Store interface {
	// Upsert writes points; when it returns nil they are durable (they
	// survive a crash of the process) and visible to Search.
	Upsert(ctx context.Context, points []Point) error
	// DeleteDocument removes the points of document id except those whose
	// ids are in keep (the chunks of its current version), and returns how
	// many it removed.
	DeleteDocument(ctx context.Context, documentID string, keep []string) (int, error)
	// Search runs q.
	Search(ctx context.Context, q Query) ([]Hit, error)
	// Count counts the points matching f.
	Count(ctx context.Context, f Filter) (int, error)
	// Dim is the dense dimension the store was opened with.
	Dim() int
	Close() error
}

// RRFK is the k of reciprocal rank fusion.
const RRFK = 60

// ErrDimension is a dense vector whose length is not the store's Dim.
var ErrDimension = errors.New("vectors: wrong dense dimension")

// ErrClosed is a call on a closed store.
var ErrClosed = errors.New("vectors: store closed")
