package llm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime/types"

	"github.com/twin-llm/twin/internal/awsclient"
	"github.com/twin-llm/twin/internal/awsclient/sagemakertest"
)

var _ Model = (*SageMaker)(nil)

// sageMakerCall is one InvokeEndpointWithResponseStream request as the
// wire carries it.
type sageMakerCall struct {
	method, path string
	header       http.Header
	body         []byte
}

// eventWriter writes the binary event-stream frames of an
// InvokeEndpointWithResponseStream response, flushing each at once.
type eventWriter struct {
	w   http.ResponseWriter
	enc *eventstream.Encoder
}

// part sends a PayloadPart event. Its Bytes member is the event's payload
// (the @eventPayload trait in the service model), so the frame carries the
// container's bytes as they are, not JSON: the SDK's deserializer
// (smithy-go eventstream.ShapeDeserializer.ReadBlob) hands the payload
// over as PayloadPart.Bytes.
func (e *eventWriter) part(b string) {
	var msg eventstream.Message
	msg.Headers.Set(":event-type", eventstream.StringValue("PayloadPart"))
	msg.Headers.Set(":content-type", eventstream.StringValue("application/octet-stream"))
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	msg.Payload = []byte(b)
	e.send(msg)
}

// exception sends a modeled error event (ModelStreamError,
// InternalStreamFailure) the way the service does: an exception message
// whose JSON payload holds the error's members.
func (e *eventWriter) exception(kind string, members map[string]string) {
	var msg eventstream.Message
	msg.Headers.Set(":exception-type", eventstream.StringValue(kind))
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	msg.Headers.Set(":message-type", eventstream.StringValue("exception"))
	msg.Payload, _ = json.Marshal(members) // a map of strings always encodes
	e.send(msg)
}

func (e *eventWriter) send(msg eventstream.Message) {
	if err := e.enc.Encode(e.w, msg); err != nil {
		panic(http.ErrAbortHandler) // the client went away
	}
	e.w.(http.Flusher).Flush()
}

// fakeSageMaker speaks the SageMaker runtime's
// InvokeEndpointWithResponseStream wire format (REST-JSON: POST
// /endpoints/{name}/invocations-response-stream, the model's body passed
// through, an application/vnd.amazon.eventstream response, errors named by
// X-Amzn-ErrorType). It fails the first len(failures) calls with those
// statuses and answers the others by running stream.
type fakeSageMaker struct {
	failures []int
	failType string // X-Amzn-ErrorType of the failures
	stream   func(e *eventWriter, r *http.Request)

	mu    sync.Mutex
	calls []sageMakerCall
}

func (f *fakeSageMaker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, sageMakerCall{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body})
	f.mu.Unlock()

	if n < len(f.failures) {
		sagemakertest.Fail(w, f.failures[n], f.failType, "Endpoint twin-llm of account 123456789012 not found.")
		return
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.Header().Set("X-Amzn-SageMaker-Content-Type", "text/event-stream")
	w.Header().Set("X-Amzn-Invoked-Production-Variant", "AllTraffic")
	w.WriteHeader(http.StatusOK)
	f.stream(&eventWriter{w: w, enc: eventstream.NewEncoder()}, r)
}

func (f *fakeSageMaker) got() []sageMakerCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// newTestSageMaker returns a client of the fake, with static fake
// credentials (the SDK signs every request with them).
func newTestSageMaker(t *testing.T, f *fakeSageMaker, cfg SageMakerConfig) *SageMaker {
	t.Helper()
	sagemakertest.Serve(t, f, &cfg.SageMaker, "eu-west-1")
	if cfg.Endpoint == "" {
		cfg.Endpoint = "twin-llm"
	}
	m, err := NewSageMaker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tgiEvent is one server-sent event of TGI's Messages API stream, as TGI
// writes it ("data:" without a space).
func tgiEvent(chunk string) string { return "data:" + chunk + "\n\n" }

func tgiChunk(text, finish, usage string) string {
	b, _ := json.Marshal(text) // a string always encodes
	f := "null"
	if finish != "" {
		f = `"` + finish + `"`
	}
	if usage == "" {
		usage = "null"
	}
	return `{"object":"chat.completion.chunk","id":"","created":1732000000,"model":"meta-llama/Llama-3.1-8B-Instruct",` +
		`"system_fingerprint":"3.0.0-sha-1","choices":[{"index":0,"delta":{"role":"assistant","content":` + string(b) +
		`},"logprobs":null,"finish_reason":` + f + `}],"usage":` + usage + `}`
}

// cutEvery cuts s into pieces of n bytes: PayloadParts that split lines,
// JSON and multi-byte characters anywhere.
func cutEvery(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

var sigV4SageMaker = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDTEST/\d{8}/eu-west-1/sagemaker/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`)

func TestSageMakerStreamsTokensFromPayloadPartsCutMidLine(t *testing.T) {
	t.Parallel()
	first := tgiEvent(tgiChunk("Hé", "", ""))
	rest := tgiEvent(tgiChunk("llo", "", "")) +
		tgiEvent(tgiChunk(" wörld", "stop", `{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}`))
	firstEmit := make(chan struct{})
	var heldBack bool
	fake := &fakeSageMaker{stream: func(e *eventWriter, r *http.Request) {
		// The first event and the start of the second, cut inside the
		// "é" and inside the second line.
		stream := first + rest
		cut := len(first) + 9
		for _, p := range cutEvery(stream[:cut], 5) {
			e.part(p)
		}
		select {
		case <-firstEmit:
			heldBack = true
		case <-r.Context().Done():
			return
		case <-time.After(guard):
		}
		for _, p := range cutEvery(stream[cut:], 7) {
			e.part(p)
		}
	}}
	m := newTestSageMaker(t, fake, SageMakerConfig{SageMaker: awsclient.SageMaker{TargetVariant: "blue"}})
	req := remoteRequest()
	pieces, u := streamPieces(t, m, req, firstEmit)
	if !heldBack {
		t.Error("the first token was not emitted while the endpoint held the rest of the stream back: the client does not stream")
	}
	if want := []string{"Hé", "llo", " wörld"}; !slices.Equal(pieces, want) {
		t.Errorf("emitted %q, want %q", pieces, want)
	}
	if u != (Usage{PromptTokens: 12, CompletionTokens: 3}) {
		t.Errorf("usage %+v, want the model's 12 prompt and 3 completion tokens", u)
	}

	calls := fake.got()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	c := calls[0]
	if c.method != http.MethodPost || c.path != "/endpoints/twin-llm/invocations-response-stream" {
		t.Errorf("request %s %s, want POST /endpoints/twin-llm/invocations-response-stream", c.method, c.path)
	}
	for header, want := range map[string]string{
		"Content-Type":                       "application/json",
		"X-Amzn-Sagemaker-Target-Variant":    "blue",
		"X-Amzn-Sagemaker-Accept":            "",
		"X-Amzn-Sagemaker-Custom-Attributes": "",
	} {
		if got := c.header.Get(header); got != want {
			t.Errorf("header %s = %q, want %q", header, got, want)
		}
	}
	if auth := c.header.Get("Authorization"); !sigV4SageMaker.MatchString(auth) {
		t.Errorf("Authorization %q is not a SigV4 signature for sagemaker in eu-west-1", auth)
	}
	var body, want any
	_ = json.Unmarshal([]byte(`{"messages":[{"role":"system","content":"You are the author."},{"role":"user","content":"Hi?"}],`+
		`"max_tokens":64,"temperature":0.2,"stream":true}`), &want)
	if err := json.Unmarshal(c.body, &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", c.body, err)
	}
	if got, _ := json.Marshal(body); string(got) != mustJSON(want) {
		t.Errorf("body %s, want %s", got, mustJSON(want))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v) // decoded JSON always encodes
	return string(b)
}

func TestSageMakerOmitsUnsetOptionsAndEstimatesMissingUsage(t *testing.T) {
	t.Parallel()
	stream := tgiEvent(tgiChunk("Hello", "", "")) + tgiEvent(tgiChunk(" world", "eos_token", "")) + "data: [DONE]\n\n"
	fake := &fakeSageMaker{stream: func(e *eventWriter, _ *http.Request) { e.part(stream) }}
	m := newTestSageMaker(t, fake, SageMakerConfig{SageMaker: awsclient.SageMaker{InferenceComponent: "llama-ic"}, Model: "tgi"})
	req := Request{Messages: []Message{{Role: RoleUser, Content: "Say hello to the whole world"}}}
	text, u, err := Complete(context.Background(), m, req)
	if err != nil {
		t.Fatal(err)
	}
	if text != "Hello world" {
		t.Errorf("reply %q, want Hello world", text)
	}
	if want := (Usage{PromptTokens: estimatePromptTokens(req.Messages), CompletionTokens: 3}); u != want {
		t.Errorf("usage %+v, want the estimate %+v", u, want)
	}
	c := fake.got()[0]
	if want := `{"model":"tgi","messages":[{"role":"user","content":"Say hello to the whole world"}],"stream":true}`; string(c.body) != want {
		t.Errorf("body %s, want %s", c.body, want)
	}
	if got := c.header.Get("X-Amzn-Sagemaker-Inference-Component"); got != "llama-ic" {
		t.Errorf("inference component header %q, want llama-ic", got)
	}
}

func TestSageMakerReportsStreamsThatFail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		stream         func(e *eventWriter, r *http.Request)
		wantAs         any // a pointer to the typed SDK error the error must wrap, or nil
		wantIncomplete bool
		wantErr        string
	}{
		{"a ModelStreamError event", func(e *eventWriter, _ *http.Request) {
			e.part(tgiEvent(tgiChunk("Hel", "", "")))
			e.exception("ModelStreamError", map[string]string{"Message": "CUDA out of memory", "ErrorCode": "ModelStreamError"})
		}, new(*types.ModelStreamError), true, "CUDA out of memory"},
		{"an InternalStreamFailure before any chunk", func(e *eventWriter, _ *http.Request) {
			e.exception("InternalStreamFailure", map[string]string{"Message": "stream broke"})
		}, new(*types.InternalStreamFailure), false, "stream broke"},
		{"an error event of the container", func(e *eventWriter, _ *http.Request) {
			e.part(tgiEvent(tgiChunk("Hel", "", "")))
			e.part(tgiEvent(`{"error":"Request failed during generation: Server error: CUDA OOM","error_type":"generation"}`))
		}, nil, true, "generation: Request failed during generation"},
		{"a stream cut inside a chunk", func(e *eventWriter, _ *http.Request) {
			e.part(tgiEvent(tgiChunk("Hel", "", "")))
			e.part(`data:{"object":"chat.completion.chunk","choi`)
		}, nil, true, "decode a chat completion chunk"},
		{"a stream that ends without a finish reason", func(e *eventWriter, _ *http.Request) {
			e.part(tgiEvent(tgiChunk("Hel", "", "")))
		}, nil, true, "without a finish reason"},
		{"a broken connection", func(e *eventWriter, _ *http.Request) {
			e.part(tgiEvent(tgiChunk("Hel", "", "")))
			panic(http.ErrAbortHandler)
		}, nil, true, "twin-llm"},
		{"an empty stream", func(*eventWriter, *http.Request) {}, nil, false, "empty stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newTestSageMaker(t, &fakeSageMaker{stream: tc.stream}, SageMakerConfig{})
			text, _, err := Complete(context.Background(), m, Request{Question: "q"})
			if err == nil {
				t.Fatalf("got %q and no error", text)
			}
			if tc.wantAs != nil && !errors.As(err, tc.wantAs) {
				t.Errorf("error %v (%T) does not wrap %T", err, err, tc.wantAs)
			}
			if errors.Is(err, ErrIncomplete) != tc.wantIncomplete {
				t.Errorf("error %v: ErrIncomplete %v, want %v", err, !tc.wantIncomplete, tc.wantIncomplete)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not say %q", err, tc.wantErr)
			}
		})
	}
}

func TestSageMakerHTTPErrorsAreClearAndRetriedWhenTransient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		status    int
		errType   string
		wantAs    any
		wantCalls int
		wantErr   string // "" for success
	}{
		{"a ValidationError is not retried", http.StatusBadRequest, "ValidationError", new(*types.ValidationError), 1,
			"Endpoint twin-llm of account 123456789012 not found."},
		{"a ModelError is not retried", http.StatusFailedDependency, "ModelError", new(*types.ModelError), 1, "ModelError"},
		{"throttling is retried", http.StatusTooManyRequests, "ThrottlingException", nil, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeSageMaker{failures: []int{tc.status}, failType: tc.errType, stream: func(e *eventWriter, _ *http.Request) {
				e.part(tgiEvent(tgiChunk("ok", "stop", "")))
			}}
			m := newTestSageMaker(t, fake, SageMakerConfig{SageMaker: awsclient.SageMaker{MaxAttempts: 2}})
			text, _, err := Complete(context.Background(), m, Request{Question: "q"})
			if n := len(fake.got()); n != tc.wantCalls {
				t.Errorf("endpoint got %d calls, want %d", n, tc.wantCalls)
			}
			if tc.wantErr == "" {
				if err != nil || text != "ok" {
					t.Fatalf("got %q, %v; want ok", text, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %q, want an error", text)
			}
			if !errors.As(err, tc.wantAs) {
				t.Errorf("error %v does not wrap %T", err, tc.wantAs)
			}
			for _, want := range []string{tc.wantErr, "SageMaker endpoint twin-llm", "InvokeEndpointWithResponseStream"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestSageMakerStopsWhenTheContextIsCancelled(t *testing.T) {
	t.Parallel()
	serverSawCancel := make(chan bool, 1)
	fake := &fakeSageMaker{stream: func(e *eventWriter, r *http.Request) {
		e.part(tgiEvent(tgiChunk("Hel", "", "")))
		select {
		case <-r.Context().Done():
			serverSawCancel <- true
		case <-time.After(guard):
			serverSawCancel <- false
		}
	}}
	m := newTestSageMaker(t, fake, SageMakerConfig{})
	checkCancelStopsTheStream(t, m, serverSawCancel)
}

func TestSageMakerReturnsTheEmitError(t *testing.T) {
	t.Parallel()
	fake := &fakeSageMaker{stream: func(e *eventWriter, _ *http.Request) {
		e.part(tgiEvent(tgiChunk("a", "", "")) + tgiEvent(tgiChunk("b", "stop", "")))
	}}
	m := newTestSageMaker(t, fake, SageMakerConfig{})
	checkEmitErrorStopsTheStream(t, m)
}

func TestSageMakerIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	fake := &fakeSageMaker{stream: func(e *eventWriter, _ *http.Request) {
		for _, p := range cutEvery(tgiEvent(tgiChunk("Hello", "", ""))+tgiEvent(tgiChunk(" world", "stop", "")), 4) {
			e.part(p)
		}
	}}
	m := newTestSageMaker(t, fake, SageMakerConfig{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			text, _, err := Complete(context.Background(), m, Request{Question: "q"})
			if err == nil && text != "Hello world" {
				err = errors.New("reply " + text)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestSageMakerConfigNeedsAnEndpoint(t *testing.T) {
	t.Parallel()
	if _, err := NewSageMaker(SageMakerConfig{SageMaker: awsclient.SageMaker{AWS: &aws.Config{Region: "eu-west-1"}}}); !errors.Is(err, ErrConfig) {
		t.Errorf("NewSageMaker without an endpoint: %v, want ErrConfig", err)
	}
	m, err := NewSageMaker(SageMakerConfig{SageMaker: awsclient.SageMaker{Endpoint: "twin-llm", AWS: &aws.Config{Region: "eu-west-1"}}})
	if err != nil || m.Name() != "twin-llm" {
		t.Errorf("NewSageMaker: %v, name %q; want the endpoint name", err, m.Name())
	}
}
