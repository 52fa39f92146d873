package embed

import (
	"math"
	"slices"
)

// The retrieval metrics below follow the standard (TREC, pytrec_eval, BEIR)
// definitions, so numbers from `twin eval retrieval` compare with published
// ones. ranked is a result list, best first; rel maps a document id to its
// graded relevance (qrels), where only a grade > 0 counts as relevant. A
// document listed twice in ranked counts once, at its first position.

// NDCG is the normalized discounted cumulative gain at k: the sum of
// rel(d)/log2(rank+1) over the first k results, divided by the same sum for
// the ideal ranking of the judged documents. It is 0 when nothing is
// relevant.
func NDCG(ranked []string, rel map[string]int, k int) float64 {
	var dcg float64
	forTopK(ranked, k, func(rank int, id string) bool {
		if g := rel[id]; g > 0 {
			dcg += float64(g) / math.Log2(float64(rank+1))
		}
		return true
	})
	gains := make([]int, 0, len(rel))
	for _, g := range rel {
		if g > 0 {
			gains = append(gains, g)
		}
	}
	slices.Sort(gains)
	slices.Reverse(gains)
	var ideal float64
	for i, g := range gains {
		if i >= k {
			break
		}
		ideal += float64(g) / math.Log2(float64(i+2))
	}
	if ideal == 0 {
		return 0
	}
	return dcg / ideal
}

// Recall is the fraction of the relevant documents found in the first k
// results (BEIR's definition: the denominator is the number of relevant
// documents, not capped at k). It is 0 when nothing is relevant.
func Recall(ranked []string, rel map[string]int, k int) float64 {
	relevant := 0
	for _, g := range rel {
		if g > 0 {
			relevant++
		}
	}
	if relevant == 0 {
		return 0
	}
	found := 0
	forTopK(ranked, k, func(_ int, id string) bool {
		if rel[id] > 0 {
			found++
		}
		return true
	})
	return float64(found) / float64(relevant)
}

// MRR is the reciprocal rank of the first relevant document within the
// first k results, 0 when there is none (average it over queries for the
// mean reciprocal rank).
func MRR(ranked []string, rel map[string]int, k int) float64 {
	var rr float64
	forTopK(ranked, k, func(rank int, id string) bool {
		if rel[id] > 0 {
			rr = 1 / float64(rank)
			return false
		}
		return true
	})
	return rr
}

// forTopK calls fn with the 1-based rank of each distinct id among the
// first k distinct ids of ranked, until fn returns false.
func forTopK(ranked []string, k int, fn func(rank int, id string) bool) {
	seen := make(map[string]struct{}, min(k, len(ranked)))
	rank := 0
	for _, id := range ranked {
		if rank >= k {
			return
		}
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		rank++
		if !fn(rank, id) {
			return
		}
	}
}
