package rerank

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
)

// Judged is one query with its candidates as retrieval returned them and
// the grade of each: the unit the learned reranker is fitted and
// evaluated on.
type Judged struct {
	Query string
	// Texts are the candidates in retrieval order, best first.
	Texts []string
	// Scores are the candidates' retrieval scores, one per text; nil when
	// the retrieval scores are not known.
	Scores []float64
	// Grades are the candidates' relevance, one per text, 0 (not relevant
	// or not judged) to 3.
	Grades []int
	// Docs, when set, names each candidate's document: candidates of the
	// same document (chunks) count once in nDCG, at the first place one
	// of them is ranked, as a search that returns documents shows them.
	Docs []string
	// Ideal are the grades of every document judged relevant to the query,
	// retrieved or not, for nDCG's ideal ranking; nil takes the grades of
	// the candidates (of their documents, when Docs is set).
	Ideal []int
}

// validate checks that the slices line up.
func (j Judged) validate() error {
	switch {
	case len(j.Grades) != len(j.Texts):
		return fmt.Errorf("%w: %d grades for %d texts", ErrJudged, len(j.Grades), len(j.Texts))
	case j.Scores != nil && len(j.Scores) != len(j.Texts):
		return fmt.Errorf("%w: %d scores for %d texts", ErrJudged, len(j.Scores), len(j.Texts))
	case j.Docs != nil && len(j.Docs) != len(j.Texts):
		return fmt.Errorf("%w: %d document ids for %d texts", ErrJudged, len(j.Docs), len(j.Texts))
	}
	return nil
}

// NDCG is nDCG@k of the candidates of j taken in order (indices into
// j.Texts, best first), with linear gains (a grade counts as itself) and
// the log2 discount: BEIR's definition, as embed.NDCG computes it.
func NDCG(j Judged, order []int, k int) float64 {
	var dcg float64
	rank := 0
	var seen map[string]bool
	if j.Docs != nil {
		seen = make(map[string]bool, k)
	}
	for _, i := range order {
		if rank >= k {
			break
		}
		if seen != nil {
			if seen[j.Docs[i]] {
				continue
			}
			seen[j.Docs[i]] = true
		}
		if g := j.Grades[i]; g > 0 {
			dcg += float64(g) / math.Log2(float64(rank+2))
		}
		rank++
	}
	ideal := idealDCG(j, k)
	if ideal == 0 {
		return 0
	}
	return dcg / ideal
}

// idealDCG is the DCG@k of the best possible ranking.
func idealDCG(j Judged, k int) float64 {
	gains := j.Ideal
	if gains == nil {
		if j.Docs == nil {
			gains = slices.Clone(j.Grades)
		} else {
			best := map[string]int{}
			for i, d := range j.Docs {
				best[d] = max(best[d], j.Grades[i])
			}
			for _, g := range best {
				gains = append(gains, g)
			}
		}
	} else {
		gains = slices.Clone(gains)
	}
	slices.SortFunc(gains, func(a, b int) int { return cmp.Compare(b, a) })
	var ideal float64
	for i, g := range gains {
		if i >= k || g <= 0 {
			break
		}
		ideal += float64(g) / math.Log2(float64(i+2))
	}
	return ideal
}

// Order returns the indices of scores from the highest score down; ties
// keep the input (retrieval) order, as the rag worker sorts.
func Order(scores []float64) []int {
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	return order
}

// Identity is the retrieval order of n candidates.
func Identity(n int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	return order
}

// Evaluation is the mean nDCG@k of a reranker over judged queries.
type Evaluation struct {
	Queries int
	// Retrieval is the mean nDCG@k of the candidates in retrieval order,
	// Reranked of the reranker's order.
	Retrieval, Reranked float64
}

// Evaluate reranks each judged query's candidates with r and measures
// nDCG@k before and after. r is given the candidates' documents and
// retrieval scores when it reads them (DocumentReranker, ScoredReranker)
// and the query has them, as Pipeline.Reranked gives them in service.
func Evaluate(ctx context.Context, r Reranker, judged []Judged, k int) (Evaluation, error) {
	var ev Evaluation
	for _, j := range judged {
		if err := j.validate(); err != nil {
			return Evaluation{}, err
		}
		var scores []float64
		var err error
		if dr, ok := r.(DocumentReranker); ok && (j.Docs != nil || j.Scores != nil) {
			scores, err = dr.ScoreDocuments(ctx, j.Query, j.Texts, j.Scores, j.Docs)
		} else if sr, ok := r.(ScoredReranker); ok && j.Scores != nil {
			scores, err = sr.ScoreRetrieved(ctx, j.Query, j.Texts, j.Scores)
		} else {
			scores, err = r.Score(ctx, j.Query, j.Texts)
		}
		if err != nil {
			return Evaluation{}, fmt.Errorf("rerank: evaluate with %s: %w", r.Name(), err)
		}
		if len(scores) != len(j.Texts) {
			return Evaluation{}, fmt.Errorf("rerank: %s returned %d scores for %d texts", r.Name(), len(scores), len(j.Texts))
		}
		ev.Retrieval += NDCG(j, Identity(len(j.Texts)), k)
		ev.Reranked += NDCG(j, Order(scores), k)
		ev.Queries++
	}
	if ev.Queries > 0 {
		ev.Retrieval /= float64(ev.Queries)
		ev.Reranked /= float64(ev.Queries)
	}
	return ev, nil
}
