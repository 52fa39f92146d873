package embed

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/twin-llm/twin/internal/awsclient"
	"github.com/twin-llm/twin/internal/awsclient/sagemakertest"
)

// sageMakerCall is one InvokeEndpoint request as the wire carries it.
type sageMakerCall struct {
	method, path string
	header       http.Header
	body         sageMakerRequest
}

// fakeSageMaker speaks the SageMaker runtime's InvokeEndpoint wire format
// (REST-JSON: POST /endpoints/{name}/invocations, the model's body passed
// through, errors named by X-Amzn-ErrorType) for a container in the Hugging
// Face feature-extraction format. It fails the first len(failures) calls
// with those statuses and answers the others with fakeVector per input.
type fakeSageMaker struct {
	dim      int
	failures []int
	answer   func(inputs []string) any // replaces the normal answer when set

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
	if f.answer != nil {
		_ = json.NewEncoder(w).Encode(f.answer(call.body.Inputs))
		return
	}
	out := make([][]float64, len(call.body.Inputs))
	for i, text := range call.body.Inputs {
		out[i] = fakeVector(text, f.dim)
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
func newTestSageMaker(t *testing.T, f *fakeSageMaker, cfg SageMakerConfig) *SageMaker {
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
	fake := &fakeSageMaker{dim: 3}
	m := newTestSageMaker(t, fake, SageMakerConfig{SageMaker: awsclient.SageMaker{Endpoint: "twin-embed", TargetVariant: "blue"}, Dim: 3, MaxBatch: 2, Truncate: true})
	texts := []string{"one", "", "three", "four", "fives"}
	got, err := m.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		want := unit(fakeVector(text, 3))
		if text == "" {
			want = make([]float32, 3)
		}
		if !slices.Equal(got[i], want) {
			t.Errorf("text %d (%q): got %v, want %v", i, text, got[i], want)
		}
	}

	calls := fake.got()
	wantInputs := [][]string{{"one", "three"}, {"four", "fives"}}
	if len(calls) != len(wantInputs) {
		t.Fatalf("endpoint got %d calls, want %d", len(calls), len(wantInputs))
	}
	for i, c := range calls {
		if c.method != http.MethodPost || c.path != "/endpoints/twin-embed/invocations" {
			t.Errorf("call %d: %s %s, want POST /endpoints/twin-embed/invocations", i, c.method, c.path)
		}
		for h, want := range map[string]string{
			"Content-Type":                    "application/json",
			"Accept":                          "application/json",
			"X-Amzn-Sagemaker-Target-Variant": "blue",
		} {
			if got := c.header.Get(h); got != want {
				t.Errorf("call %d: %s = %q, want %q", i, h, got, want)
			}
		}
		if auth := c.header.Get("Authorization"); !sigV4.MatchString(auth) {
			t.Errorf("call %d: Authorization %q is not a SigV4 signature for sagemaker in us-east-1", i, auth)
		}
		if c.header.Get("X-Amz-Date") == "" {
			t.Errorf("call %d: no X-Amz-Date", i)
		}
		if !slices.Equal(c.body.Inputs, wantInputs[i]) || !c.body.Truncate {
			t.Errorf("call %d: body %+v, want inputs %q and truncate", i, c.body, wantInputs[i])
		}
	}
	if m.Model() != "sagemaker/twin-embed/blue/dim3" {
		t.Errorf("Model() = %q", m.Model())
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
			fake := &fakeSageMaker{dim: 2, failures: tc.failures}
			m := newTestSageMaker(t, fake, SageMakerConfig{SageMaker: awsclient.SageMaker{Endpoint: "e", MaxAttempts: tc.attempts}, Dim: 2})
			_, err := m.Embed(context.Background(), []string{"hello"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if n := len(fake.got()); n != tc.wantCalls {
				t.Errorf("endpoint got %d calls, want %d", n, tc.wantCalls)
			}
		})
	}
}

func TestSageMakerRejectsResponsesThatDoNotFit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer func([]string) any
		want   error
	}{
		{"wrong dimension", func(in []string) any {
			out := make([][]float64, len(in))
			for i := range out {
				out[i] = []float64{1, 2, 3}
			}
			return out
		}, ErrDimension},
		{"one vector short", func(in []string) any { return [][]float64{{1, 2}} }, ErrResponse},
		{"token-level output", func(in []string) any { return [][][]float64{{{1, 2}, {3, 4}}, {{1, 2}}} }, ErrResponse},
		{"an object", func(in []string) any { return map[string]any{"embeddings": [][]float64{{1, 2}, {3, 4}}} }, ErrResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeSageMaker{dim: 2, answer: tc.answer}
			m := newTestSageMaker(t, fake, SageMakerConfig{SageMaker: awsclient.SageMaker{Endpoint: "e"}, Dim: 2})
			_, err := m.Embed(context.Background(), []string{"one", "two"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSageMakerConfigNeedsEndpointAndDim(t *testing.T) {
	t.Parallel()
	awsCfg := &aws.Config{Region: "us-east-1"}
	for _, cfg := range []SageMakerConfig{{SageMaker: awsclient.SageMaker{AWS: awsCfg}, Dim: 2}, {SageMaker: awsclient.SageMaker{Endpoint: "e", AWS: awsCfg}}} {
		if _, err := NewSageMaker(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("NewSageMaker(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}
