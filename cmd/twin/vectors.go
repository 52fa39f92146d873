package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/spf13/pflag"

	"github.com/twin-llm/twin/internal/awsclient"
	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/models/tokenizer"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/vectors/embedded"
	"github.com/twin-llm/twin/internal/store/vectors/qdrant"
)

// vectorFlags configure the vector store and the embedding models, which
// the embedder, the rag worker and the gateway's search share.
type vectorFlags struct {
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

func addVectorFlags(fl *pflag.FlagSet, v *vectorFlags) {
	fl.StringVar(&v.qdrant, "qdrant", "", "Qdrant gRPC host:port of the vector store (default: the embedded store in the data dir)")
	fl.StringVar(&v.qdrantAPIKey, "qdrant-api-key", "", "Qdrant API key")
	fl.BoolVar(&v.qdrantTLS, "qdrant-tls", false, "connect to Qdrant with TLS")
	fl.StringVar(&v.qdrantCollection, "qdrant-collection", "twin_chunks", "Qdrant collection of the chunks")
	fl.StringVar(&v.embedModel, "embed-model", "hashed", "dense embedding model: hashed (embedded), openai (any OpenAI-compatible /v1/embeddings) or sagemaker")
	fl.StringVar(&v.embedURL, "embed-url", "", "base URL of the OpenAI-compatible embedding server (e.g. http://tei:8080/v1)")
	fl.StringVar(&v.embedAPIKey, "embed-api-key", "", "API key of the embedding server")
	fl.StringVar(&v.embedName, "embed-name", "", "model name (openai) or endpoint name (sagemaker)")
	fl.IntVar(&v.embedDim, "embed-dim", 0, "dense dimension (hashed: 1024 by default; openai and sagemaker: required)")
	fl.StringVar(&v.searchMode, "search-mode", "auto", "hybrid (dense and BM25 fused), sparse (BM25) or dense; auto: sparse with the hashed model, hybrid with a real one")
	fl.StringVar(&v.sagemakerRegion, "sagemaker-region", "", "AWS region of the SageMaker endpoints (default: the AWS configuration's)")
}

// check refuses settings that cannot work, before anything starts.
func (v vectorFlags) check() error {
	switch v.embedModel {
	case "", "hashed":
	case "openai":
		if v.embedURL == "" || v.embedName == "" {
			return fmt.Errorf("--embed-model openai needs --embed-url and --embed-name")
		}
	case "sagemaker":
		if v.embedName == "" {
			return fmt.Errorf("--embed-model sagemaker needs --embed-name (the endpoint name)")
		}
	default:
		return fmt.Errorf("--embed-model %q: want hashed, openai or sagemaker", v.embedModel)
	}
	switch v.searchMode {
	case "", "auto", retrieval.Hybrid, retrieval.Sparse, retrieval.Dense:
	default:
		return fmt.Errorf("--search-mode %q: want auto, hybrid, sparse or dense", v.searchMode)
	}
	if v.qdrant != "" {
		if _, _, err := v.qdrantAddr(); err != nil {
			return err
		}
	}
	return nil
}

// qdrantAddr splits --qdrant into host and port.
func (v vectorFlags) qdrantAddr() (string, int, error) {
	host, port, err := net.SplitHostPort(v.qdrant)
	if err != nil {
		return "", 0, fmt.Errorf("--qdrant %q: want host:port: %w", v.qdrant, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, fmt.Errorf("--qdrant %q: want host:port with a numeric port", v.qdrant)
	}
	return host, p, nil
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
		ff := s.flags.vectors
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
			host, p, err := ff.qdrantAddr()
			if err != nil {
				f.err = err
				return
			}
			st, err := qdrant.Open(ctx, qdrant.Config{Host: host, Port: p, APIKey: ff.qdrantAPIKey, UseTLS: ff.qdrantTLS,
				Collection: ff.qdrantCollection, Dim: f.dense.Dim()})
			if err != nil {
				f.err = fmt.Errorf("open Qdrant at %s: %w", ff.qdrant, err)
				return
			}
			f.store = st
		} else {
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
			if errors.Is(err, embedded.ErrLocked) {
				f.err = fmt.Errorf("the embedded vector store %s is open in another process (an embedder, or twin up): run the embedder once per data dir, with rag and gateway beside it in its process, or use --qdrant: %w",
					filepath.Join(s.g.data, "vectors"), err)
				return
			}
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
		f.search = &retrieval.Searcher{Dense: f.dense, Sparse: f.sparse, Store: f.store, Mode: mode}
	})
	return f.search, f.err
}

// remoteModel is the dense model of an embedding server.
func remoteModel(ff vectorFlags) (embed.Dense, error) {
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
