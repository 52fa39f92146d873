package rerank

import (
	"context"
	"fmt"
)

// ScoredReranker is a Reranker that can also use each candidate's
// retrieval score. A caller that has the scores (a search's hits) should
// prefer ScoreRetrieved; Score gives the same reranker without them.
type ScoredReranker interface {
	Reranker
	// ScoreRetrieved is Score with the candidates' retrieval scores, one
	// per text, higher is better.
	ScoreRetrieved(ctx context.Context, query string, texts []string, scores []float64) ([]float64, error)
}

// DocumentReranker is a Reranker that can also read which document each
// candidate is part of: a caller that reranks chunks (a search's hits)
// should prefer ScoreDocuments, so that a document's chunks are judged
// together; Score gives the same reranker with every text its own
// document.
type DocumentReranker interface {
	Reranker
	// ScoreDocuments is Score with each text's document id (texts of one
	// document share it) and, when not nil, retrieval scores.
	ScoreDocuments(ctx context.Context, query string, texts []string, scores []float64, docs []string) ([]float64, error)
}

// Learned is the reranker fitted on relevance judgments: a linear model
// and boosted trees (Model) over the features Extractor computes. It is deterministic and
// safe for concurrent use.
type Learned struct {
	m   *Model
	ex  *Extractor
	col []int // the model's features' columns in Features' rows
}

// NewLearned returns the reranker that serves m; it fails, matching
// ErrModel, when m does not validate.
func NewLearned(m *Model) (*Learned, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: no model", ErrModel)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	idx := featureIndex()
	l := &Learned{m: m, ex: NewExtractor(), col: make([]int, len(m.Features))}
	for i, f := range m.Features {
		l.col[i] = idx[f]
	}
	return l, nil
}

// Name is "learned/v1/" and the model's ID.
func (l *Learned) Name() string { return "learned/v1/" + l.m.ID() }

// Model returns the served model; the caller must not change it.
func (l *Learned) Model() *Model { return l.m }

// Score scores texts, taken to be in retrieval order, best first. A model
// that reads retrieval scores (Model.NeedsScores) sees them as equal here;
// such a model should be served through ScoreRetrieved.
func (l *Learned) Score(ctx context.Context, query string, texts []string) ([]float64, error) {
	return l.ScoreRetrieved(ctx, query, texts, nil)
}

// ScoreRetrieved scores texts with their retrieval scores (nil when not
// known).
func (l *Learned) ScoreRetrieved(ctx context.Context, query string, texts []string, scores []float64) ([]float64, error) {
	return l.ScoreDocuments(ctx, query, texts, scores, nil)
}

// ScoreDocuments scores texts with their retrieval scores and documents
// (either nil when not known).
func (l *Learned) ScoreDocuments(ctx context.Context, query string, texts []string, scores []float64, docs []string) ([]float64, error) {
	rows, err := l.ex.DocumentFeatures(ctx, query, texts, scores, docs)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(rows))
	z := make([]float64, len(l.col))
	for i, row := range rows {
		out[i] = l.m.scoreInto(row, l.col, z)
	}
	return out, nil
}

// score is the model's score of one row of all features.
func (m *Model) score(row []float64, col []int) float64 {
	return m.scoreInto(row, col, make([]float64, len(col)))
}

// scoreInto is score with z, one entry per model feature, as scratch.
func (m *Model) scoreInto(row []float64, col []int, z []float64) float64 {
	for f, c := range col {
		z[f] = (row[c] - m.Mean[f]) / m.Scale[f]
	}
	s := m.linear(z)
	for _, t := range m.Trees {
		s += t.eval(z)
	}
	return s
}
