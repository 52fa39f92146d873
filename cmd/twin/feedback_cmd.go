package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/producers/relevance"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

func newFeedbackCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "feedback",
		Short:   "Feedback that teaches: relevance judgments for the reranker",
		Example: `  twin feedback import judgments.jsonl --wait`,
	}
	cmd.AddCommand(newFeedbackImportCmd(g))
	return cmd
}

func newFeedbackImportCmd(g *globals) *cobra.Command {
	var qrels, queries string
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "import [FILE]",
		Short: "Publish relevance judgments from files (BEIR qrels and queries, or JSON lines)",
		Long: `Publish relevance judgments on twin.feedback.relevance, as if users had marked sources
helpful or not, so that a team with labelled data can bootstrap the reranker. The monitor
stores them in the warehouse.

Two layouts:
  - BEIR: a queries file (JSON lines {"_id","text"}) and a qrels file (tab-separated
    query-id, corpus-id, score; with or without a header line). Give the queries as FILE
    and the qrels with --qrels, or the other way round with --queries, or both flags.
  - one JSON-lines FILE of {"query","document_id","grade"}.

A grade is 0 (not relevant) to 3. A BEIR corpus-id is the document id as is: it is the
warehouse id "twin import" gave that corpus's _id. Bad lines are reported by file and line
number and skipped. Each judgment's id comes from its query and document, so importing the
same file twice stores nothing new. With --wait, waits until the monitor has stored them.`,
		Example: `  twin feedback import scifact/queries.jsonl --qrels scifact/qrels/train.tsv --wait
  twin feedback import judgments.jsonl`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := feedbackInputs(args, qrels, queries)
			if err != nil {
				return err
			}
			nc, js, err := g.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			start := time.Now()
			im := relevance.NewImporter(streams.NewPublisher(js))
			read, bad, err := in.publish(cmd.Context(), im)
			sum := im.Summary()
			fmt.Fprintf(g.stdout, "read %d judgments: %d published, %d already published, %d bad lines skipped, in %s\n",
				read, sum.Published, sum.Duplicates, len(bad), time.Since(start).Round(time.Millisecond))
			for _, b := range bad {
				fmt.Fprintf(g.stdout, "  %s\n", b)
			}
			if err != nil || !wait || read == 0 {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			if timeout > 0 {
				ctx, cancel = context.WithTimeoutCause(cmd.Context(), timeout, fmt.Errorf("--timeout %s", timeout))
			}
			defer cancel()
			if err := waitJudgmentsStored(ctx, js, sum.LastSeq); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "the monitor has stored them, in %s\n", time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&qrels, "qrels", "", "BEIR qrels file (query-id, corpus-id, score, tab-separated)")
	cmd.Flags().StringVar(&queries, "queries", "", "BEIR queries file (JSON lines with _id and text)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the monitor has stored every judgment")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --wait: give up after this long, exiting non-zero (0: never)")
	return cmd
}

// feedbackInput is which files a feedback import reads.
type feedbackInput struct {
	jsonl, queries, qrels string
}

// feedbackInputs sorts the argument and flags into a layout.
func feedbackInputs(args []string, qrels, queries string) (feedbackInput, error) {
	file := ""
	if len(args) == 1 {
		file = args[0]
	}
	switch {
	case qrels != "" && queries != "":
		if file != "" {
			return feedbackInput{}, errors.New("with both --qrels and --queries, give no FILE")
		}
		return feedbackInput{queries: queries, qrels: qrels}, nil
	case qrels != "":
		if file == "" {
			return feedbackInput{}, errors.New("--qrels needs the queries: as FILE or with --queries")
		}
		return feedbackInput{queries: file, qrels: qrels}, nil
	case queries != "":
		if file == "" {
			return feedbackInput{}, errors.New("--queries needs the qrels: as FILE or with --qrels")
		}
		return feedbackInput{queries: queries, qrels: file}, nil
	case file == "":
		return feedbackInput{}, errors.New("name a JSON-lines FILE of judgments, or BEIR queries and qrels (see --help)")
	}
	return feedbackInput{jsonl: file}, nil
}

// publish reads the inputs and publishes their judgments through im,
// returning how many good lines it read and the bad ones.
func (in feedbackInput) publish(ctx context.Context, im *relevance.Importer) (int, []relevance.BadLine, error) {
	read := 0
	emit := func(j schemas.Judgment) error {
		read++
		return im.Add(ctx, j)
	}
	now := time.Now()
	var bad []relevance.BadLine
	err := func() error {
		if in.jsonl != "" {
			return withFile(in.jsonl, func(r io.Reader) (err error) {
				bad, err = relevance.ReadJSONL(r, in.jsonl, now, emit)
				return err
			})
		}
		var queries map[string]string
		err := withFile(in.queries, func(r io.Reader) (err error) {
			queries, bad, err = relevance.ReadQueries(r, in.queries)
			return err
		})
		if err != nil {
			return err
		}
		return withFile(in.qrels, func(r io.Reader) error {
			qbad, err := relevance.ReadQrels(r, in.qrels, queries, now, emit)
			bad = append(bad, qbad...)
			return err
		})
	}()
	if err == nil {
		err = im.Flush(ctx)
	}
	return read, bad, err
}

func withFile(path string, fn func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := fn(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// waitJudgmentsStored waits until the monitor's judgments consumer has
// settled (stored, or dead-lettered as invalid) every message of FEEDBACK up
// to seq. It rides out NATS being unreachable for a while.
func waitJudgmentsStored(ctx context.Context, js jetstream.JetStream, seq uint64) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var floor uint64
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := js.Consumer(cctx, streams.StreamFeedback, streams.ConsumerMonitorJudgments)
		var info *jetstream.ConsumerInfo
		if err == nil {
			info, err = c.Info(cctx)
		}
		cancel()
		switch {
		case err == nil:
			floor = info.AckFloor.Stream
			if floor >= seq {
				return nil
			}
		case !streams.Transient(err) && !errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("read the monitor's consumer: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the monitor has stored the judgments up to FEEDBACK sequence %d of %d: %w", floor, seq, context.Cause(ctx))
		case <-tick.C:
		}
	}
}
