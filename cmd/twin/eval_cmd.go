package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/producers/importer"
	"github.com/twin-llm/twin/producers/progress"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

func newEvalCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Measure the twin's quality",
	}
	var corpus, queries, qrels, author string
	var k, concurrency int
	var asJSON bool
	retr := &cobra.Command{
		Use:   "retrieval",
		Short: "Retrieval quality on a BEIR dataset: nDCG@10, Recall@100, MRR@10",
		Long: `Import a BEIR corpus through the real pipeline (documents already there and unchanged are
reused), wait until every document is searchable, run every judged query through the
gateway's search, and print nDCG@k (default k=10), Recall@100 and MRR@10 with their standard
definitions (graded gains from the qrels, log2 discount; recall over the judged relevant
documents; reciprocal rank of the first relevant). Ranking is by document: the first chunk
of each document counts.

The corpus is imported under the author "eval:<corpus name>" (or --author), so the search
is restricted to it.`,
		Example: `  twin eval retrieval --corpus corpus.jsonl.gz --queries queries.jsonl --qrels qrels/test.tsv`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if author == "" {
				author = "eval:" + strings.TrimSuffix(strings.TrimSuffix(filepath.Base(corpus), ".gz"), ".jsonl")
			}
			judged, err := readQrels(qrels)
			if err != nil {
				return err
			}
			qs, err := readQueries(queries, judged)
			if err != nil {
				return err
			}
			nc, js, err := g.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			in, err := importer.Open(corpus)
			if err != nil {
				return err
			}
			sum, err := importer.Run(ctx, in, streams.NewPublisher(js), importer.Options{Author: author, Kind: schemas.KindPost, Progress: g.stderr})
			in.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "corpus: %d documents (%d bad lines)\n", sum.Published, len(sum.Bad))
			took, err := g.waitImported(ctx, js, sum, waitOptions{warnAfter: progress.DefaultWarnAfter})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "indexed in %s; running %d queries\n", took.Round(time.Millisecond), len(qs))
			res, err := g.runQueries(ctx, qs, judged, author, k, concurrency)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, res)
			}
			fmt.Fprintf(g.stdout, "queries      %d\nnDCG@%-7d %.4f\nRecall@100   %.4f\nMRR@10       %.4f\nlatency p50  %s\n",
				res.Queries, k, res.NDCG, res.Recall100, res.MRR10, res.LatencyP50)
			return nil
		},
	}
	f := retr.Flags()
	f.StringVar(&corpus, "corpus", "", "BEIR corpus, JSON lines (.gz too): _id, title, text")
	f.StringVar(&queries, "queries", "", "BEIR queries, JSON lines: _id, text")
	f.StringVar(&qrels, "qrels", "", "BEIR relevance judgments: query-id, corpus-id, score (TSV with a header)")
	f.StringVar(&author, "author", "", `author the corpus is imported under (default "eval:<corpus name>")`)
	f.IntVarP(&k, "k", "k", 10, "cut-off of nDCG")
	f.IntVar(&concurrency, "concurrency", 4, "queries in flight")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	for _, name := range []string{"corpus", "queries", "qrels"} {
		_ = retr.MarkFlagRequired(name)
	}
	cmd.AddCommand(retr)
	return cmd
}

type evalQuery struct{ id, text string }

// evalResult is what `twin eval retrieval` reports.
type evalResult struct {
	Queries    int     `json:"queries"`
	K          int     `json:"k"`
	NDCG       float64 `json:"ndcg"`
	Recall100  float64 `json:"recall@100"`
	MRR10      float64 `json:"mrr@10"`
	LatencyP50 string  `json:"latency_p50"`
}

func (g *globals) runQueries(ctx context.Context, qs []evalQuery, judged map[string]map[string]int, author string, k, concurrency int) (evalResult, error) {
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
				var res struct {
					Hits []retrieval.Hit `json:"hits"`
				}
				v := url.Values{"q": {q.text}, "author": {author}, "k": {strconv.Itoa(retrieval.MaxK)}}
				if err := g.getJSON(ctx, "/v1/search?"+v.Encode(), &res); err != nil {
					outs[i].err = fmt.Errorf("query %s: %w", q.id, err)
					continue
				}
				ranked := make([]string, 0, len(res.Hits))
				seen := map[string]bool{}
				for _, h := range res.Hits {
					if !seen[h.DocumentID] {
						seen[h.DocumentID] = true
						ranked = append(ranked, h.DocumentID)
					}
				}
				rel := judged[q.id]
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
	var r evalResult
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
		r.LatencyP50 = percentile(lat, 0.5).Round(time.Microsecond).String()
	}
	return r, nil
}

// readQrels reads BEIR judgments: query → corpus id → graded relevance.
func readQrels(path string) (map[string]map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]map[string]int{}
	sc := bufio.NewScanner(f)
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
			return nil, fmt.Errorf("%s line %d: score %q is not a number", path, line+1, parts[2])
		}
		if out[parts[0]] == nil {
			out[parts[0]] = map[string]int{}
		}
		out[parts[0]][parts[1]] = score
	}
	return out, sc.Err()
}

// readQueries reads the BEIR queries that have judgments.
func readQueries(path string, judged map[string]map[string]int) ([]evalQuery, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []evalQuery
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
			out = append(out, evalQuery{id: q.ID, text: q.Text})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no query has a judgment", path)
	}
	return out, sc.Err()
}
