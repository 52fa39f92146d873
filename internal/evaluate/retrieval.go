package evaluate

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twin-llm/twin/internal/bench"
	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/retrieval"
)

// Searcher runs a query the way the twin retrieves, restricted to author,
// and returns its k best hits.
type Searcher interface {
	Search(ctx context.Context, query, author string, k int) ([]retrieval.Hit, error)
}

// RetrievalConfig is one retrieval evaluation.
type RetrievalConfig struct {
	Author      string // the corpus is imported under this author
	K           int    // cut-off of nDCG
	Concurrency int    // queries in flight
}

// RetrievalResult is what `twin eval retrieval` reports.
type RetrievalResult struct {
	Queries    int     `json:"queries"`
	K          int     `json:"k"`
	NDCG       float64 `json:"ndcg"`
	Recall100  float64 `json:"recall@100"`
	MRR10      float64 `json:"mrr@10"`
	LatencyP50 string  `json:"latency_p50"`
}

// Retrieval runs every query through s and scores its ranking against
// the judgments: nDCG@k with graded gains and a log2 discount, recall over
// the judged relevant documents at 100, the reciprocal rank of the first
// relevant one at 10. Ranking is by document: its first chunk counts.
func Retrieval(ctx context.Context, s Searcher, qs []Query, judged Judgments, cfg RetrievalConfig) (RetrievalResult, error) {
	author, k, concurrency := cfg.Author, cfg.K, cfg.Concurrency
	type outcome struct {
		ndcg, recall, mrr float64
		took              time.Duration
		err               error
	}
	outs := make([]outcome, len(qs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(concurrency, 1) {
		wg.Go(func() {
			for i := range next {
				q := qs[i]
				start := time.Now()
				hits, err := s.Search(ctx, q.Text, author, retrieval.MaxK)
				if err != nil {
					outs[i].err = fmt.Errorf("query %s: %w", q.ID, err)
					continue
				}
				ranked := make([]string, 0, len(hits))
				seen := map[string]bool{}
				for _, h := range hits {
					if !seen[h.DocumentID] {
						seen[h.DocumentID] = true
						ranked = append(ranked, h.DocumentID)
					}
				}
				rel := judged[q.ID]
				outs[i] = outcome{ndcg: embed.NDCG(ranked, rel, k), recall: embed.Recall(ranked, rel, 100),
					mrr: embed.MRR(ranked, rel, 10), took: time.Since(start)}
			}
		})
	}
	for i := range qs {
		next <- i
	}
	close(next)
	wg.Wait()
	var r RetrievalResult
	var lat []time.Duration
	for _, o := range outs {
		if o.err != nil {
			return r, o.err
		}
		r.NDCG += o.ndcg
		r.Recall100 += o.recall
		r.MRR10 += o.mrr
		lat = append(lat, o.took)
	}
	n := float64(len(outs))
	r.Queries, r.K = len(outs), k
	if n > 0 {
		r.NDCG, r.Recall100, r.MRR10 = r.NDCG/n, r.Recall100/n, r.MRR10/n
		r.LatencyP50 = bench.Percentile(lat, 0.5).Round(time.Microsecond).String()
	}
	return r, nil
}
