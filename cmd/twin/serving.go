package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/twin-llm/twin/internal/models/registry"
	"github.com/twin-llm/twin/internal/models/rerank"
	"github.com/twin-llm/twin/internal/retrieval"
)

// serving holds the models this process serves, opened once and shared by
// the rag worker and the gateway's search, so both rank with the same
// version.
type serving struct {
	once sync.Once
	err  error
	rr   *rerank.Live

	regOnce sync.Once
	reg     *registry.Registry
	regErr  error
}

// registry opens the model registry once: versions in the warehouse,
// artifacts and the serving pointer in JetStream.
func (s *system) registry(ctx context.Context) (*registry.Registry, error) {
	m := &s.models
	m.regOnce.Do(func() {
		store, err := s.warehouse(ctx)
		if err != nil {
			m.regErr = err
			return
		}
		models, ok := store.(registry.Store)
		if !ok {
			m.regErr = fmt.Errorf("the warehouse %T cannot keep a model registry", store)
			return
		}
		m.reg, m.regErr = registry.Open(ctx, s.js, models, s.pub)
	})
	return m.reg, m.regErr
}

// servingReranker is the reranker in service. With the embedded lexical
// reranker (the default) it follows the model registry: a learned version
// promoted or rolled back to replaces it while the process runs. A remote
// cross-encoder (--rerank tei|cohere|sagemaker) is served as configured.
func (s *system) servingReranker(ctx context.Context) (*rerank.Live, error) {
	m := &s.models
	m.once.Do(func() {
		base, err := reranker(s, s.flags.chat)
		if err != nil {
			m.err = err
			return
		}
		m.rr = rerank.NewLive(base)
		if s.flags.chat.rerank != "lexical" {
			return
		}
		log := s.log.With().Str("component", "models").Logger()
		m.err = registry.Follow(ctx, s.js, registry.Reranker, func(ctx context.Context, v registry.Serving) error {
			if v.Version == "" {
				m.rr.Set(base)
				return nil
			}
			data, err := registry.Artifact(ctx, s.js, v.ArtifactURI)
			if err != nil {
				return err
			}
			learned, err := loadReranker(data)
			if err != nil {
				return fmt.Errorf("reranker version %s: %w", v.Version, err)
			}
			m.rr.Set(learned)
			return nil
		}, log)
	})
	return m.rr, m.err
}

// retriever is the retrieval of /v1/search: the chat's pipeline (lexical
// query variants, fusion, the reranker in service).
func (s *system) retriever(ctx context.Context) (*retrieval.Pipeline, error) {
	search, err := s.vectorsAndModels(ctx)
	if err != nil {
		return nil, err
	}
	rr, err := s.servingReranker(ctx)
	if err != nil {
		return nil, err
	}
	c := s.flags.chat
	return &retrieval.Pipeline{Search: search, Rerank: rr, Expansions: c.expansions}, nil
}

// loadReranker serves a learned reranker's model file.
func loadReranker(data []byte) (rerank.Reranker, error) {
	m, err := rerank.ParseModel(data)
	if err != nil {
		return nil, err
	}
	return rerank.NewLearned(m)
}
