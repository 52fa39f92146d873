package embed

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"

	"github.com/twin-llm/twin/internal/awsclient"
)

// SageMakerConfig points the SageMaker client at a real-time endpoint
// that serves a sentence-embedding model in the Hugging Face
// feature-extraction format, as the Text Embeddings Inference (TEI)
// container and the Hugging Face inference toolkit do: the request body is
// {"inputs": ["text", ...]} and the response is one pooled vector per text,
// [[0.1, ...], ...]. Token-level output ([[[...]]], one vector per token)
// is not pooled here: deploy the model with pooling (TEI always pools).
type SageMakerConfig struct {
	// SageMaker is the endpoint (Endpoint is required) and how to reach
	// it; MaxAttempts defaults to 3.
	awsclient.SageMaker
	// Dim is the dimension of the model's vectors. Required, as for
	// OpenAIConfig.Dim.
	Dim int
	// Truncate sends "truncate": true, asking TEI to cut texts longer than
	// the model's maximum instead of failing the whole batch.
	Truncate bool
	// MaxBatch bounds the texts sent in one invocation; default 32. A
	// SageMaker request body is at most 6 MB.
	MaxBatch int
	// Timeout bounds one Embed batch, retries included; default 60s
	// (SageMaker itself gives a model 60 s to answer).
	Timeout time.Duration
}

// SageMaker is a Dense model served by a SageMaker real-time endpoint,
// called with aws-sdk-go-v2's InvokeEndpoint (SigV4-signed). It is safe for
// concurrent use.
type SageMaker struct {
	cfg    SageMakerConfig
	client *sagemakerruntime.Client
}

// NewSageMaker returns the client for cfg. It fails with ErrConfig when a
// required field is missing, or when cfg.AWS is nil and the default AWS
// configuration cannot be loaded (credentials themselves are resolved, and
// checked, on the first call).
func NewSageMaker(cfg SageMakerConfig) (*SageMaker, error) {
	switch {
	case cfg.Endpoint == "":
		return nil, fmt.Errorf("%w: SageMaker embeddings need an endpoint name", ErrConfig)
	case cfg.Dim <= 0:
		return nil, fmt.Errorf("%w: SageMaker embeddings need the model's dimension", ErrConfig)
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 32
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	client, err := awsclient.NewSageMakerRuntime(cfg.SageMaker)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &SageMaker{cfg: cfg, client: client}, nil
}

// Dim is the configured dimension.
func (m *SageMaker) Dim() int { return m.cfg.Dim }

// Model names the endpoint (and variant or component) and the dimension.
func (m *SageMaker) Model() string {
	return fmt.Sprintf("sagemaker/%s/dim%d", m.cfg.Label(), m.cfg.Dim)
}

// Embed invokes the endpoint with batches of at most MaxBatch texts and
// returns their vectors, scaled to unit length, in order. Texts that are
// empty or only spaces are not sent and get the zero vector.
func (m *SageMaker) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return embedInBatches(ctx, texts, m.cfg.Dim, m.cfg.MaxBatch, m.invoke)
}

// sageMakerRequest is the feature-extraction request body.
type sageMakerRequest struct {
	Inputs   []string `json:"inputs"`
	Truncate bool     `json:"truncate,omitempty"`
}

func (m *SageMaker) invoke(ctx context.Context, texts []string) ([][]float32, error) {
	body, err := json.Marshal(sageMakerRequest{Inputs: texts, Truncate: m.cfg.Truncate})
	if err != nil {
		return nil, fmt.Errorf("encode the SageMaker request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	res, err := m.client.InvokeEndpoint(ctx, m.cfg.InvokeJSON(body))
	if err != nil {
		return nil, fmt.Errorf("embed %d texts with SageMaker endpoint %s: %w", len(texts), m.cfg.Endpoint, err)
	}
	var raw [][]float64
	if err := json.Unmarshal(res.Body, &raw); err != nil {
		return nil, fmt.Errorf("%w: SageMaker endpoint %s did not return one vector per text ([[...], ...]): %w",
			ErrResponse, m.cfg.Endpoint, err)
	}
	if len(raw) != len(texts) {
		return nil, fmt.Errorf("%w: %d vectors for %d texts from SageMaker endpoint %s", ErrResponse, len(raw), len(texts), m.cfg.Endpoint)
	}
	out := make([][]float32, len(raw))
	for i, v := range raw {
		if len(v) != m.cfg.Dim {
			return nil, fmt.Errorf("%w: SageMaker endpoint %s returned %d dimensions, configured %d", ErrDimension, m.cfg.Endpoint, len(v), m.cfg.Dim)
		}
		if out[i], err = toUnit(v); err != nil {
			return nil, fmt.Errorf("%w: vector %d from SageMaker endpoint %s is not finite", err, i, m.cfg.Endpoint)
		}
	}
	return out, nil
}
