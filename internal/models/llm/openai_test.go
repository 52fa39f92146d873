package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var _ Model = (*OpenAI)(nil)

// guard bounds every wait of these tests on the other side of the wire, so
// that a broken client fails the test instead of hanging it.
const guard = 10 * time.Second

// The chunks of an OpenAI chat completions stream, as api.openai.com sends
// them with stream_options.include_usage: "usage": null on every chunk but
// the last, which has no choices and only the usage.
func roleChunk() string {
	return `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","system_fingerprint":"fp_1",` +
		`"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`
}

func contentChunk(text string) string {
	b, _ := json.Marshal(text) // a string always encodes
	return `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","system_fingerprint":"fp_1",` +
		`"choices":[{"index":0,"delta":{"content":` + string(b) + `},"logprobs":null,"finish_reason":null}],"usage":null}`
}

func finishChunk() string {
	return `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","system_fingerprint":"fp_1",` +
		`"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}`
}

func usageChunk(prompt, completion int) string {
	return fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","system_fingerprint":"fp_1",`+
		`"choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,`+
		`"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`,
		prompt, completion, prompt+completion)
}

// chatCall is one chat completions request as the wire carries it.
type chatCall struct {
	method, path, auth, contentType string
	body                            map[string]any
}

// fakeChat is an OpenAI-compatible chat completions server. It records
// every request, fails the first len(failures) with those statuses, and
// answers the others by running stream, which writes server-sent events
// with send (each event flushed at once, as a real server does).
type fakeChat struct {
	failures []int
	failBody string // the body of the failures; OpenAI's shape when empty
	stream   func(send func(data string), r *http.Request)

	mu    sync.Mutex
	calls []chatCall
}

func (f *fakeChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	call := chatCall{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"), contentType: r.Header.Get("Content-Type")}
	if err := json.Unmarshal(raw, &call.body); err != nil {
		http.Error(w, `{"error":{"message":"body is not JSON"}}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, call)
	f.mu.Unlock()

	if n < len(f.failures) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After-Ms", "1") // keep the client's backoff short
		w.WriteHeader(f.failures[n])
		if f.failBody != "" {
			fmt.Fprint(w, f.failBody)
			return
		}
		fmt.Fprintf(w, `{"error":{"message":"try again later","type":"server_error","code":%d}}`, f.failures[n])
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher := w.(http.Flusher)
	f.stream(func(data string) {
		fmt.Fprintf(w, "data: %s\n\n", data)
		flusher.Flush()
	}, r)
}

func (f *fakeChat) got() []chatCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func newTestOpenAI(t *testing.T, f *fakeChat, cfg OpenAIConfig) *OpenAI {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL + "/v1"
	if cfg.Model == "" {
		cfg.Model = "m"
	}
	m, err := NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sendAll is a stream that sends the chunks and ends the way OpenAI does.
func sendAll(chunks ...string) func(func(string), *http.Request) {
	return func(send func(string), _ *http.Request) {
		for _, c := range chunks {
			send(c)
		}
		send("[DONE]")
	}
}

func TestOpenAIStreamsTokensAsTheyArrive(t *testing.T) {
	t.Parallel()
	firstEmit := make(chan struct{})
	var heldBack bool // the server waited for the client's first emit before going on
	fake := &fakeChat{stream: func(send func(string), r *http.Request) {
		send(roleChunk())
		send(contentChunk("Hel"))
		select {
		case <-firstEmit:
			heldBack = true
		case <-r.Context().Done():
			return
		case <-time.After(guard):
		}
		send(contentChunk("lo"))
		send(contentChunk(" world"))
		send(finishChunk())
		send(usageChunk(12, 3))
		send("[DONE]")
	}}
	m := newTestOpenAI(t, fake, OpenAIConfig{Model: "twin-7b", APIKey: "sk-test"})
	req := remoteRequest()
	pieces, u := streamPieces(t, m, req, firstEmit)
	if !heldBack {
		t.Error("the first token was not emitted while the server held the rest of the stream back: the client does not stream")
	}
	if want := []string{"Hel", "lo", " world"}; !slices.Equal(pieces, want) {
		t.Errorf("emitted %q, want %q", pieces, want)
	}
	if u != (Usage{PromptTokens: 12, CompletionTokens: 3}) {
		t.Errorf("usage %+v, want the server's 12 prompt and 3 completion tokens", u)
	}

	calls := fake.got()
	if len(calls) != 1 {
		t.Fatalf("%d requests, want 1", len(calls))
	}
	c := calls[0]
	if c.method != http.MethodPost || c.path != "/v1/chat/completions" {
		t.Errorf("request %s %s, want POST /v1/chat/completions", c.method, c.path)
	}
	if c.auth != "Bearer sk-test" {
		t.Errorf("Authorization %q, want the bearer key", c.auth)
	}
	if !strings.HasPrefix(c.contentType, "application/json") {
		t.Errorf("Content-Type %q, want JSON", c.contentType)
	}
	body, _ := json.Marshal(c.body) // decoded JSON always encodes
	var got struct {
		Model         string    `json:"model"`
		Messages      []Message `json:"messages"`
		MaxTokens     int       `json:"max_tokens"`
		Temperature   float64   `json:"temperature"`
		Stream        bool      `json:"stream"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Model != "twin-7b" || !slices.Equal(got.Messages, req.Messages) || got.MaxTokens != 64 ||
		got.Temperature != 0.2 || !got.Stream || !got.StreamOptions.IncludeUsage {
		t.Errorf("request body %s, want model twin-7b, the messages, max_tokens 64, temperature 0.2, stream and stream_options.include_usage", body)
	}
}

func TestOpenAIOmitsUnsetOptionsAndEstimatesMissingUsage(t *testing.T) {
	t.Parallel()
	fake := &fakeChat{stream: sendAll(contentChunk("Hello"), contentChunk(" world"), finishChunk())}
	m := newTestOpenAI(t, fake, OpenAIConfig{})
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
	body := fake.got()[0].body
	for _, key := range []string{"max_tokens", "temperature"} {
		if _, ok := body[key]; ok {
			t.Errorf("request body has %s = %v, want it left to the server", key, body[key])
		}
	}
}

func TestOpenAIRetriesThrottlingAndServerErrorsThenFailsClearly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		failures  []int
		failBody  string
		retries   int
		wantCalls int
		wantErr   string // "" for success
	}{
		{"429 then 500 then ok", []int{http.StatusTooManyRequests, http.StatusInternalServerError}, "", 2, 3, ""},
		{"500 beyond the retries", []int{500, 500, 500}, "", 1, 2, "HTTP 500 Internal Server Error: server_error: try again later"},
		{"429 beyond the retries", []int{429, 429}, "", 1, 2, "HTTP 429 Too Many Requests: server_error: try again later"},
		{"400 is not retried", []int{http.StatusBadRequest}, "", 2, 1, "HTTP 400 Bad Request: server_error: try again later"},
		{"no retries", []int{http.StatusServiceUnavailable}, "", -1, 1, "HTTP 503 Service Unavailable"},
		{"TGI's error shape", []int{http.StatusUnprocessableEntity},
			`{"error":"Input validation error: inputs too long","error_type":"validation"}`, 2, 1,
			"HTTP 422 Unprocessable Entity: validation: Input validation error: inputs too long"},
		{"vLLM's error shape", []int{http.StatusBadRequest},
			`{"object":"error","message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}`, 2, 1,
			"HTTP 400 Bad Request: max_tokens is too large"},
		{"FastAPI's error shape", []int{http.StatusNotFound}, `{"detail":"Not Found"}`, 2, 1, "HTTP 404 Not Found: Not Found"},
		{"a proxy's page, retried by default", []int{502, 502, 502}, "<html>\n<h1>502 Bad Gateway</h1></html>", 0, 3,
			"HTTP 502 Bad Gateway: <html> <h1>502 Bad Gateway</h1></html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeChat{failures: tc.failures, failBody: tc.failBody, stream: sendAll(contentChunk("ok"), finishChunk())}
			m := newTestOpenAI(t, fake, OpenAIConfig{Model: "twin-7b", MaxRetries: tc.retries})
			text, _, err := Complete(context.Background(), m, Request{Question: "q"})
			if n := len(fake.got()); n != tc.wantCalls {
				t.Errorf("server got %d requests, want %d", n, tc.wantCalls)
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
			for _, want := range []string{tc.wantErr, "twin-7b", "POST http://", "/v1/chat/completions"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if errors.Is(err, ErrIncomplete) {
				t.Errorf("a refused request is not an incomplete stream: %v", err)
			}
		})
	}
}

func TestOpenAIReportsStreamsThatBreak(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		stream         func(func(string), *http.Request)
		wantIncomplete bool
		wantErr        string
	}{
		{"an error event mid-stream", func(send func(string), _ *http.Request) {
			send(contentChunk("Hel"))
			send(`{"error":{"message":"the model is overloaded","type":"server_error"}}`)
		}, true, "the model is overloaded"},
		{"a broken connection", func(send func(string), _ *http.Request) {
			send(contentChunk("Hel"))
			panic(http.ErrAbortHandler) // net/http drops the connection mid-body
		}, true, "unexpected EOF"},
		{"a clean end without a finish reason", func(send func(string), _ *http.Request) {
			send(contentChunk("Hel"))
		}, true, "without a finish reason"},
		{"a malformed chunk", func(send func(string), _ *http.Request) {
			send(contentChunk("Hel"))
			send(`{"choices":[{"index":0,"delta":{"content":`)
		}, true, "twin-7b"},
		{"an error as the first event", func(send func(string), _ *http.Request) {
			send(`{"error":{"message":"prompt too long","type":"invalid_request_error"}}`)
		}, false, "prompt too long"},
		{"an empty stream", func(func(string), *http.Request) {}, false, "empty stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newTestOpenAI(t, &fakeChat{stream: tc.stream}, OpenAIConfig{Model: "twin-7b", MaxRetries: -1})
			text, _, err := Complete(context.Background(), m, Request{Question: "q"})
			if err == nil {
				t.Fatalf("got %q and no error", text)
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

func TestOpenAIStopsWhenTheContextIsCancelled(t *testing.T) {
	t.Parallel()
	serverSawCancel := make(chan bool, 1)
	fake := &fakeChat{stream: func(send func(string), r *http.Request) {
		send(contentChunk("Hel"))
		select {
		case <-r.Context().Done():
			serverSawCancel <- true
		case <-time.After(guard):
			serverSawCancel <- false
		}
	}}
	m := newTestOpenAI(t, fake, OpenAIConfig{})
	checkCancelStopsTheStream(t, m, serverSawCancel)
}

func TestOpenAIReturnsTheEmitError(t *testing.T) {
	t.Parallel()
	fake := &fakeChat{stream: sendAll(contentChunk("a"), contentChunk("b"), finishChunk())}
	m := newTestOpenAI(t, fake, OpenAIConfig{})
	checkEmitErrorStopsTheStream(t, m)
}

func TestOpenAIConfigNeedsURLAndModel(t *testing.T) {
	t.Parallel()
	for _, cfg := range []OpenAIConfig{{Model: "m"}, {BaseURL: "http://x/v1"}} {
		if _, err := NewOpenAI(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("NewOpenAI(%+v): %v, want ErrConfig", cfg, err)
		}
	}
	m, err := NewOpenAI(OpenAIConfig{BaseURL: "http://x/v1", Model: "llama3"})
	if err != nil || m.Name() != "llama3" {
		t.Errorf("NewOpenAI: %v, name %q; want the model name", err, m.Name())
	}
}
