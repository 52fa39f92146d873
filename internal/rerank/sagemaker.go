package rerank

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
	// Endpoint is the SageMaker endpoint name. Required.
	Endpoint string
	// Region is the endpoint's AWS region; empty: the AWS configuration's
	// (AWS_REGION, the shared config file).
	Region string
	// TargetVariant and InferenceComponent route the request within the
	// endpoint (X-Amzn-SageMaker-Target-Variant and
	// X-Amzn-SageMaker-Inference-Component); both optional.
	TargetVariant      string
	InferenceComponent string
	// MaxBatch bounds the texts sent in one invocation; default 32, TEI's
	// default --max-client-batch-size. A SageMaker request body is at
	// most 6 MB.
	MaxBatch int
	// MaxAttempts is how many times the SDK tries a request (throttling,
	// 5xx and connection errors are retried with jittered backoff);
	// default 3.
	MaxAttempts int
	// Timeout bounds one batch, retries included; default 60s (SageMaker
	// itself gives a model 60 s to answer).
	Timeout time.Duration
	// AWS is the SDK configuration (credentials, region, HTTP client);
	// nil: the default chain (environment, shared files, SSO, IMDS or the
	// task role), loaded by NewSageMaker.
	AWS *aws.Config
	// BaseEndpoint replaces the SageMaker runtime URL (a VPC endpoint, or a
	// test server).
	BaseEndpoint string
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
	client, err := awsclient.NewSageMakerRuntime(awsclient.SageMaker{Region: cfg.Region,
		MaxAttempts: cfg.MaxAttempts, AWS: cfg.AWS, BaseEndpoint: cfg.BaseEndpoint})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &SageMaker{cfg: cfg, client: client}, nil
}

// Name names the endpoint, and the variant or component when set.
func (m *SageMaker) Name() string {
	name := "sagemaker/" + m.cfg.Endpoint
	if m.cfg.InferenceComponent != "" {
		name += "/" + m.cfg.InferenceComponent
	} else if m.cfg.TargetVariant != "" {
		name += "/" + m.cfg.TargetVariant
	}
	return name
}

// Score invokes the endpoint with batches of at most MaxBatch texts and
// returns the model's score for each text, in the order of texts.
func (m *SageMaker) Score(ctx context.Context, query string, texts []string) ([]float64, error) {
	scores := make([]float64, 0, len(texts))
	for start := 0; start < len(texts); start += m.cfg.MaxBatch {
		batch := texts[start:min(start+m.cfg.MaxBatch, len(texts))]
		got, err := m.invoke(ctx, query, batch)
		if err != nil {
			return nil, fmt.Errorf("rerank: texts %d to %d: %w", start, start+len(batch)-1, err)
		}
		scores = append(scores, got...)
	}
	return scores, nil
}

func (m *SageMaker) invoke(ctx context.Context, query string, texts []string) ([]float64, error) {
	// truncate: a passage longer than the model's input must cost its own
	// tail, not the whole batch.
	body, err := json.Marshal(teiRequest{Query: query, Texts: texts, Truncate: true})
	if err != nil {
		return nil, fmt.Errorf("encode the SageMaker request: %w", err)
	}
	in := &sagemakerruntime.InvokeEndpointInput{
		EndpointName: aws.String(m.cfg.Endpoint),
		Body:         body,
		ContentType:  aws.String("application/json"),
		Accept:       aws.String("application/json"),
	}
	if m.cfg.TargetVariant != "" {
		in.TargetVariant = aws.String(m.cfg.TargetVariant)
	}
	if m.cfg.InferenceComponent != "" {
		in.InferenceComponentName = aws.String(m.cfg.InferenceComponent)
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	res, err := m.client.InvokeEndpoint(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("SageMaker endpoint %s: %w", m.cfg.Endpoint, err)
	}
	scores, err := decodeTEI(res.Body, len(texts))
	if err != nil {
		return nil, fmt.Errorf("answer of SageMaker endpoint %s: %w", m.cfg.Endpoint, err)
	}
	return scores, nil
}
