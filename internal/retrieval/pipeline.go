package retrieval

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Backend runs one search; *Searcher is the real one.
type Backend interface {
	Search(ctx context.Context, r Request) ([]Hit, error)
}

// Scorer scores passages against a query, higher is better:
// rerank.Reranker (the lexical, learned or remote reranker in service).
type Scorer interface {
	Name() string
	Score(ctx context.Context, query string, texts []string) ([]float64, error)
}

// DocumentScorer is a Scorer that also reads each passage's retrieval
// score and document (rerank.DocumentReranker, the learned reranker): the
// chunks of one document are judged together, and it sees what its
// trainer saw.
type DocumentScorer interface {
	Scorer
	ScoreDocuments(ctx context.Context, query string, texts []string, scores []float64, docs []string) ([]float64, error)
}

// Pipeline is the retrieval that the chat answers from and that /v1/search
// returns, so that what a user searches is what the twin answers from: the
// question's variants searched under the filters, merged by reciprocal rank
// fusion, then reranked. The rag worker runs its stages one by one (each
// is a step of its trace); the gateway runs Retrieve.
type Pipeline struct {
	Search Backend
	Rerank Scorer // nil: no reranking
	// Expand writes the queries searched for a question, the question
	// first; nil: Variants, the lexical ones.
	Expand     func(ctx context.Context, question, author string, n int) []string
	Expansions int // queries per question, the question included; default 3
	PerQuery   int // hits per query; default 20
	Candidates int // merged hits kept for reranking; default 50
}

// Defaults of Pipeline.
const (
	DefaultExpansions = 3
	// DefaultPerQuery is as deep as the pool: the variants of a question
	// mostly find the same chunks, so at 20 each their fusion held about
	// 20 candidates, not 50, and the reranker had little to choose from
	// (see docs/training.md).
	DefaultPerQuery = DefaultCandidates
	// DefaultCandidates is what the reranker orders: enough that the
	// relevant passages BM25 ranks low are among them (the learned
	// reranker was measured on 50), few enough that it costs about a
	// millisecond.
	DefaultCandidates = 50
)

func (p *Pipeline) expansions() int { return orDefault(p.Expansions, DefaultExpansions) }
func (p *Pipeline) perQuery() int   { return orDefault(p.PerQuery, DefaultPerQuery) }
func (p *Pipeline) candidates() int { return orDefault(p.Candidates, DefaultCandidates) }

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// Queries are the queries searched for question.
func (p *Pipeline) Queries(ctx context.Context, question, author string) []string {
	if p.Expand != nil {
		if qs := p.Expand(ctx, question, author, p.expansions()); len(qs) > 0 {
			return qs
		}
	}
	return Variants(question, author, p.expansions())
}

// Merge searches every query under filter's author and categories and
// merges the hits by point id with reciprocal rank fusion (k = 60): a chunk
// that several phrasings find ranks above one that a single phrasing finds.
// It keeps the best max(Candidates, filter.K) hits; Score is the fused
// score. When a search fails, the hits so far come back with the error.
func (p *Pipeline) Merge(ctx context.Context, queries []string, filter Request) ([]Hit, error) {
	type merged struct {
		hit   Hit
		score float64
	}
	byID := map[string]*merged{}
	var order []string
	var firstErr error
	limit := max(p.candidates(), filter.K)
	for _, q := range queries {
		r := Request{Query: q, Author: filter.Author, Category: filter.Category, K: max(p.perQuery(), min(filter.K, MaxK))}
		hits, err := p.Search.Search(ctx, r)
		if err != nil {
			if errors.Is(err, ErrEmptyQuery) {
				continue
			}
			firstErr = err
			break
		}
		for rank, h := range hits {
			m, ok := byID[h.ID]
			if !ok {
				m = &merged{hit: h}
				byID[h.ID] = m
				order = append(order, h.ID)
			}
			m.score += 1 / float64(60+rank+1)
		}
	}
	out := make([]Hit, 0, len(order))
	for _, id := range order {
		m := byID[id]
		m.hit.Score = m.score
		out = append(out, m.hit)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, firstErr
}

// Reranked orders hits by the reranker's scores against question, best
// first, and keeps the best k (all when k <= 0); Score becomes the
// reranker's. Without a reranker the hits keep their order.
func (p *Pipeline) Reranked(ctx context.Context, question string, hits []Hit, k int) ([]Hit, error) {
	if k <= 0 || k > len(hits) {
		k = len(hits)
	}
	if p.Rerank == nil || len(hits) == 0 {
		return hits[:k], nil
	}
	texts := make([]string, len(hits))
	for i, h := range hits {
		texts[i] = RerankText(h)
	}
	var scores []float64
	var err error
	if ds, ok := p.Rerank.(DocumentScorer); ok {
		retrieved, docs := make([]float64, len(hits)), make([]string, len(hits))
		for i, h := range hits {
			retrieved[i], docs[i] = h.Score, h.DocumentID
		}
		scores, err = ds.ScoreDocuments(ctx, question, texts, retrieved, docs)
	} else {
		scores, err = p.Rerank.Score(ctx, question, texts)
	}
	if err != nil {
		return nil, fmt.Errorf("rerank with %s: %w", p.Rerank.Name(), err)
	}
	if len(scores) != len(hits) {
		return nil, fmt.Errorf("reranker %s returned %d scores for %d passages", p.Rerank.Name(), len(scores), len(hits))
	}
	idx := make([]int, len(hits))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return scores[idx[i]] > scores[idx[j]] })
	out := make([]Hit, k)
	for n, i := range idx[:k] {
		out[n] = hits[i]
		out[n].Score = scores[i]
	}
	return out, nil
}

// Pool is the candidate pool Retrieve reranks for r: the best Candidates
// fused hits of r's query variants, each searched PerQuery deep, under its
// author and categories, in fused order. r.K does not change it: the chat
// reranks the same pool, and a reranker trained on it (the rerank trainer
// searches through CandidateSearch) sees exactly what it will rerank.
func (p *Pipeline) Pool(ctx context.Context, r Request) ([]Hit, error) {
	if strings.TrimSpace(r.Query) == "" {
		return nil, ErrEmptyQuery
	}
	return p.Merge(ctx, p.Queries(ctx, r.Query, r.Author), Request{Author: r.Author, Category: r.Category})
}

// CandidateSearch is a pipeline's Pool as a Backend: r.K, when positive,
// takes only the first r.K of the pool, and never more than the pool.
type CandidateSearch struct{ Pipeline *Pipeline }

// Search implements Backend.
func (c CandidateSearch) Search(ctx context.Context, r Request) ([]Hit, error) {
	hits, err := c.Pipeline.Pool(ctx, r)
	if r.K > 0 && r.K < len(hits) {
		hits = hits[:r.K]
	}
	return hits, err
}

// Retrieve runs the whole pipeline for r: the best r.K hits (10 by
// default), reranked unless rerank is false. The reranked pool is the same
// for every r.K (Pool), so asking for more results never reorders the
// first ones; past the pool come the hits of the variants searched r.K
// deep, in fused order, unreranked.
func (p *Pipeline) Retrieve(ctx context.Context, r Request, rerank bool) ([]Hit, error) {
	if r.K <= 0 {
		r.K = 10
	}
	r.K = min(r.K, MaxK)
	if strings.TrimSpace(r.Query) == "" {
		return nil, ErrEmptyQuery
	}
	queries := p.Queries(ctx, r.Query, r.Author)
	filter := Request{Author: r.Author, Category: r.Category}
	hits, err := p.Merge(ctx, queries, filter)
	if err != nil {
		return nil, err
	}
	if rerank {
		if hits, err = p.Reranked(ctx, r.Query, hits, 0); err != nil {
			return nil, err
		}
	}
	if r.K <= len(hits) {
		return hits[:min(r.K, len(hits))], nil
	}
	filter.K = r.K
	deeper, err := p.Merge(ctx, queries, filter)
	if err != nil {
		return nil, err
	}
	inPool := make(map[string]bool, len(hits))
	for _, h := range hits {
		inPool[h.ID] = true
	}
	for _, h := range deeper {
		if len(hits) == r.K {
			break
		}
		if !inPool[h.ID] {
			hits = append(hits, h)
		}
	}
	return hits, nil
}

// RerankerName names the reranker in service ("" without one), for
// responses that say what ranked them.
func (p *Pipeline) RerankerName() string {
	if p.Rerank == nil {
		return ""
	}
	return p.Rerank.Name()
}

// RerankText is what a reranker reads of a hit: the document's title on
// the first line, then the chunk. A chunk cut from the middle of a
// document says little of its subject; the title says it, and a
// cross-encoder or a learned reranker reads it as the passage's head. The
// rerank trainer builds its candidates with it too.
func RerankText(h Hit) string {
	if h.Title == "" || strings.HasPrefix(h.Text, h.Title) {
		return h.Text
	}
	return h.Title + "\n" + h.Text
}
