package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/producers/importer"
	"github.com/twin-llm/twin/producers/progress"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// resumeAdvice is how to finish an import that stopped half-way.
const resumeAdvice = "to finish, run the same command again: what the warehouse already holds comes back unchanged and costs one read"

func newImportCmd(g *globals) *cobra.Command {
	var author, kind string
	var wait, skipBad bool
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
warehouse writer stores them in bulk; import waits until it has, then says how many it
published, how many the warehouse stored (new or changed) and how many were unchanged.
Importing the same file twice stores nothing new.

A line that is not a document is skipped, and the import then exits non-zero after
publishing the others, with one line per kind of fault; --skip-bad accepts skipping them.
Interrupted (Ctrl-C, NATS refusing), it says how far it got and how to finish.

With --wait it follows the documents until each is searchable. It rides out a restart of
NATS or twin (reconnecting as long as it takes), says which component is not consuming when
nothing moves for --warn-after, and with --timeout gives up, exiting non-zero with what is
still pending.`,
		Example: `  twin import til.jsonl --author "Simon Willison"
  twin import corpus.jsonl.gz --kind post --wait
  twin import scraped.jsonl --skip-bad`,
		Args: exactArgs(1, "the JSON-lines file to import, e.g. twin import docs.jsonl"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind != schemas.KindArticle && kind != schemas.KindPost && kind != schemas.KindRepository {
				return fmt.Errorf("--kind %q: want article, post or repository", kind)
			}
			in, err := importer.Open(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			nc, js, err := g.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			ctx := cmd.Context()
			// The newest revision before the import tells, once it is
			// stored, which of its documents the warehouse wrote.
			before, beforeErr := g.newestRevision(ctx)

			m := newMeter(g.stderr, "importing", in.Size(), true)
			sum, err := importer.Run(ctx, in, streams.NewPublisher(js), importer.Options{
				Author: author, Kind: kind, Notices: m,
				OnProgress: func(s importer.Summary) { m.Set(in.Offset(), plural(s.Published, "document")) },
			})
			m.Done()
			fmt.Fprintf(g.stdout, "read %s in %s: %s published, %s skipped\n",
				plural(sum.Lines, "line"), sum.Took.Round(time.Millisecond), plural(sum.Published, "document"), plural(len(sum.Bad), "bad line"))
			printBadLines(g.stdout, sum.Bad)
			warnNoAuthor(g.stderr, sum.NoAuthor)
			if err != nil {
				return g.importStopped(ctx, js, sum, err)
			}

			wctx, cancel := wo.bound(ctx)
			defer cancel()
			if err := g.waitStored(wctx, js, sum.LastSeq, wo); err != nil {
				if ctx.Err() == nil && wctx.Err() == nil {
					return err
				}
				return g.importStopped(ctx, js, sum, err)
			}
			g.printStored(ctx, sum, before, beforeErr)
			if wait {
				began := time.Now()
				if err := g.waitSearchable(wctx, js, sum.IDs, wo); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%d documents searchable in %s\n", len(distinct(sum.IDs)), time.Since(began).Round(time.Millisecond))
			}
			if len(sum.Bad) > 0 && !skipBad {
				return fmt.Errorf("%s skipped (listed above): fix them and import the file again, or pass --skip-bad to accept skipping them",
					plural(len(sum.Bad), "line"))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&author, "author", "", "author of lines that name none")
	f.StringVar(&kind, "kind", schemas.KindArticle, "kind of the documents: article, post or repository")
	f.BoolVar(&skipBad, "skip-bad", false, "exit 0 even when lines were skipped as bad")
	f.BoolVar(&wait, "wait", false, "wait until every imported document is searchable")
	f.DurationVar(&wo.timeout, "timeout", 0, "give up waiting for the warehouse (and, with --wait, the index) after this long, exiting non-zero (0: never)")
	f.DurationVar(&wo.warnAfter, "warn-after", progress.DefaultWarnAfter, "say which component is not consuming after this long without progress (0: never)")
	return cmd
}

// printBadLines says what was wrong with the skipped lines: one line per
// kind of fault, with its count and the first line numbers.
func printBadLines(w io.Writer, bad []importer.BadLine) {
	var kinds []error
	byKind := map[error][]importer.BadLine{}
	for _, b := range bad {
		if byKind[b.Kind] == nil {
			kinds = append(kinds, b.Kind)
		}
		byKind[b.Kind] = append(byKind[b.Kind], b)
	}
	for _, k := range kinds {
		lines := byKind[k]
		nums := make([]string, 0, 5)
		for _, b := range lines[:min(5, len(lines))] {
			nums = append(nums, strconv.Itoa(b.Line))
		}
		where := "line " + nums[0]
		if len(lines) > 1 {
			where = "lines " + strings.Join(nums, ", ")
		}
		if len(lines) > len(nums) {
			where += fmt.Sprintf(" and %d more", len(lines)-len(nums))
		}
		detail := ""
		if first := lines[0].Reason; first != k.Error() {
			detail = fmt.Sprintf(" (line %d: %s)", lines[0].Line, strings.TrimPrefix(first, k.Error()+": "))
		}
		fmt.Fprintf(w, "  %s: %s, %s%s\n", k, plural(len(lines), "line"), where, detail)
	}
}

// importStopped reports an import that did not finish (interrupted, NATS
// refusing, the warehouse not storing): how far it got, what the warehouse
// holds of it, and how to finish.
func (g *globals) importStopped(ctx context.Context, js jetstream.JetStream, sum importer.Summary, err error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), progress.CallTimeout)
	defer cancel()
	if floor, ferr := progress.StoredFloor(rctx, js); ferr == nil {
		stored := 0
		for _, seq := range sum.Seqs {
			if seq <= floor {
				stored++
			}
		}
		fmt.Fprintf(g.stdout, "stopped after line %d: the warehouse holds %d of the %d documents published\n", sum.Lines, stored, sum.Published)
	} else {
		fmt.Fprintf(g.stdout, "stopped after line %d: %d documents published (what the warehouse holds of them is unknown: %v)\n", sum.Lines, sum.Published, ferr)
	}
	fmt.Fprintln(g.stdout, resumeAdvice)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return err
}

// printStored says how many of an import's documents the warehouse wrote
// and how many it already held as they are.
func (g *globals) printStored(ctx context.Context, sum importer.Summary, before int64, beforeErr error) {
	ids := distinct(sum.IDs)
	if len(ids) == 0 {
		return
	}
	err := beforeErr
	if err == nil {
		var stored int
		if stored, err = g.writtenSince(ctx, before, ids); err == nil {
			fmt.Fprintf(g.stdout, "stored %d new or changed, %d unchanged\n", stored, len(ids)-stored)
			return
		}
	}
	fmt.Fprintf(g.stdout, "stored all %d (new or changed cannot be told from unchanged without the gateway: %v)\n", len(ids), err)
}

// newestRevision is the revision of the newest document the warehouse
// holds (0 for none), read through the gateway: a write after it gets a
// higher one.
func (g *globals) newestRevision(ctx context.Context) (int64, error) {
	var page gateway.DocList
	if err := g.getJSON(ctx, "/v1/docs?limit=1", &page); err != nil {
		return 0, err
	}
	if len(page.Documents) == 0 {
		return 0, nil
	}
	return page.Documents[0].Revision, nil
}

// writtenSince counts the documents of ids the warehouse wrote after
// revision: it pages through the listing, newest first, down to it.
func (g *globals) writtenSince(ctx context.Context, revision int64, ids map[string]bool) (int, error) {
	n, after := 0, ""
	for {
		q := url.Values{"limit": {"1000"}}
		if after != "" {
			q.Set("after", after)
		}
		var page gateway.DocList
		if err := g.getJSON(ctx, "/v1/docs?"+q.Encode(), &page); err != nil {
			return 0, err
		}
		for _, d := range page.Documents {
			if d.Revision <= revision {
				return n, nil
			}
			if ids[d.ID] {
				n++
			}
		}
		if page.Next == "" {
			return n, nil
		}
		after = page.Next
	}
}

func distinct(ids []string) map[string]bool {
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set
}

// warnNoAuthor says how many documents were published without an author,
// and how to give them one.
func warnNoAuthor(w io.Writer, n int) {
	if n > 0 {
		fmt.Fprintf(w, "warning: %d documents have no author (no author, first_author or authors field): "+
			"no search or chat for an author finds them; import again with --author NAME to set one\n", n)
	}
}
