package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/producers/importer"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

func newImportCmd(g *globals) *cobra.Command {
	var author, kind string
	var wait bool
	var wo waitOptions
	cmd := &cobra.Command{
		Use:   "import FILE.jsonl[.gz]",
		Short: "Write documents from a JSON-lines file into the warehouse",
		Long: `Write documents straight into the warehouse, without crawling: one JSON object a line with
id (or _id, as in BEIR corpora), title, content (or text), author (or first_author, or the
first of authors), platform and link. An
imported document keeps its id as its warehouse id; a line with a link and no id gets the
id of its normalized link. From the warehouse, changes flow on like any other.

The documents are published to twin.docs.crawled.<kind> (through --nats), where the
warehouse writer stores them in bulk. Bad lines are reported with their line numbers and
skipped. Importing the same file twice stores nothing new.

With --wait it follows the documents until each is searchable. It rides out a restart of
NATS or twin (reconnecting as long as it takes), says which component is not consuming when
nothing moves for --warn-after, and with --timeout gives up, exiting non-zero with what is
still pending.`,
		Example: `  twin import til.jsonl --author "Simon Willison"
  twin import corpus.jsonl.gz --kind post`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind != schemas.KindArticle && kind != schemas.KindPost && kind != schemas.KindRepository {
				return fmt.Errorf("--kind %q: want article, post or repository", kind)
			}
			nc, js, err := g.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			in, err := importer.Open(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			sum, err := importer.Run(cmd.Context(), in, streams.NewPublisher(js), importer.Options{Author: author, Kind: kind, Progress: g.stderr})
			fmt.Fprintf(g.stdout, "read %d lines: %d documents published, %d bad lines skipped, in %s\n",
				sum.Lines, sum.Published, len(sum.Bad), sum.Took.Round(time.Millisecond))
			for _, b := range sum.Bad {
				fmt.Fprintf(g.stdout, "  line %d: %s\n", b.Line, b.Reason)
			}
			warnNoAuthor(g.stderr, sum.NoAuthor)
			if err != nil || !wait {
				return err
			}
			took, err := g.waitImported(cmd.Context(), js, sum, wo)
			if err == nil {
				fmt.Fprintf(g.stdout, "%d documents searchable in %s\n", len(sum.IDs), took.Round(time.Millisecond))
			}
			return err
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "author of lines that name none")
	cmd.Flags().StringVar(&kind, "kind", schemas.KindArticle, "kind of the documents: article, post or repository")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until every imported document is searchable")
	wo.flags(cmd, 0)
	return cmd
}

// warnNoAuthor says how many documents were published without an author,
// and how to give them one.
func warnNoAuthor(w io.Writer, n int) {
	if n > 0 {
		fmt.Fprintf(w, "warning: %d documents have no author (no author, first_author or authors field): "+
			"no search or chat for an author finds them; import again with --author NAME to set one\n", n)
	}
}
