package embed

import (
	"context"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// Dense embeds texts into dense vectors of Dim() dimensions, L2-normalized.
// Implementations batch as they see fit and are safe for concurrent use.
type Dense interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Dim() int
	// Model names the model and its parameters, recorded in each point's
	// payload (e.g. "hashed-ngrams/v1/dim384").
	Model() string
}

// Sparse turns texts into sparse vectors; for queries it may weigh terms
// differently than for documents (BM25 puts the saturation on the document
// side only).
type Sparse interface {
	Document(text string) vectors.Sparse
	Query(text string) vectors.Sparse
	Model() string
}
