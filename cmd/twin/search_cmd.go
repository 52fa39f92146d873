package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/retrieval"
)

func newSearchCmd(g *globals) *cobra.Command {
	var author string
	var k int
	var asJSON, rerank bool
	cmd := &cobra.Command{
		Use:   "search QUERY",
		Short: "Search the twin's knowledge with the retrieval the chat answers from",
		Long: `Search the chunks of every document in the vector store, through the gateway (--server),
exactly as the chat retrieves: the query and its lexical variants are each embedded like the
chunks and searched (BM25, or dense and BM25 fused, per --search-mode), the hits are merged by
reciprocal rank, and the reranker in service (lexical, or the learned version the model
registry serves) orders them. --author keeps one author's chunks; --rerank=false returns the
fused order.`,
		Example: `  twin search "how do I run a SQL query against a CSV file" --author "Simon Willison" -k 5`,
		Args:    minArgs(1, `what to search for, e.g. twin search "csv files"`),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{"q": {strings.Join(args, " ")}, "k": {strconv.Itoa(k)}, "rerank": {strconv.FormatBool(rerank)}}
			if author != "" {
				q.Set("author", author)
			}
			var res struct {
				Hits     []retrieval.Hit `json:"hits"`
				Reranker string          `json:"reranker,omitempty"`
			}
			if err := g.getJSON(cmd.Context(), "/v1/search?"+q.Encode(), &res); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, res)
			}
			if len(res.Hits) == 0 {
				fmt.Fprintln(g.stdout, "no results")
				return nil
			}
			for i, h := range res.Hits {
				fmt.Fprintf(g.stdout, "%d. %s  (%.4f, %s, chunk %d)\n   %s\n   %s\n\n", i+1, h.Title, h.Score, h.Author, h.ChunkIndex, h.Link, oneLine(h.Text, 200))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "only this author's chunks")
	topFlag(cmd.Flags(), &k, 10, "results wanted (at most 100)")
	cmd.Flags().BoolVar(&rerank, "rerank", true, "order the hits with the reranker in service")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"hits":[...],"reranker":"..."}`)
	return cmd
}
