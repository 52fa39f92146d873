package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/evaluate"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/producers/importer"
	"github.com/twin-llm/twin/producers/progress"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

func newEvalCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "eval",
		Short:   "Measure the twin's quality",
		Example: `  twin eval retrieval --corpus corpus.jsonl.gz --queries queries.jsonl --qrels qrels/test.tsv`,
	}
	cmd.AddCommand(newEvalRetrievalCmd(g), newEvalAnswersCmd(g))
	return cmd
}

func newEvalRetrievalCmd(g *globals) *cobra.Command {
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
			judged, err := evaluate.ReadQrels(qrels)
			if err != nil {
				return err
			}
			qs, err := evaluate.ReadQueries(queries, judged)
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
			m := newMeter(g.stderr, "importing the corpus", in.Size(), true)
			sum, err := importer.Run(ctx, in, streams.NewPublisher(js), importer.Options{
				Author: author, Kind: schemas.KindPost, Notices: m,
				OnProgress: func(s importer.Summary) { m.Set(in.Offset(), plural(s.Published, "document")) },
			})
			m.Done()
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
			res, err := evaluate.Retrieval(ctx, gatewaySearch{g}, qs, judged, evaluate.RetrievalConfig{Author: author, K: k, Concurrency: concurrency})
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
	topFlag(f, &k, 10, "cut-off of nDCG")
	f.IntVar(&concurrency, "concurrency", 4, "queries in flight")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	for _, name := range []string{"corpus", "queries", "qrels"} {
		_ = retr.MarkFlagRequired(name)
	}
	return retr
}

// gatewaySearch searches through the gateway's /v1/search, as users do.
type gatewaySearch struct{ g *globals }

func (s gatewaySearch) Search(ctx context.Context, query, author string, k int) ([]retrieval.Hit, error) {
	var res struct {
		Hits []retrieval.Hit `json:"hits"`
	}
	v := url.Values{"q": {query}, "author": {author}, "k": {strconv.Itoa(k)}}
	err := s.g.getJSON(ctx, "/v1/search?"+v.Encode(), &res)
	return res.Hits, err
}
