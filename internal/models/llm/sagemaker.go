package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime/schemas"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime/types"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"

	"github.com/twin-llm/twin/internal/awsclient"
)

// SageMakerConfig points the SageMaker client at a real-time endpoint that
// serves a chat model in the Hugging Face Text Generation Inference (TGI)
// container, the "Hugging Face LLM" image of SageMaker, called through
// TGI's Messages API: the request body is {"messages": [...], "stream":
// true, ...} and the response streams OpenAI-style chat.completion.chunk
// server-sent events. Other containers that take the same body and stream
// the same events (vLLM's, LMI with its OpenAI-compatible schema) work too.
type SageMakerConfig struct {
	// SageMaker is the endpoint (Endpoint is required, and is also the
	// Model's Name) and how to reach it. MaxAttempts, default 3, counts
	// the tries before the stream starts: a stream that fails once it has
	// begun is not retried.
	awsclient.SageMaker
	// Model is sent as the body's "model" when set. TGI ignores it, but
	// some containers want one.
	Model string
	// Timeout bounds one generation, retries and the whole stream
	// included; DefaultGenerationTimeout when 0.
	Timeout time.Duration
}

// SageMaker is a Model served by a SageMaker real-time endpoint, called
// with aws-sdk-go-v2's InvokeEndpointWithResponseStream (SigV4-signed). It
// is safe for concurrent use.
type SageMaker struct {
	cfg    SageMakerConfig
	client *sagemakerruntime.Client
}

// NewSageMaker returns the client for cfg. It fails with ErrConfig when
// the endpoint is missing, or when cfg.AWS is nil and the default AWS
// configuration cannot be loaded (credentials themselves are resolved, and
// checked, on the first call).
func NewSageMaker(cfg SageMakerConfig) (*SageMaker, error) {
	if cfg.Endpoint == "" {
		return nil, fmt.Errorf("%w: a SageMaker model needs an endpoint name", ErrConfig)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultGenerationTimeout
	}
	client, err := awsclient.NewSageMakerRuntime(cfg.SageMaker)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &SageMaker{cfg: cfg, client: client}, nil
}

// Name is the endpoint name.
func (m *SageMaker) Name() string { return m.cfg.Endpoint }

// tgiRequest is the body of TGI's Messages API (/v1/chat/completions,
// which a SageMaker invocation reaches when the body has "messages").
type tgiRequest struct {
	Model       string    `json:"model,omitempty"`
	Messages    []Message `json:"messages"`
	MaxTokens   int       `json:"max_tokens,omitempty"`
	Temperature *float64  `json:"temperature,omitempty"`
	Stream      bool      `json:"stream"`
}

// Stream invokes the endpoint with req as a TGI Messages API request and
// emits the first choice's content of each chunk as it arrives. The
// response's PayloadPart events carry the container's server-sent events
// cut at arbitrary bytes, so they are reassembled across parts before
// decoding. Usage is what the last chunk reports, or else an estimate
// (about four bytes a token).
//
// A ModelStreamError or InternalStreamFailure event is an error that
// wraps the SDK's typed error (errors.As finds *types.ModelStreamError).
// Errors follow OpenAI.Stream: ctx's error when it is done, ErrIncomplete
// for a stream that broke after its first chunk.
func (m *SageMaker) Stream(ctx context.Context, req Request, emit func(text string) error) (Usage, error) {
	msgs, err := promptMessages(req)
	if err != nil {
		return Usage{}, fmt.Errorf("llm: SageMaker endpoint %s: %w", m.cfg.Endpoint, err)
	}
	body, err := json.Marshal(tgiRequest{
		Model: m.cfg.Model, Messages: msgs, MaxTokens: max(req.MaxTokens, 0),
		Temperature: req.Temperature, Stream: true,
	})
	if err != nil {
		return Usage{}, fmt.Errorf("llm: encode the SageMaker request: %w", err)
	}
	in := &sagemakerruntime.InvokeEndpointWithResponseStreamInput{
		EndpointName: aws.String(m.cfg.Endpoint),
		Body:         body,
		ContentType:  aws.String("application/json"),
	}
	in.TargetVariant, in.InferenceComponentName = m.cfg.Route()

	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	out, err := m.client.InvokeEndpointWithResponseStream(ctx, in, ownProtocol)
	if err != nil {
		if ctx.Err() != nil {
			return Usage{}, fmt.Errorf("llm: generation with SageMaker endpoint %s stopped: %w", m.cfg.Endpoint, ctx.Err())
		}
		return Usage{}, fmt.Errorf("llm: invoke SageMaker endpoint %s: %w", m.cfg.Endpoint, err)
	}
	events := out.GetStream()
	defer events.Close()

	var (
		st      chunkStream
		dec     sseDecoder
		emitErr error // emit's error, returned as it is
	)
	onEvent := func(data []byte) error {
		text, err := st.add(data)
		if err != nil || text == "" {
			return err
		}
		if err := emit(text); err != nil {
			emitErr = err
			return err
		}
		return nil
	}
	fail := func(err error) (Usage, error) {
		switch {
		case emitErr != nil:
			return Usage{}, emitErr
		case ctx.Err() != nil:
			return Usage{}, fmt.Errorf("llm: generation with SageMaker endpoint %s stopped: %w", m.cfg.Endpoint, ctx.Err())
		case st.chunks == 0:
			return Usage{}, fmt.Errorf("llm: SageMaker endpoint %s: %w", m.cfg.Endpoint, err)
		}
		return Usage{}, fmt.Errorf("%w: SageMaker endpoint %s failed after %d chunks: %w", ErrIncomplete, m.cfg.Endpoint, st.chunks, err)
	}

read:
	for !st.done {
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case ev, ok := <-events.Events():
			if !ok {
				break read
			}
			part, ok := ev.(*types.ResponseStreamMemberPayloadPart)
			if !ok {
				continue // an event type newer than this SDK: nothing to read in it
			}
			if err := dec.feed(part.Value.Bytes, onEvent); err != nil {
				return fail(err)
			}
		}
	}
	if !st.done {
		// The events end at the end of the response, or at an error event
		// (ModelStreamError, InternalStreamFailure), which Err returns.
		if err := events.Err(); err != nil {
			return fail(err)
		}
		if err := dec.end(onEvent); err != nil {
			return fail(err)
		}
	}
	switch {
	case ctx.Err() != nil && !st.finished:
		return fail(ctx.Err())
	case st.chunks == 0:
		return Usage{}, fmt.Errorf("llm: SageMaker endpoint %s answered with an empty stream", m.cfg.Endpoint)
	case !st.finished:
		return Usage{}, fmt.Errorf("%w: SageMaker endpoint %s ended its stream without a finish reason", ErrIncomplete, m.cfg.Endpoint)
	}
	return st.usageOr(msgs), nil
}

// ownProtocol gives one call its own copy of the client's protocol (the
// same REST-JSON protocol NewFromConfig sets). The protocol holds the
// event-stream decoder state, lazily created and reset by every stream
// that reads events, without a lock: two streams of one client at once
// are a data race in the SDK (smithy-go v1.28.9, internal/eventstream
// Codec). One protocol per call keeps concurrent Streams apart, for the
// cost of a few small allocations.
func ownProtocol(o *sagemakerruntime.Options) {
	o.Protocol = restjson1.New(schemas.AmazonSageMakerRuntime)
}

// chunkStream follows a chat completions stream one event at a time.
type chunkStream struct {
	chunks   int    // chunks decoded
	emitted  int    // bytes of content
	finished bool   // a finish reason arrived
	done     bool   // "[DONE]" arrived: nothing more will
	usage    *Usage // the last usage reported
}

// add decodes one event and returns the text to emit.
func (s *chunkStream) add(data []byte) (string, error) {
	if s.done {
		return "", nil // nothing after "[DONE]" belongs to the reply
	}
	ev, err := decodeChunk(data)
	switch {
	case err != nil:
		return "", err
	case ev.empty:
		return "", nil
	case ev.done:
		s.done = true
		return "", nil
	}
	s.chunks++
	s.finished = s.finished || ev.finished
	if ev.usage != nil {
		s.usage = ev.usage
	}
	s.emitted += len(ev.text)
	return ev.text, nil
}

// usageOr returns the usage the server reported, or an estimate.
func (s *chunkStream) usageOr(msgs []Message) Usage {
	if s.usage != nil {
		return *s.usage
	}
	return Usage{PromptTokens: estimatePromptTokens(msgs), CompletionTokens: estimateTokensOfBytes(s.emitted)}
}
