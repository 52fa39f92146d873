// Package rerank scores (question, passage) pairs so the rag worker keeps
// the best passages: the embedded lexical scorer, a cross-encoder behind a
// TEI or Cohere-style /rerank API, a SageMaker endpoint, and the linear
// model learned from relevance judgments (features, fitting, its model
// file, nDCG).
package rerank

import (
	"context"
	"errors"
)

// Reranker scores passages against a query.
type Reranker interface {
	// Name identifies the reranker in traces.
	Name() string
	// Score returns one relevance score per text, in the order of texts;
	// higher is more relevant. Scores are comparable within one call only.
	Score(ctx context.Context, query string, texts []string) ([]float64, error)
}

// ErrConfig is a reranker configuration that cannot work.
var ErrConfig = errors.New("rerank: invalid configuration")
