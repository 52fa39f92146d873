package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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
id (or _id, as in BEIR corpora), title, content (or text), author, platform and link. An
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

// waitOptions are the flags of a command's --wait.
type waitOptions struct {
	timeout   time.Duration // 0: no limit
	warnAfter time.Duration // 0: no warning
}

func (wo *waitOptions) flags(cmd *cobra.Command, timeout time.Duration) {
	cmd.Flags().DurationVar(&wo.timeout, "timeout", timeout, "with --wait: give up after this long, exiting non-zero with what is still pending (0: never)")
	cmd.Flags().DurationVar(&wo.warnAfter, "warn-after", defaultWarnAfter, "with --wait: say which component is not consuming after this long without progress (0: never)")
}

// bound is ctx ended by --timeout, with the flag as its cause, so that the
// message of a wait that gave up names it.
func (wo *waitOptions) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if wo.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, wo.timeout, fmt.Errorf("--timeout %s", wo.timeout))
}

// waitImported waits until the documents of an import are stored and then
// searchable, showing progress on stderr, and returns how long it took.
func (g *globals) waitImported(ctx context.Context, js jetstream.JetStream, sum importer.Summary, wo waitOptions) (time.Duration, error) {
	began, last := time.Now(), time.Time{}
	ctx, cancel := wo.bound(ctx)
	defer cancel()
	out := &syncWriter{w: g.stderr}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go watchConsumers(wctx, js, pipelineWatches(), wo.warnAfter, out)
	r := &retrier{out: out}
	if err := waitStored(ctx, js, sum.LastSeq, r); err != nil {
		return 0, gaveUp(ctx, err)
	}
	err := g.waitSearchable(ctx, js, sum.IDs, func(n, total int) {
		if n == total || time.Since(last) > time.Second {
			last = time.Now()
			fmt.Fprintf(out, "\rsearchable %d/%d", n, total)
		}
	}, r)
	fmt.Fprintln(out)
	return time.Since(began), gaveUp(ctx, err)
}

// gaveUp names the --timeout that ended a wait in its error.
func gaveUp(ctx context.Context, err error) error {
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
			return fmt.Errorf("gave up waiting (%v): %w", cause, err)
		}
	}
	return err
}
