package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/consumers/datasets"
	"github.com/twin-llm/twin/consumers/trainer"
	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

// newDatasetBuilder is the dataset builder of this process: it reads the
// warehouse store (documents, traces with their ratings, judgments when
// the store keeps them), records each build there, and writes with the
// chat's LLM when one is configured (--llm openai or sagemaker); with the
// embedded extractive answerer it builds without an LLM.
func newDatasetBuilder(s *system, store warehouse.Store, log zerolog.Logger) (*datasets.Builder, error) {
	cfg := datasets.Config{Docs: store, Log: log.With().Str("component", "datasets").Logger()}
	if ts, ok := store.(datasets.Traces); ok {
		cfg.Traces = ts
	}
	if js, ok := store.(datasets.Judgments); ok {
		cfg.Judgments = js
	}
	if rs, ok := store.(datasets.Records); ok {
		cfg.Records = rs
	}
	if s.flags.chat.llm != "extractive" {
		m, err := answerModel(s, s.flags.chat)
		if err != nil {
			return nil, fmt.Errorf("the LLM of the datasets: %w", err)
		}
		cfg.LLM = m
	}
	return datasets.New(cfg)
}

// datasetBuilder is the builder the gateway runs for POST /v1/datasets, or
// nil (the route then answers 503) when it cannot be made.
func datasetBuilder(s *system, store warehouse.Store, log zerolog.Logger) gateway.DatasetBuilder {
	b, err := newDatasetBuilder(s, store, log)
	if err != nil {
		log.Warn().Err(err).Msg("no dataset builder: POST /v1/datasets answers 503")
		return nil
	}
	return b
}

// trainerDatasets builds the dataset of a training job: the kind of
// dataset its kind of training learns from (sft: instruct, dpo:
// preference, rerank: relevance), from every author, split with Seed at
// the default test share, into the job's directory.
type trainerDatasets struct {
	b    *datasets.Builder
	seed int64
}

func (d trainerDatasets) Build(ctx context.Context, trainingKind, dir string) (trainer.Dataset, error) {
	kind, err := datasets.KindFor(trainingKind)
	if err != nil {
		return trainer.Dataset{}, err
	}
	rec, err := d.b.Build(ctx, datasets.Request{Kind: kind, Dir: dir, Seed: d.seed})
	if errors.Is(err, datasets.ErrEmpty) || errors.Is(err, datasets.ErrUnavailable) {
		// Another try would find no more data: the job fails, and says why.
		return trainer.Dataset{}, fmt.Errorf("%w: %w", trainer.ErrJobFailed, err)
	}
	if err != nil {
		return trainer.Dataset{}, err
	}
	return trainer.Dataset{ID: rec.ID, Examples: rec.Kept}, nil
}

func newDatasetCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dataset",
		Short: "Build and list training datasets",
		Example: `  twin dataset build --kind instruct --out /tmp/ds
  twin dataset ls`,
		Long: `Build training datasets from the warehouse of a running twin, through its gateway (--server):
instruction pairs (SFT), preference triples (DPO) or relevance judgments (the reranker).
The gateway writes the files on its own machine, into --out.`,
	}
	var (
		req     gateway.DatasetRequest
		timeout time.Duration
		asJSON  bool
	)
	build := &cobra.Command{
		Use:   "build --kind instruct|preference|relevance --out DIR",
		Short: "Build a dataset: DIR/train.jsonl, DIR/test.jsonl and DIR/manifest.json, and print the counts",
		Example: `  twin dataset build --kind instruct --author "Simon Willison" --out ./datasets/sft
  twin dataset build --kind relevance --out /srv/twin/datasets/rerank --seed 7 --test-share 0.2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Out == "" {
				return errors.New("--out is required")
			}
			out, err := filepath.Abs(req.Out)
			if err != nil {
				return err
			}
			req.Out = out
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			var res gateway.DatasetResponse
			err = g.postJSON(ctx, "/v1/datasets", req, &res)
			if err != nil && res.Dataset.ID == "" {
				return err
			}
			if asJSON {
				if perr := printJSON(g, res.Dataset); perr != nil {
					return perr
				}
				return err
			}
			printDataset(g.stdout, res.Dataset, err == nil)
			return err
		},
	}
	fl := build.Flags()
	fl.StringVar(&req.Kind, "kind", "", "instruct (SFT pairs), preference (DPO triples) or relevance (reranker judgments)")
	fl.StringVar(&req.Author, "author", "", "only this author's documents and chats (relevance judgments have no author)")
	fl.StringVar(&req.Out, "out", "", "directory to write to, new or empty, on the machine of twin up")
	fl.Int64Var(&req.Seed, "seed", 0, "seed of the train/test split: the same seed and data give the same files")
	fl.Float64Var(&req.TestShare, "test-share", datasets.DefaultTestShare, "share of the examples in test.jsonl, from 0 to below 1")
	fl.StringVar(&req.Format, "format", "", "lines of an instruct set: alpaca ({instruction, output}, the default) or chat ({messages})")
	fl.DurationVar(&timeout, "timeout", 30*time.Minute, "how long to wait for the build (an LLM writes pairs slowly)")
	fl.BoolVar(&asJSON, "json", false, "print the dataset record as JSON")
	_ = build.MarkFlagRequired("kind")

	var kind string
	var limit int
	ls := &cobra.Command{
		Use:     "ls",
		Short:   "List built datasets, newest first",
		Example: `  twin dataset ls --kind preference --limit 10`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if kind != "" {
				q.Set("kind", kind)
			}
			q.Set("limit", strconv.Itoa(limit))
			var res struct {
				Datasets []warehouse.DatasetRecord `json:"datasets"`
			}
			if err := g.getJSON(cmd.Context(), "/v1/datasets?"+q.Encode(), &res); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, res)
			}
			if len(res.Datasets) == 0 {
				fmt.Fprintln(g.stdout, "no datasets")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tAUTHOR\tTRAIN\tTEST\tFILTERED\tMODEL\tCREATED\tURI")
			for _, d := range res.Datasets {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", d.ID, d.Kind, d.Author, d.Train, d.Test,
					d.Candidates-d.Kept, orDash(d.Model), d.CreatedAt.Local().Format("2006-01-02 15:04"), d.URI)
			}
			return tw.Flush()
		},
	}
	ls.Flags().StringVar(&kind, "kind", "", "only this kind")
	ls.Flags().IntVar(&limit, "limit", 100, "at most this many")
	ls.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(build, ls)
	return cmd
}

// printDataset prints what a build kept and dropped.
func printDataset(w io.Writer, d warehouse.DatasetRecord, ok bool) {
	if ok {
		fmt.Fprintf(w, "dataset %s (%s): %d examples, train %d, test %d\n", d.ID, d.Kind, d.Kept, d.Train, d.Test)
		fmt.Fprintf(w, "written to %s\n", d.URI)
	} else {
		fmt.Fprintf(w, "dataset %s (%s): no example passed the filters, nothing written\n", d.ID, d.Kind)
	}
	fmt.Fprintf(w, "made %d examples, kept %d, dropped %d by the filters\n", d.Candidates, d.Kept, d.Candidates-d.Kept)
	for _, k := range sortedCounts(d.Dropped) {
		fmt.Fprintf(w, "  dropped %-22s %d\n", k, d.Dropped[k])
	}
	for _, k := range sortedCounts(d.Methods) {
		fmt.Fprintf(w, "  made by %-22s %d\n", k, d.Methods[k])
	}
	if d.Model != "" {
		fmt.Fprintf(w, "model %s, prompt %s\n", d.Model, d.PromptVersion)
	}
}

func sortedCounts(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k, n := range m {
		if n > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
