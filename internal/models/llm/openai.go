package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// OpenAIConfig points the OpenAI client at any server that speaks the
// OpenAI chat completions API with streaming: OpenAI itself, or vLLM,
// Hugging Face TGI, llama.cpp's server, Ollama, LiteLLM... serving a model
// of the operator's choice.
type OpenAIConfig struct {
	// BaseURL is the API root the client appends "chat/completions" to,
	// e.g. "https://api.openai.com/v1", "http://vllm:8000/v1" or
	// "http://localhost:11434/v1" (Ollama). Required.
	BaseURL string
	// APIKey is sent as a bearer token; servers without auth ignore it.
	// Empty: the OPENAI_API_KEY environment variable, if set.
	APIKey string
	// Model is the model name the server knows (vLLM's --served-model-name,
	// an Ollama tag, "gpt-4o-mini"). Required; it is also the Model's Name.
	Model string
	// Timeout bounds each attempt, the whole stream included;
	// DefaultGenerationTimeout when 0.
	Timeout time.Duration
	// MaxRetries is how often a request is retried on connection errors,
	// 408, 409, 429 and 5xx before the stream starts, with the client
	// library's backoff (which honors Retry-After); default 2, negative for
	// none. A stream that fails once text has been emitted is never
	// retried: the caller already has part of the reply.
	MaxRetries int
	// HTTPClient replaces the default HTTP client (proxies, TLS). Its own
	// Timeout, if any, must leave room for a whole stream.
	HTTPClient *http.Client
}

// OpenAI is a Model served behind an OpenAI-compatible chat completions
// endpoint, streamed through the official openai-go client. It is safe for
// concurrent use.
type OpenAI struct {
	cfg    OpenAIConfig
	client openai.Client
}

// NewOpenAI returns the client for cfg, or an error wrapping ErrConfig
// when a required field is missing.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	switch {
	case cfg.BaseURL == "":
		return nil, fmt.Errorf("%w: an OpenAI-compatible model needs a base URL", ErrConfig)
	case cfg.Model == "":
		return nil, fmt.Errorf("%w: an OpenAI-compatible model needs a model name", ErrConfig)
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 2
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultGenerationTimeout
	}
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithMaxRetries(max(cfg.MaxRetries, 0)),
		option.WithRequestTimeout(cfg.Timeout),
		option.WithMiddleware(statusErrors),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	return &OpenAI{cfg: cfg, client: openai.NewClient(opts...)}, nil
}

// Name is the configured model name.
func (m *OpenAI) Name() string { return m.cfg.Model }

// Stream sends req as a streamed chat completion and emits each piece of
// the first choice's content as it arrives. It asks for usage in the
// stream (stream_options.include_usage) and returns what the server
// reports; a server that reports none gets an estimate (about four bytes
// a token, see estimateTokens).
//
// Cancelling ctx closes the connection, which ends the stream at once; the
// error then wraps ctx.Err(). A failure after the first chunk wraps
// ErrIncomplete; so does a stream that ends without a finish reason, which
// is how a proxy that drops the upstream between two chunks but closes
// its own response cleanly looks.
func (m *OpenAI) Stream(ctx context.Context, req Request, emit func(text string) error) (Usage, error) {
	msgs, err := promptMessages(req)
	if err != nil {
		return Usage{}, fmt.Errorf("llm: %s: %w", m.cfg.Model, err)
	}
	params := openai.ChatCompletionNewParams{
		Model:         m.cfg.Model,
		Messages:      make([]openai.ChatCompletionMessageParamUnion, 0, len(msgs)),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	for _, msg := range msgs {
		switch msg.Role {
		case RoleSystem:
			params.Messages = append(params.Messages, openai.SystemMessage(msg.Content))
		case RoleAssistant:
			params.Messages = append(params.Messages, openai.AssistantMessage(msg.Content))
		default:
			params.Messages = append(params.Messages, openai.UserMessage(msg.Content))
		}
	}
	if req.MaxTokens > 0 {
		params.MaxTokens = openai.Int(int64(req.MaxTokens))
	}
	if req.Temperature != nil {
		params.Temperature = openai.Float(*req.Temperature)
	}

	stream := m.client.Chat.Completions.NewStreaming(ctx, params)
	defer stream.Close()
	var (
		usage    Usage
		reported bool // the server sent usage
		finished bool // a finish reason arrived
		chunks   int  // chunks received
		emitted  int  // bytes of content emitted
	)
	for stream.Next() {
		chunks++
		chunk := stream.Current()
		if chunk.JSON.Usage.Valid() {
			usage = Usage{PromptTokens: int(chunk.Usage.PromptTokens), CompletionTokens: int(chunk.Usage.CompletionTokens)}
			reported = true
		}
		for _, choice := range chunk.Choices {
			if choice.Index != 0 {
				continue // one choice is asked for; ignore any other a server numbers
			}
			if choice.FinishReason != "" {
				finished = true
			}
			if text := choice.Delta.Content; text != "" {
				if err := emit(text); err != nil {
					return Usage{}, err
				}
				emitted += len(text)
			}
		}
	}
	switch err := stream.Err(); {
	case ctx.Err() != nil && (err != nil || !finished):
		return Usage{}, fmt.Errorf("llm: generation with %s stopped: %w", m.cfg.Model, ctx.Err())
	case err != nil && chunks == 0:
		return Usage{}, fmt.Errorf("llm: generate with %s: %w", m.cfg.Model, err)
	case err != nil:
		return Usage{}, fmt.Errorf("%w: %s failed after %d chunks: %w", ErrIncomplete, m.cfg.Model, chunks, err)
	case chunks == 0:
		return Usage{}, fmt.Errorf("llm: generate with %s at %s: the server answered with an empty stream", m.cfg.Model, m.cfg.BaseURL)
	case !finished:
		return Usage{}, fmt.Errorf("%w: %s ended its stream without a finish reason", ErrIncomplete, m.cfg.Model)
	}
	if !reported {
		usage = Usage{PromptTokens: estimatePromptTokens(msgs), CompletionTokens: estimateTokensOfBytes(emitted)}
	}
	return usage, nil
}

// httpError is an HTTP error answer of an OpenAI-compatible server.
type httpError struct {
	method, url string
	status      int
	message     string // the server's own explanation, if it gave one
}

func (e *httpError) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d %s", e.method, e.url, e.status, http.StatusText(e.status))
	if e.message != "" {
		s += ": " + e.message
	}
	return s
}

// maxErrorBody bounds what is read of an error answer: a message is
// short, and a proxy's HTML error page says nothing useful past its start.
const maxErrorBody = 64 << 10

// statusErrors is client middleware that turns an HTTP error answer into
// an httpError with the server's message. openai-go reads only OpenAI's
// {"error": {"message": ...}}: it drops vLLM's {"message": ...} and fails
// with a bare JSON error, status lost, on TGI's {"error": "..."}. The
// response still goes back with the error, so the client's retries on 408,
// 409, 429 and 5xx (and Retry-After) work as before.
func statusErrors(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	res, err := next(req)
	if err != nil || res.StatusCode < http.StatusBadRequest {
		return res, err
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody)) // what could be read is the best there is
	_ = res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, &httpError{method: req.Method, url: req.URL.Redacted(), status: res.StatusCode, message: errorBodyMessage(body)}
}

// errorBodyMessage finds the message in an error answer, in the shapes
// OpenAI-compatible servers use (see wireChunk), FastAPI's {"detail":
// ...}, or else the start of the body as text.
func errorBodyMessage(body []byte) string {
	var c wireChunk
	if json.Unmarshal(body, &c) == nil {
		if msg, ok := c.errorMessage(); ok {
			return msg
		}
		if c.Message != "" {
			return c.Message
		}
	}
	var fastAPI struct {
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &fastAPI) == nil && len(fastAPI.Detail) > 0 {
		var s string
		if json.Unmarshal(fastAPI.Detail, &s) == nil {
			return s
		}
		return string(fastAPI.Detail)
	}
	text := strings.Join(strings.Fields(string(body)), " ")
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return text
}
