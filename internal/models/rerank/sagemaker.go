package rerank

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"

	"github.com/twin-llm/twin/internal/awsclient"
)

// SageMakerConfig points the SageMaker reranker at a real-time endpoint
// that serves a cross-encoder with the Text Embeddings Inference (TEI)
// container. TEI serves a sequence-classification model with a single
// label as a reranker, and routes SageMaker's /invocations to its /rerank:
// the request body is {"query": "...", "texts": [...], "truncate": true}
// and the answer [{"index": 0, "score": 0.93}, ...], as over HTTP.
type SageMakerConfig struct {
	// SageMaker is the endpoint (Endpoint is required) and how to reach
	// it; MaxAttempts defaults to 3.
	awsclient.SageMaker
	// MaxBatch bounds the texts sent in one invocation; default 32, TEI's
	// default --max-client-batch-size. A SageMaker request body is at
	// most 6 MB.
	MaxBatch int
	// Timeout bounds one batch, retries included; default 60s (SageMaker
	// itself gives a model 60 s to answer).
	Timeout time.Duration
}

// SageMaker is a Reranker served by a SageMaker real-time endpoint, called
// with aws-sdk-go-v2's InvokeEndpoint (SigV4-signed). It is safe for
// concurrent use.
type SageMaker struct {
	cfg    SageMakerConfig
	client *sagemakerruntime.Client
}

// NewSageMaker returns the client for cfg. It fails with ErrConfig when the
// endpoint is missing, or when cfg.AWS is nil and the default AWS
// configuration cannot be loaded (credentials themselves are resolved, and
// checked, on the first call).
func NewSageMaker(cfg SageMakerConfig) (*SageMaker, error) {
	switch {
	case cfg.Endpoint == "":
		return nil, fmt.Errorf("%w: the SageMaker reranker needs an endpoint name", ErrConfig)
	case cfg.MaxBatch < 0 || cfg.MaxAttempts < 0 || cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: negative SageMaker batch size, attempts or timeout", ErrConfig)
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 32
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Minute
	}
	client, err := awsclient.NewSageMakerRuntime(cfg.SageMaker)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &SageMaker{cfg: cfg, client: client}, nil
}

// Name names the endpoint, and the variant or component when set.
func (m *SageMaker) Name() string { return "sagemaker/" + m.cfg.Label() }

// Score invokes the endpoint with batches of at most MaxBatch texts and
// returns the model's score for each text, in the order of texts.
func (m *SageMaker) Score(ctx context.Context, query string, texts []string) ([]float64, error) {
	return scoreInBatches(ctx, query, texts, m.cfg.MaxBatch, m.invoke)
}

func (m *SageMaker) invoke(ctx context.Context, query string, texts []string) ([]float64, error) {
	// truncate: a passage longer than the model's input must cost its own
	// tail, not the whole batch.
	body, err := json.Marshal(teiRequest{Query: query, Texts: texts, Truncate: true})
	if err != nil {
		return nil, fmt.Errorf("encode the SageMaker request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	res, err := m.client.InvokeEndpoint(ctx, m.cfg.InvokeJSON(body))
	if err != nil {
		return nil, fmt.Errorf("SageMaker endpoint %s: %w", m.cfg.Endpoint, err)
	}
	scores, err := decodeTEI(res.Body, len(texts))
	if err != nil {
		return nil, fmt.Errorf("answer of SageMaker endpoint %s: %w", m.cfg.Endpoint, err)
	}
	return scores, nil
}
