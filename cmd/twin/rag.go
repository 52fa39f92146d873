package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/twin-llm/twin/consumers/rag"
	"github.com/twin-llm/twin/internal/awsclient"
	"github.com/twin-llm/twin/internal/models/llm"
	"github.com/twin-llm/twin/internal/models/rerank"
	"github.com/twin-llm/twin/streams"
)

// chatFlags configure the rag worker, its models and the trace store.
type chatFlags struct {
	llm, llmURL, llmAPIKey, llmName    string
	llmQuery                           bool
	rerank, rerankURL, rerankAPIKey    string
	rerankName                         string
	workers, topK, expansions          int
	contextTokens, maxTokens, maxQuery int
	traceRetention                     time.Duration
}

func addChatFlags(fl *pflag.FlagSet, c *chatFlags) {
	fl.StringVar(&c.llm, "llm", "extractive", "answer model: extractive (embedded: quotes the passages), openai (any OpenAI-compatible chat completions server) or sagemaker (a TGI endpoint)")
	fl.StringVar(&c.llmURL, "llm-url", "", "base URL of the OpenAI-compatible server (e.g. http://vllm:8000/v1)")
	fl.StringVar(&c.llmAPIKey, "llm-api-key", "", "API key of the LLM server")
	fl.StringVar(&c.llmName, "llm-name", "", "model name (openai) or endpoint name (sagemaker)")
	fl.BoolVar(&c.llmQuery, "llm-query", true, "with a real LLM, let it also extract the author and write the expanded queries")
	fl.StringVar(&c.rerank, "rerank", "lexical", "reranker: lexical (embedded), tei (a cross-encoder behind TEI's /rerank), cohere (a Cohere-style /v1/rerank API) or sagemaker")
	fl.StringVar(&c.rerankURL, "rerank-url", "", "base URL of the rerank server (tei, cohere)")
	fl.StringVar(&c.rerankAPIKey, "rerank-api-key", "", "API key of the rerank server")
	fl.StringVar(&c.rerankName, "rerank-name", "", "model name (cohere) or endpoint name (sagemaker)")
	fl.IntVar(&c.workers, "rag-workers", 16, "questions answered at once by this process")
	fl.IntVar(&c.topK, "rag-top-k", 5, "passages kept after reranking")
	fl.IntVar(&c.expansions, "rag-expansions", 3, "queries searched per question, the question itself included")
	fl.IntVar(&c.contextTokens, "rag-context-tokens", 3000, "prompt budget in tokens; passages are cut at sentence boundaries to fit")
	fl.IntVar(&c.maxTokens, "rag-max-tokens", 512, "longest answer, in tokens")
	fl.IntVar(&c.maxQuery, "rag-max-query", 4000, "longest question, in characters; longer ones are refused")
	fl.DurationVar(&c.traceRetention, "trace-retention", 30*24*time.Hour, "how long prompt traces are kept in the warehouse")
}

// checkRag refuses settings of the models that cannot work: an unknown
// --llm or --rerank, or one without the server it needs.
func checkRag(f serveFlags) error {
	if err := f.chat.checkLLM(); err != nil {
		return err
	}
	if err := f.chat.checkRerank(); err != nil {
		return err
	}
	return f.vectors.check()
}

func (c chatFlags) checkLLM() error {
	switch c.llm {
	case "extractive":
	case "openai":
		if c.llmURL == "" || c.llmName == "" {
			return fmt.Errorf("--llm openai needs --llm-url and --llm-name")
		}
	case "sagemaker":
		if c.llmName == "" {
			return fmt.Errorf("--llm sagemaker needs --llm-name (the endpoint name)")
		}
	default:
		return fmt.Errorf("--llm %q: want extractive, openai or sagemaker", c.llm)
	}
	return nil
}

func (c chatFlags) checkRerank() error {
	switch c.rerank {
	case "lexical":
	case "tei", "cohere":
		if c.rerankURL == "" {
			return fmt.Errorf("--rerank %s needs --rerank-url", c.rerank)
		}
	case "sagemaker":
		if c.rerankName == "" {
			return fmt.Errorf("--rerank sagemaker needs --rerank-name (the endpoint name)")
		}
	default:
		return fmt.Errorf("--rerank %q: want lexical, tei, cohere or sagemaker", c.rerank)
	}
	return nil
}

// answerModel is the LLM of the flags.
func answerModel(s *system, c chatFlags) (llm.Model, error) {
	switch c.llm {
	case "extractive":
		return llm.NewExtractive(), nil
	case "openai":
		if c.llmURL == "" || c.llmName == "" {
			return nil, fmt.Errorf("--llm openai needs --llm-url and --llm-name")
		}
		return llm.NewOpenAI(llm.OpenAIConfig{BaseURL: c.llmURL, APIKey: c.llmAPIKey, Model: c.llmName})
	case "sagemaker":
		if c.llmName == "" {
			return nil, fmt.Errorf("--llm sagemaker needs --llm-name (the endpoint name)")
		}
		return llm.NewSageMaker(llm.SageMakerConfig{SageMaker: awsclient.SageMaker{Endpoint: c.llmName, Region: s.flags.vectors.sagemakerRegion}})
	}
	return nil, fmt.Errorf("--llm %q: want extractive, openai or sagemaker", c.llm)
}

// reranker is the reranker of the flags.
func reranker(s *system, c chatFlags) (rerank.Reranker, error) {
	switch c.rerank {
	case "lexical":
		return rerank.NewLexical(), nil
	case "tei", "cohere":
		if c.rerankURL == "" {
			return nil, fmt.Errorf("--rerank %s needs --rerank-url", c.rerank)
		}
		return rerank.NewHTTP(rerank.HTTPConfig{URL: c.rerankURL, Format: c.rerank, Model: c.rerankName, APIKey: c.rerankAPIKey})
	case "sagemaker":
		if c.rerankName == "" {
			return nil, fmt.Errorf("--rerank sagemaker needs --rerank-name (the endpoint name)")
		}
		return rerank.NewSageMaker(rerank.SageMakerConfig{SageMaker: awsclient.SageMaker{Endpoint: c.rerankName, Region: s.flags.vectors.sagemakerRegion}})
	}
	return nil, fmt.Errorf("--rerank %q: want lexical, tei, cohere or sagemaker", c.rerank)
}

func runRag(ctx context.Context, s *system, log zerolog.Logger, ready func()) error {
	c := s.flags.chat
	store, err := s.warehouse(ctx)
	if err != nil {
		return err
	}
	search, err := s.vectorsAndModels(ctx)
	if err != nil {
		return err
	}
	model, err := answerModel(s, c)
	if err != nil {
		return err
	}
	rr, err := s.servingReranker(ctx)
	if err != nil {
		return err
	}
	replies, err := s.js.Stream(ctx, streams.StreamChatReplies)
	if err != nil {
		return fmt.Errorf("rag: %w", err)
	}
	cfg := rag.Config{Search: search, Authors: store, Rerank: rr, LLM: model, Publisher: s.pub, Replies: replies,
		Expansions: c.expansions, TopK: c.topK, ContextTokens: c.contextTokens, MaxTokens: c.maxTokens,
		MaxQueryChars: c.maxQuery, Log: log}
	if c.llm != "extractive" && c.llmQuery {
		cfg.QueryLLM = model
	}
	w, err := rag.New(cfg)
	if err != nil {
		return err
	}
	log.Info().Str("llm", model.Name()).Str("rerank", rr.Name()).Msg("rag worker")
	ready()
	return s.runtime.Run(ctx, streams.ConsumerRag, w, streams.Workers(c.workers), streams.PullBatch(2*c.workers))
}

// defaultChatFlags are the flags' defaults, for the commands that run a
// system without the serve flags (benchmarks).
func defaultChatFlags() chatFlags {
	var c chatFlags
	addChatFlags(pflag.NewFlagSet("defaults", pflag.ContinueOnError), &c)
	return c
}
