package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/twin-llm/twin/consumers/monitor"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/streams"
)

func runMonitor(ctx context.Context, s *system, log zerolog.Logger, ready func()) error {
	store, err := s.warehouse(ctx)
	if err != nil {
		return err
	}
	traces, ok := store.(warehouse.TraceStore)
	if !ok {
		return fmt.Errorf("monitor: the warehouse %T cannot store traces", store)
	}
	judgments, ok := store.(warehouse.JudgmentStore)
	if !ok {
		return fmt.Errorf("monitor: the warehouse %T cannot store judgments", store)
	}
	m, err := monitor.New(monitor.Config{Store: traces, Judgments: judgments, Registerer: s.reg, Log: log, Retention: s.flags.chat.traceRetention})
	if err != nil {
		return err
	}
	ready()
	// One failing consumer stops the component, and its sweeper with it.
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { m.Sweep(ctx); return nil })
	// Traces in batches, one commit each: under --sync warehouse a commit
	// waits for an fsync, and one per answer would slow the chat down. One
	// worker: while it commits, the next batch fills.
	eg.Go(func() error {
		return s.runtime.RunBatch(ctx, streams.ConsumerMonitor, m, streams.Workers(1), streams.PullBatch(512), streams.Batch(256, 10*time.Millisecond))
	})
	eg.Go(func() error { return s.runtime.Run(ctx, streams.ConsumerMonitorFeedback, m.FeedbackHandler()) })
	eg.Go(func() error {
		return s.runtime.RunBatch(ctx, monitor.JudgmentsConsumer, m.JudgmentsHandler(), streams.Workers(1), streams.Batch(256, 10*time.Millisecond))
	})
	return eg.Wait()
}
