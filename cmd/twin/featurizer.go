package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/featurizer"
	"github.com/twin-llm/twin/internal/models/tokenizer"
	"github.com/twin-llm/twin/streams"
)

// The featurizer has no settings of its own.

// tokenizer is the tokenizer the featurizer chunks with, loaded once.
func (s *system) tokenizer() (*tokenizer.Tokenizer, error) {
	f := &s.feat
	f.tokOnce.Do(func() { f.tok, f.tokErr = tokenizer.New() })
	return f.tok, f.tokErr
}

func runFeaturizer(ctx context.Context, s *system, log zerolog.Logger, ready func()) error {
	store, err := s.warehouse(ctx)
	if err != nil {
		return err
	}
	tok, err := s.tokenizer()
	if err != nil {
		return err
	}
	f := featurizer.New(featurizer.Config{Tokenizer: tok, Publisher: s.pub, Store: store})
	ready()
	return s.runtime.Run(ctx, streams.ConsumerFeaturizer, f.Handler(), streams.Workers(8), streams.PullBatch(256))
}
