package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/producers/progress"
	"github.com/twin-llm/twin/streams"
)

func newReindexCmd(g *globals) *cobra.Command {
	var author string
	var wait bool
	var wo waitOptions
	cmd := &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the vector store from the warehouse",
		Long: `Send every document of the warehouse (or of one --author) through the feature pipeline
again, exactly as a change would: cleaning, chunking, embedding, upserting, with stale chunks
removed. Use it after changing the embedding model or the chunking.

With --wait it follows the documents (through --nats) until the featurizer has chunked every
one and the embedder has indexed every chunk, with a progress bar on a terminal.`,
		Example: `  twin reindex
  twin reindex --author "Simon Willison" --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var js jetstream.JetStream
			var cdcBefore uint64
			if wait {
				nc, jsc, err := g.connectNATS()
				if err != nil {
					return err
				}
				defer nc.Close()
				js = jsc
				if cdcBefore, err = progress.LastSeq(ctx, js, streams.StreamCDC); err != nil {
					return err
				}
			}
			began := time.Now()
			var res struct {
				Documents int `json:"documents"`
			}
			if err := g.postJSON(ctx, "/v1/reindex", gateway.ReindexRequest{Author: author}, &res); err != nil {
				return err
			}
			if !wait {
				fmt.Fprintf(g.stdout, "queued %s for reindexing; follow with twin status, or --wait\n", plural(res.Documents, "document"))
				return nil
			}
			fmt.Fprintf(g.stdout, "queued %s for reindexing\n", plural(res.Documents, "document"))
			wctx, cancel := wo.bound(ctx)
			defer cancel()
			if err := g.waitReindexed(wctx, js, cdcBefore, res.Documents, wo); err != nil {
				return progress.GaveUp(wctx, err)
			}
			fmt.Fprintf(g.stdout, "reindexed %s in %s\n", plural(res.Documents, "document"), time.Since(began).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "only this author's documents")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until every document is indexed again")
	wo.flags(cmd, 0)
	return cmd
}

// waitReindexed waits until the featurizer has acked every CDC message up
// to the last the reindex published (after cdcBefore, docs of them), and
// then the embedder every embed job up to the last the featurizer
// published by then: every chunk of the reindexed documents is indexed.
func (g *globals) waitReindexed(ctx context.Context, js jetstream.JetStream, cdcBefore uint64, docs int, wo waitOptions) error {
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	m := newMeter(g.stderr, "chunked", int64(docs), false)
	defer m.Done()
	go progress.Watch(watchCtx, js, progress.PipelineWatches()[1:], wo.warnAfter, m)
	r := &progress.Retrier{Out: m}
	var cdcLast, embedLast uint64
	err := r.Do(ctx, "read the CDC stream", func(ctx context.Context) error {
		var err error
		cdcLast, err = progress.LastSeq(ctx, js, streams.StreamCDC)
		return err
	})
	if err != nil {
		return err
	}
	err = progress.AckedUpTo(ctx, js, streams.StreamCDC, streams.ConsumerFeaturizer, cdcLast, func(floor uint64) {
		m.Set(int64(min(floor-min(floor, cdcBefore), uint64(docs))), "")
	}, r)
	if err != nil {
		return fmt.Errorf("waiting for the featurizer: %w", err)
	}
	m.Done()
	var embedFirst uint64
	err = r.Do(ctx, "read the EMBED stream", func(ctx context.Context) error {
		var err error
		if embedLast, err = progress.LastSeq(ctx, js, streams.StreamEmbed); err != nil {
			return err
		}
		embedFirst, err = progress.AckFloor(ctx, js, streams.StreamEmbed, streams.ConsumerEmbedder)
		return err
	})
	if err != nil {
		return err
	}
	im := newMeter(g.stderr, "indexed", int64(embedLast-min(embedFirst, embedLast)), false)
	defer im.Done()
	err = progress.AckedUpTo(ctx, js, streams.StreamEmbed, streams.ConsumerEmbedder, embedLast, func(floor uint64) {
		im.Set(int64(floor-min(floor, embedFirst)), "embed jobs")
	}, r)
	if err != nil {
		return fmt.Errorf("waiting for the embedder: %w", err)
	}
	return nil
}
