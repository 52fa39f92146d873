package rerank

import (
	"encoding/json"
	"fmt"
	"math"
)

// The reranking servers answer with one (index, score) entry per text,
// sorted by score rather than by index; TEI's /rerank (which the SageMaker
// TEI container also serves) and the Cohere-style /v1/rerank differ only in
// the names. decodeTEI and decodeCohere parse an answer for n texts and put
// the scores back in the order of the texts, and hold the server to one
// finite score per text: a reordered, partial or padded answer would
// silently give a passage another's score.

// teiEntry is one entry of TEI's answer, [{"index":0,"score":0.93}, ...]
// (with "text" when return_text was set).
type teiEntry struct {
	Index *int     `json:"index"`
	Score *float64 `json:"score"`
}

// cohereEntry is one entry of a Cohere-style answer's "results".
type cohereEntry struct {
	Index *int     `json:"index"`
	Score *float64 `json:"relevance_score"`
}

// cohereAnswer is a Cohere-style answer. Cohere, Jina and vLLM call the
// list "results"; Voyage calls it "data".
type cohereAnswer struct {
	Results []cohereEntry `json:"results"`
	Data    []cohereEntry `json:"data"`
}

func decodeTEI(body []byte, n int) ([]float64, error) {
	var entries []teiEntry
	if err := json.Unmarshal(body, &entries); err != nil {
		return nil, fmt.Errorf("%w: not a TEI rerank answer ([{\"index\":…,\"score\":…}, …]): %w", ErrResponse, err)
	}
	return placeScores(len(entries), n, func(i int) (*int, *float64) { return entries[i].Index, entries[i].Score })
}

func decodeCohere(body []byte, n int) ([]float64, error) {
	var a cohereAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("%w: not a rerank answer ({\"results\":[{\"index\":…,\"relevance_score\":…}, …]}): %w", ErrResponse, err)
	}
	entries := a.Results
	if entries == nil {
		entries = a.Data
	}
	return placeScores(len(entries), n, func(i int) (*int, *float64) { return entries[i].Index, entries[i].Score })
}

// placeScores checks that the m entries that entry returns hold one finite
// score for each index in [0, n), and returns the scores by index.
func placeScores(m, n int, entry func(i int) (*int, *float64)) ([]float64, error) {
	if m != n {
		return nil, fmt.Errorf("%w: %d scores for %d texts", ErrResponse, m, n)
	}
	scores := make([]float64, n)
	seen := make([]bool, n)
	for i := range m {
		index, score := entry(i)
		switch {
		case index == nil:
			return nil, fmt.Errorf("%w: entry %d has no index", ErrResponse, i)
		case *index < 0 || *index >= n:
			return nil, fmt.Errorf("%w: entry %d has index %d, outside [0, %d)", ErrResponse, i, *index, n)
		case seen[*index]:
			return nil, fmt.Errorf("%w: index %d appears twice", ErrResponse, *index)
		case score == nil:
			return nil, fmt.Errorf("%w: entry %d (index %d) has no score", ErrResponse, i, *index)
		case math.IsNaN(*score) || math.IsInf(*score, 0):
			return nil, fmt.Errorf("%w: index %d has score %v", ErrResponse, *index, *score)
		}
		seen[*index] = true
		scores[*index] = *score
	}
	return scores, nil
}
