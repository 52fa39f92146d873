package embed

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// OpenAIConfig points the OpenAI client at any server that speaks the
// OpenAI embeddings API: OpenAI itself, or text-embeddings-inference,
// vLLM, Ollama, LiteLLM... serving a model of the operator's choice.
type OpenAIConfig struct {
	// BaseURL is the API root the client appends "embeddings" to, e.g.
	// "https://api.openai.com/v1" or "http://tei:8080/v1". Required.
	BaseURL string
	// APIKey is sent as a bearer token; servers without auth ignore it.
	// Empty: the OPENAI_API_KEY environment variable, if set.
	APIKey string
	// Model is the model name the server knows. Required.
	Model string
	// Dim is the dimension of the model's vectors. Required: the vector
	// store is opened with it before any text is embedded, and every
	// response is checked against it.
	Dim int
	// SendDimensions asks the server for Dim dimensions (the "dimensions"
	// parameter of text-embedding-3 and other Matryoshka models). Servers
	// whose model has a fixed size may reject it, so it is off by default.
	SendDimensions bool
	// Base64 asks for base64-encoded float32 vectors, a third of the size
	// of JSON numbers on the wire. OpenAI, TEI and vLLM support it; some
	// servers do not, so it is off by default.
	Base64 bool
	// MaxBatch bounds the texts sent in one request; default 32, the
	// default limit of text-embeddings-inference (--max-client-batch-size).
	// OpenAI takes up to 2048.
	MaxBatch int
	// MaxRetries is how often a request is retried on connection errors,
	// 408, 409, 429 and 5xx, with the client library's backoff (which
	// honors Retry-After); default 3, negative for none.
	MaxRetries int
	// Timeout bounds each attempt; default 60s.
	Timeout time.Duration
	// HTTPClient replaces the default HTTP client (proxies, TLS).
	HTTPClient *http.Client
}

// OpenAI is a Dense model served behind an OpenAI-compatible
// /v1/embeddings endpoint, through the official openai-go client. It is
// safe for concurrent use.
type OpenAI struct {
	cfg    OpenAIConfig
	client openai.Client
}

// NewOpenAI returns the client for cfg, or ErrConfig when a required field
// is missing.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	switch {
	case cfg.BaseURL == "":
		return nil, fmt.Errorf("%w: OpenAI-compatible embeddings need a base URL", ErrConfig)
	case cfg.Model == "":
		return nil, fmt.Errorf("%w: OpenAI-compatible embeddings need a model name", ErrConfig)
	case cfg.Dim <= 0:
		return nil, fmt.Errorf("%w: OpenAI-compatible embeddings need the model's dimension", ErrConfig)
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 32
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithMaxRetries(max(cfg.MaxRetries, 0)),
		option.WithRequestTimeout(cfg.Timeout),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	return &OpenAI{cfg: cfg, client: openai.NewClient(opts...)}, nil
}

// Dim is the configured dimension.
func (m *OpenAI) Dim() int { return m.cfg.Dim }

// Model names the server's model and the dimension.
func (m *OpenAI) Model() string {
	return fmt.Sprintf("openai/%s/dim%d", m.cfg.Model, m.cfg.Dim)
}

// Embed sends texts in batches of at most MaxBatch and returns their
// vectors, scaled to unit length, in order. A text that is empty or only
// spaces is not sent (the API rejects empty inputs) and gets the zero
// vector.
func (m *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return embedInBatches(ctx, texts, m.cfg.Dim, m.cfg.MaxBatch, m.embedBatch)
}

func (m *OpenAI) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	params := openai.EmbeddingNewParams{
		Model:          m.cfg.Model,
		Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat,
	}
	if m.cfg.Base64 {
		params.EncodingFormat = openai.EmbeddingNewParamsEncodingFormatBase64
	}
	if m.cfg.SendDimensions {
		params.Dimensions = openai.Int(int64(m.cfg.Dim))
	}
	res, err := m.client.Embeddings.New(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("embed %d texts with %s: %w", len(texts), m.cfg.Model, err)
	}
	if len(res.Data) != len(texts) {
		return nil, fmt.Errorf("%w: %d vectors for %d texts from %s", ErrResponse, len(res.Data), len(texts), m.cfg.Model)
	}
	out := make([][]float32, len(texts))
	for _, d := range res.Data {
		i := int(d.Index)
		if i < 0 || i >= len(out) || out[i] != nil {
			return nil, fmt.Errorf("%w: index %d out of range or repeated in a batch of %d from %s", ErrResponse, d.Index, len(texts), m.cfg.Model)
		}
		if len(d.Embedding) != m.cfg.Dim {
			return nil, fmt.Errorf("%w: %s returned %d dimensions, configured %d", ErrDimension, m.cfg.Model, len(d.Embedding), m.cfg.Dim)
		}
		v, err := toUnit(d.Embedding)
		if err != nil {
			return nil, fmt.Errorf("%w: vector %d from %s is not finite", err, i, m.cfg.Model)
		}
		out[i] = v
	}
	return out, nil
}
