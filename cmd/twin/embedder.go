package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/embedder"
	"github.com/twin-llm/twin/streams"
)

// checkEmbedder refuses settings of the vector store and the models that
// cannot work.
func checkEmbedder(f serveFlags) error { return f.vectors.check() }

func runEmbedder(ctx context.Context, s *system, log zerolog.Logger, ready func()) error {
	search, err := s.vectorsAndModels(ctx)
	if err != nil {
		return err
	}
	revs, err := embedder.OpenKVRevisions(ctx, s.js)
	if err != nil {
		return err
	}
	// The warehouse judges the revisions: a job or a bucket entry it never
	// issued is not believed.
	store, err := s.warehouse(ctx)
	if err != nil {
		return err
	}
	e := embedder.New(embedder.Config{Dense: search.Dense, Sparse: search.Sparse, Store: search.Store,
		Publisher: s.pub, Revisions: revs, Warehouse: store, Registerer: s.reg})
	ready()
	// Two workers: one batch embeds while the other writes and waits for its
	// acks. The embedder keeps them off each other's documents.
	return s.runtime.RunBatch(ctx, streams.ConsumerEmbedder, e, streams.Workers(2), streams.PullBatch(512), streams.Batch(256, 10*time.Millisecond))
}
