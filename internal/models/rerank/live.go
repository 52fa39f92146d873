package rerank

import (
	"context"
	"sync/atomic"
)

// Live is a Reranker whose model can be replaced while it serves: the rag
// worker and the gateway's search hold one, and the model registry swaps in
// each version promoted or rolled back to. A call in flight finishes with
// the model it started with.
type Live struct {
	cur atomic.Pointer[holder]
}

// holder boxes the interface for atomic.Pointer.
type holder struct{ r Reranker }

// NewLive returns a Live serving r.
func NewLive(r Reranker) *Live {
	l := &Live{}
	l.Set(r)
	return l
}

// Set makes r the model of every later call.
func (l *Live) Set(r Reranker) { l.cur.Store(&holder{r}) }

// Current is the model serving now.
func (l *Live) Current() Reranker { return l.cur.Load().r }

// Name is the serving model's name.
func (l *Live) Name() string { return l.Current().Name() }

// Score scores with the serving model.
func (l *Live) Score(ctx context.Context, query string, texts []string) ([]float64, error) {
	return l.Current().Score(ctx, query, texts)
}

// ScoreDocuments scores with the serving model, with the texts' documents
// when it reads them (DocumentReranker).
func (l *Live) ScoreDocuments(ctx context.Context, query string, texts []string, scores []float64, docs []string) ([]float64, error) {
	r := l.Current()
	if d, ok := r.(DocumentReranker); ok {
		return d.ScoreDocuments(ctx, query, texts, scores, docs)
	}
	return r.Score(ctx, query, texts)
}
