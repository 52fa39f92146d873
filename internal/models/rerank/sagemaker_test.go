package rerank

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/twin-llm/twin/internal/awsclient"
	"github.com/twin-llm/twin/internal/awsclient/sagemakertest"
)

// sageMakerCall is one InvokeEndpoint request as the wire carries it.
type sageMakerCall struct {
	method, path string
	header       http.Header
	body         teiRequest
}

// fakeSageMaker speaks the SageMaker runtime's InvokeEndpoint wire format
// (REST-JSON: POST /endpoints/{name}/invocations, the model's body passed
// through, errors named by X-Amzn-ErrorType) for the TEI container serving
// a reranker, which answers /invocations as /rerank: entries sorted by
// score, best first. It fails the first len(failures) calls with those
// statuses; answer, when set, replaces the normal answer.
type fakeSageMaker struct {
	failures []int
	answer   func(texts []string) any

	mu    sync.Mutex
	calls []sageMakerCall
}

func (f *fakeSageMaker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	call := sageMakerCall{method: r.Method, path: r.URL.Path, header: r.Header.Clone()}
	if err := json.Unmarshal(raw, &call.body); err != nil {
		sagemakertest.Fail(w, http.StatusBadRequest, "ValidationError", "body is not JSON")
		return
	}
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, call)
	f.mu.Unlock()

	if n < len(f.failures) {
		sagemakertest.Fail(w, f.failures[n], sagemakertest.ErrorType(f.failures[n]), "try again")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Invoked-Production-Variant", "AllTraffic")
	texts := call.body.Texts
	if f.answer != nil {
		_ = json.NewEncoder(w).Encode(f.answer(texts))
		return
	}
	order := make([]int, len(texts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(fakeScore(texts[b]), fakeScore(texts[a])) })
	out := make([]map[string]any, len(order))
	for r, i := range order {
		out[r] = map[string]any{"index": i, "score": fakeScore(texts[i])}
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakeSageMaker) got() []sageMakerCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// newTestSageMaker returns a client of the fake, with static fake
// credentials (the SDK signs every request with them).
func newTestSageMaker(t *testing.T, f http.Handler, cfg SageMakerConfig) *SageMaker {
	t.Helper()
	sagemakertest.Serve(t, f, &cfg.SageMaker, "us-east-1")
	m, err := NewSageMaker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var sigV4 = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDTEST/\d{8}/us-east-1/sagemaker/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`)

func TestSageMakerInvokesTheEndpointInBatches(t *testing.T) {
	t.Parallel()
	texts := []string{"one", "three", "", "the longest of them", "four"}
	for _, tc := range []struct {
		name       string
		cfg        SageMakerConfig
		wantHeader map[string]string
		wantName   string
	}{
		{"variant", SageMakerConfig{SageMaker: awsclient.SageMaker{Endpoint: "twin-rerank", TargetVariant: "blue"}, MaxBatch: 2},
			map[string]string{"X-Amzn-Sagemaker-Target-Variant": "blue"}, "sagemaker/twin-rerank/blue"},
		{"inference component", SageMakerConfig{SageMaker: awsclient.SageMaker{Endpoint: "twin-rerank", InferenceComponent: "bge"}, MaxBatch: 2},
			map[string]string{"X-Amzn-Sagemaker-Inference-Component": "bge"}, "sagemaker/twin-rerank/bge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeSageMaker{}
			m := newTestSageMaker(t, fake, tc.cfg)
			got, err := m.Score(context.Background(), "which is longest?", texts)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float64, len(texts))
			for i, text := range texts {
				want[i] = fakeScore(text)
			}
			if !slices.Equal(got, want) {
				t.Errorf("scores %v, want %v (input order)", got, want)
			}

			calls := fake.got()
			wantTexts := [][]string{texts[0:2], texts[2:4], texts[4:5]}
			if len(calls) != len(wantTexts) {
				t.Fatalf("endpoint got %d calls, want %d", len(calls), len(wantTexts))
			}
			for i, c := range calls {
				if c.method != http.MethodPost || c.path != "/endpoints/twin-rerank/invocations" {
					t.Errorf("call %d: %s %s, want POST /endpoints/twin-rerank/invocations", i, c.method, c.path)
				}
				headers := map[string]string{"Content-Type": "application/json", "Accept": "application/json"}
				for h, v := range tc.wantHeader {
					headers[h] = v
				}
				for h, want := range headers {
					if got := c.header.Get(h); got != want {
						t.Errorf("call %d: %s = %q, want %q", i, h, got, want)
					}
				}
				if auth := c.header.Get("Authorization"); !sigV4.MatchString(auth) {
					t.Errorf("call %d: Authorization %q is not a SigV4 signature for sagemaker in us-east-1", i, auth)
				}
				if c.body.Query != "which is longest?" || !slices.Equal(c.body.Texts, wantTexts[i]) || !c.body.Truncate {
					t.Errorf("call %d: body %+v, want the query, texts %q and truncate", i, c.body, wantTexts[i])
				}
			}
			if m.Name() != tc.wantName {
				t.Errorf("Name() = %q, want %q", m.Name(), tc.wantName)
			}
		})
	}
}

func TestSageMakerRetriesThrottlingAndServerErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		failures  []int
		attempts  int
		wantCalls int
		wantErr   bool
	}{
		{"500 then ok", []int{500}, 3, 2, false},
		{"429 then ok", []int{429}, 3, 2, false},
		{"503 past the attempts", []int{503, 503}, 2, 2, true},
		{"model error is not retried", []int{424}, 3, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeSageMaker{failures: tc.failures}
			m := newTestSageMaker(t, fake, SageMakerConfig{SageMaker: awsclient.SageMaker{Endpoint: "e", MaxAttempts: tc.attempts}})
			got, err := m.Score(context.Background(), "q", []string{"hello"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Score = %v, %v; want error: %v", got, err, tc.wantErr)
			}
			if n := len(fake.got()); n != tc.wantCalls {
				t.Errorf("endpoint got %d calls, want %d", n, tc.wantCalls)
			}
		})
	}
}

func TestSageMakerRejectsAnswersThatDoNotFit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer func([]string) any
	}{
		{"one score short", func([]string) any { return []map[string]any{{"index": 0, "score": 0.5}} }},
		{"duplicate index", func([]string) any {
			return []map[string]any{{"index": 1, "score": 0.5}, {"index": 1, "score": 0.4}}
		}},
		{"classifier output", func([]string) any {
			return [][]map[string]any{{{"label": "LABEL_0", "score": 0.9}}, {{"label": "LABEL_0", "score": 0.1}}}
		}},
		{"embeddings", func([]string) any { return [][]float64{{1, 2}, {3, 4}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newTestSageMaker(t, &fakeSageMaker{answer: tc.answer}, SageMakerConfig{SageMaker: awsclient.SageMaker{Endpoint: "e"}})
			got, err := m.Score(context.Background(), "q", []string{"one", "two"})
			if !errors.Is(err, ErrResponse) {
				t.Fatalf("Score = %v, %v; want ErrResponse", got, err)
			}
		})
	}
}

func TestSageMakerStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	m := newTestSageMaker(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}), SageMakerConfig{SageMaker: awsclient.SageMaker{Endpoint: "e"}})
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := m.Score(ctx, "q", []string{"a"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Score error %v, want context.DeadlineExceeded", err)
	}
}

func TestSageMakerConfigNeedsAnEndpoint(t *testing.T) {
	t.Parallel()
	awsCfg := &aws.Config{Region: "us-east-1"}
	for _, cfg := range []SageMakerConfig{
		{SageMaker: awsclient.SageMaker{AWS: awsCfg}},
		{SageMaker: awsclient.SageMaker{Endpoint: "e", AWS: awsCfg}, MaxBatch: -1},
		{SageMaker: awsclient.SageMaker{Endpoint: "e", AWS: awsCfg}, Timeout: -time.Second},
	} {
		if _, err := NewSageMaker(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("NewSageMaker(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}
