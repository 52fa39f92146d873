// Package evaluate measures the twin's quality on judged data, through
// the same paths users take. Each evaluation is a function of its own
// beside the readers of its data: Retrieval scores the ranking of search
// against BEIR judgments (nDCG, recall, MRR).
package evaluate

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twin-llm/twin/internal/bench"
	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/retrieval"
)

// Query is a judged query.
type Query struct{ ID, Text string }

// Judgments are graded relevance: query id → document id → grade.
type Judgments map[string]map[string]int

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

// ReadQrels reads a file of BEIR judgments: a TSV of query id, corpus id
// and graded relevance, with a header.
func ReadQrels(path string) (Judgments, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	j, err := ParseQrels(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return j, nil
}

// ParseQrels parses BEIR judgments (see ReadQrels).
func ParseQrels(r io.Reader) (Judgments, error) {
	out := Judgments{}
	sc := bufio.NewScanner(r)
	for line := 0; sc.Scan(); line++ {
		parts := strings.Split(strings.TrimSpace(sc.Text()), "\t")
		if len(parts) != 3 {
			continue
		}
		score, err := strconv.Atoi(parts[2])
		if err != nil {
			if line == 0 {
				continue // the header
			}
			return nil, fmt.Errorf("line %d: score %q is not a number", line+1, parts[2])
		}
		if out[parts[0]] == nil {
			out[parts[0]] = map[string]int{}
		}
		out[parts[0]][parts[1]] = score
	}
	return out, sc.Err()
}

// ReadQueries reads the BEIR queries (JSON lines of _id and text) that
// have judgments.
func ReadQueries(path string, judged Judgments) ([]Query, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Query
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var q struct {
			ID   string `json:"_id"`
			Text string `json:"text"`
		}
		if json.Unmarshal(sc.Bytes(), &q) != nil || q.ID == "" {
			continue
		}
		if _, ok := judged[q.ID]; ok {
			out = append(out, Query{ID: q.ID, Text: q.Text})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no query has a judgment", path)
	}
	return out, sc.Err()
}
