package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/writer"
	"github.com/twin-llm/twin/streams"
)

// The warehouse writer's settings are the warehouse's own (--mongo,
// --mongo-db, --sync), which every component that opens it shares.

func runWarehouse(ctx context.Context, s *system, log zerolog.Logger, ready func()) error {
	store, err := s.warehouse(ctx)
	if err != nil {
		return err
	}
	ready()
	return s.runtime.RunBatch(ctx, streams.ConsumerWriter, writer.New(store), streams.Workers(1), streams.PullBatch(512))
}
