package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/gateway"
)

func newReindexCmd(g *globals) *cobra.Command {
	var author string
	cmd := &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the vector store from the warehouse",
		Example: `  twin reindex
  twin reindex --author "Simon Willison"`,
		Long: `Send every document of the warehouse (or of one --author) through the feature pipeline
again, exactly as a change would: cleaning, chunking, embedding, upserting, with stale chunks
removed. Use it after changing the embedding model or the chunking.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var res struct {
				Documents int `json:"documents"`
			}
			if err := g.postJSON(cmd.Context(), "/v1/reindex", gateway.ReindexRequest{Author: author}, &res); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "queued %d documents for reindexing; follow with twin status\n", res.Documents)
			return nil
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "only this author's documents")
	return cmd
}
