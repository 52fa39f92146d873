package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/producers/crawl"
	"github.com/twin-llm/twin/streams"
)

// lagInterval is how often consumer lag is read from the server.
const lagInterval = 3 * time.Second

func runGateway(ctx context.Context, s *system, log zerolog.Logger, ready func()) error {
	store, err := s.warehouse(ctx)
	if err != nil {
		log.Warn().Err(err).Msg("warehouse unavailable: /v1/docs answers 503")
	}
	search, err := s.vectorsAndModels(ctx)
	if err != nil {
		log.Warn().Err(err).Msg("vector store unavailable: /v1/search answers 503")
	}
	gateway.New(gateway.Config{
		JS:        s.js,
		Log:       log,
		Crawl:     crawl.NewPublisher(s.pub, s.flags.crawl.local),
		Store:     store,
		Search:    search,
		Publisher: s.pub,
	}).Register(s.http)
	lag := streams.NewLagCollector(s.js, log)
	if err := s.reg.Register(lag); err != nil {
		return err
	}
	ready()
	lag.Run(ctx, lagInterval)
	return nil
}
