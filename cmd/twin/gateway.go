package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/streams"
)

// lagInterval is how often consumer lag is read from the server.
const lagInterval = 3 * time.Second

func runGateway(ctx context.Context, s *system, log zerolog.Logger) error {
	gateway.New(s.js, log).Register(s.http)
	lag := streams.NewLagCollector(s.js, log)
	if err := s.reg.Register(lag); err != nil {
		return err
	}
	lag.Run(ctx, lagInterval)
	return nil
}
