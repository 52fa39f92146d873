package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/embedder"
	"github.com/twin-llm/twin/consumers/featurizer"
	"github.com/twin-llm/twin/internal/awsclient"
	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/models/tokenizer"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/vectors/embedded"
	"github.com/twin-llm/twin/internal/store/vectors/qdrant"
	"github.com/twin-llm/twin/producers/cdc"
	"github.com/twin-llm/twin/streams"
)

// featureFlags configure the feature pipeline: CDC, models, vector store.
type featureFlags struct {
	cdcMode          string
	qdrant           string
	qdrantAPIKey     string
	qdrantTLS        bool
	qdrantCollection string
	embedModel       string
	embedURL         string
	embedAPIKey      string
	embedName        string
	embedDim         int
	sagemakerRegion  string
	searchMode       string
}

// features are the shared pieces of the feature pipeline, opened once per
// process on first use.
type features struct {
	once    sync.Once
	err     error
	store   vectors.Store
	dense   embed.Dense
	sparse  embed.Sparse
	search  *retrieval.Searcher
	tok     *tokenizer.Tokenizer
	tokOnce sync.Once
	tokErr  error
}

// vectorsAndModels opens the vector store and the embedding models.
func (s *system) vectorsAndModels(ctx context.Context) (*retrieval.Searcher, error) {
	f := &s.feat
	f.once.Do(func() {
		ff := s.flags.features
		f.sparse = embed.NewBM25()
		switch ff.embedModel {
		case "", "hashed":
			f.dense = embed.NewHashed(ff.embedDim)
		default:
			dense, err := remoteModel(ff)
			if err != nil {
				f.err = err
				return
			}
			f.dense = dense
		}
		if ff.qdrant != "" {
			host, port, err := net.SplitHostPort(ff.qdrant)
			if err != nil {
				f.err = fmt.Errorf("--qdrant %q: want host:port: %w", ff.qdrant, err)
				return
			}
			p, _ := strconv.Atoi(port)
			st, err := qdrant.Open(ctx, qdrant.Config{Host: host, Port: p, APIKey: ff.qdrantAPIKey, UseTLS: ff.qdrantTLS,
				Collection: ff.qdrantCollection, Dim: f.dense.Dim()})
			if err != nil {
				f.err = fmt.Errorf("open Qdrant at %s: %w", ff.qdrant, err)
				return
			}
			f.store = st
		} else {
			if err := s.lockData(); err != nil {
				f.err = err
				return
			}
			log := s.g.log.With().Str("component", "vectors").Logger()
			st, err := embedded.Open(filepath.Join(s.g.data, "vectors"), f.dense.Dim(), embedded.OnCompact(func(err error) {
				if err != nil {
					// Nothing is lost: the logs keep every write, and the
					// next write past the threshold tries again.
					log.Error().Err(err).Msg("vector store compaction failed")
					return
				}
				log.Debug().Msg("vector store compacted")
			}))
			if err != nil {
				f.err = fmt.Errorf("open the embedded vector store: %w", err)
				return
			}
			f.store = st
		}
		mode := ff.searchMode
		if mode == "" || mode == "auto" {
			mode = retrieval.DefaultMode(f.dense)
		}
		if mode != retrieval.Hybrid && mode != retrieval.Sparse && mode != retrieval.Dense {
			f.err = fmt.Errorf("--search-mode %q: want auto, hybrid, sparse or dense", ff.searchMode)
			return
		}
		f.search = &retrieval.Searcher{Dense: f.dense, Sparse: f.sparse, Store: f.store, Mode: mode}
	})
	return f.search, f.err
}

func (s *system) tokenizer() (*tokenizer.Tokenizer, error) {
	f := &s.feat
	f.tokOnce.Do(func() { f.tok, f.tokErr = tokenizer.New() })
	return f.tok, f.tokErr
}

func runCDC(ctx context.Context, s *system, log zerolog.Logger, ready func()) error {
	store, err := s.warehouse(ctx)
	if err != nil {
		return err
	}
	p, mode, err := cdc.Open(ctx, cdc.Config{Mode: cdc.Mode(s.flags.features.cdcMode), Store: store, Publisher: s.pub, JS: s.js, Log: log,
		// A re-snapshot (the warehouse found behind the checkpoint) also
		// removes from the index the documents the warehouse lacks.
		Indexed: func(ctx context.Context) (map[string]int64, error) {
			revs, err := embedder.OpenKVRevisions(ctx, s.js)
			if err != nil {
				return nil, err
			}
			return revs.IDs(ctx)
		}})
	if err != nil {
		return fmt.Errorf("--cdc-mode %s: %w", s.flags.features.cdcMode, err)
	}
	log.Debug().Str("mode", string(mode)).Msg("reading the warehouse's changes")
	ready()
	return p.Run(ctx)
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

// remoteModel is the dense model of an embedding server.
func remoteModel(ff featureFlags) (embed.Dense, error) {
	switch ff.embedModel {
	case "openai":
		if ff.embedURL == "" || ff.embedName == "" {
			return nil, fmt.Errorf("--embed-model openai needs --embed-url and --embed-name")
		}
		m, err := embed.NewOpenAI(embed.OpenAIConfig{BaseURL: ff.embedURL, APIKey: ff.embedAPIKey, Model: ff.embedName, Dim: ff.embedDim})
		if err != nil {
			return nil, err
		}
		return m, nil
	case "sagemaker":
		if ff.embedName == "" {
			return nil, fmt.Errorf("--embed-model sagemaker needs --embed-name (the endpoint name)")
		}
		m, err := embed.NewSageMaker(embed.SageMakerConfig{SageMaker: awsclient.SageMaker{Endpoint: ff.embedName, Region: ff.sagemakerRegion}, Dim: ff.embedDim})
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, fmt.Errorf("--embed-model %q: want hashed, openai or sagemaker", ff.embedModel)
}
