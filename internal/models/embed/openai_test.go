package embed

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

var (
	_ Dense  = (*OpenAI)(nil)
	_ Dense  = (*SageMaker)(nil)
	_ Dense  = (*Hashed)(nil)
	_ Sparse = (*BM25)(nil)
)

// fakeVector is what the fake servers return for a text: not unit length,
// and different for texts of different lengths, so that a test can tell
// both that the client normalized and that it kept the order.
func fakeVector(text string, dim int) []float64 {
	v := make([]float64, dim)
	for i := range v {
		v[i] = 1
	}
	v[0] = float64(len(text))
	return v
}

func unit(v []float64) []float32 {
	out, _ := toUnit(v) // fixed, finite inputs
	return out
}

// openAIRequest is the embeddings request as the wire carries it.
type openAIRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
	Dimensions     *int     `json:"dimensions"`

	path, method, auth, contentType string
}

// fakeOpenAI speaks the OpenAI embeddings wire format: it records every
// request, fails the first len(failures) of them with those statuses, and
// answers the others with fakeVector of dim dimensions per input, listed
// in reverse order (the index field is what ties a vector to its input).
type fakeOpenAI struct {
	dim      int
	failures []int
	answer   func(req openAIRequest) any // replaces the normal answer when set

	mu       sync.Mutex
	requests []openAIRequest
}

func (f *fakeOpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req openAIRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.path, req.method = r.URL.Path, r.Method
	req.auth, req.contentType = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, req)
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	if n < len(f.failures) {
		w.Header().Set("Retry-After-Ms", "1") // keep the client's backoff short
		w.WriteHeader(f.failures[n])
		_, _ = w.Write([]byte(`{"error":{"message":"try again","type":"server_error"}}`))
		return
	}
	if f.answer != nil {
		_ = json.NewEncoder(w).Encode(f.answer(req))
		return
	}
	type item struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"`
	}
	var data []item
	for i := len(req.Input) - 1; i >= 0; i-- {
		v := fakeVector(req.Input[i], f.dim)
		var emb any = v
		if req.EncodingFormat == "base64" {
			buf := make([]byte, 4*len(v))
			for j, x := range v {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(float32(x)))
			}
			emb = base64.StdEncoding.EncodeToString(buf)
		}
		data = append(data, item{Object: "embedding", Index: i, Embedding: emb})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list",
		"data":   data,
		"model":  req.Model,
		"usage":  map[string]int{"prompt_tokens": 7, "total_tokens": 7},
	})
}

func (f *fakeOpenAI) got() []openAIRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func newFakeOpenAI(t *testing.T, f *fakeOpenAI) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

func TestOpenAISendsBatchesAndReturnsUnitVectorsInOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		base64 bool
		format string
	}{
		{"float", false, "float"},
		{"base64", true, "base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeOpenAI{dim: 4}
			m, err := NewOpenAI(OpenAIConfig{BaseURL: newFakeOpenAI(t, fake), APIKey: "sk-test", Model: "bge-small",
				Dim: 4, MaxBatch: 2, Base64: tc.base64})
			if err != nil {
				t.Fatal(err)
			}
			texts := []string{"a", "bb", "  ", "ccc", "dddd", "eeeee"}
			got, err := m.Embed(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			for i, text := range texts {
				want := unit(fakeVector(text, 4))
				if i == 2 {
					want = make([]float32, 4) // blank: not sent, zero vector
				}
				if !slices.Equal(got[i], want) {
					t.Errorf("text %d (%q): got %v, want %v", i, text, got[i], want)
				}
			}

			reqs := fake.got()
			wantInputs := [][]string{{"a", "bb"}, {"ccc", "dddd"}, {"eeeee"}}
			if len(reqs) != len(wantInputs) {
				t.Fatalf("server got %d requests, want %d (batches of 2, blank text skipped)", len(reqs), len(wantInputs))
			}
			for i, r := range reqs {
				if r.method != http.MethodPost || r.path != "/v1/embeddings" {
					t.Errorf("request %d: %s %s, want POST /v1/embeddings", i, r.method, r.path)
				}
				if r.auth != "Bearer sk-test" {
					t.Errorf("request %d: Authorization %q, want the bearer key", i, r.auth)
				}
				if r.contentType != "application/json" {
					t.Errorf("request %d: Content-Type %q", i, r.contentType)
				}
				if r.Model != "bge-small" || r.EncodingFormat != tc.format || r.Dimensions != nil {
					t.Errorf("request %d: model %q, encoding_format %q, dimensions %v; want bge-small, %s, none",
						i, r.Model, r.EncodingFormat, r.Dimensions, tc.format)
				}
				if !slices.Equal(r.Input, wantInputs[i]) {
					t.Errorf("request %d: input %q, want %q", i, r.Input, wantInputs[i])
				}
			}
			if m.Dim() != 4 || m.Model() != "openai/bge-small/dim4" {
				t.Errorf("Dim %d, Model %q", m.Dim(), m.Model())
			}
		})
	}
}

func TestOpenAIAsksForDimensionsWhenConfigured(t *testing.T) {
	t.Parallel()
	fake := &fakeOpenAI{dim: 8}
	m, err := NewOpenAI(OpenAIConfig{BaseURL: newFakeOpenAI(t, fake), Model: "text-embedding-3-small", Dim: 8, SendDimensions: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Embed(context.Background(), []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if r := fake.got(); len(r) != 1 || r[0].Dimensions == nil || *r[0].Dimensions != 8 {
		t.Fatalf("want one request with dimensions 8, got %+v", r)
	}
}

func TestOpenAIRetriesThrottlingAndServerErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		failures  []int
		retries   int
		wantCalls int
		wantErr   bool
	}{
		{"429 then 503 then ok", []int{http.StatusTooManyRequests, http.StatusServiceUnavailable}, 3, 3, false},
		{"500 beyond the retries", []int{500, 500, 500}, 1, 2, true},
		{"400 is not retried", []int{http.StatusBadRequest}, 3, 1, true},
		{"401 is not retried", []int{http.StatusUnauthorized}, 3, 1, true},
		{"no retries", []int{http.StatusTooManyRequests}, -1, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeOpenAI{dim: 2, failures: tc.failures}
			m, err := NewOpenAI(OpenAIConfig{BaseURL: newFakeOpenAI(t, fake), Model: "m", Dim: 2, MaxRetries: tc.retries})
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Embed(context.Background(), []string{"hello"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if n := len(fake.got()); n != tc.wantCalls {
				t.Errorf("server got %d requests, want %d", n, tc.wantCalls)
			}
		})
	}
}

func TestOpenAIRejectsResponsesThatDoNotFit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer func(openAIRequest) any
		want   error
	}{
		{"wrong dimension", func(r openAIRequest) any {
			var data []any
			for i := range r.Input {
				data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": []float64{1, 2, 3}})
			}
			return map[string]any{"object": "list", "model": r.Model, "data": data}
		}, ErrDimension},
		{"missing vector", func(r openAIRequest) any {
			return map[string]any{"object": "list", "model": r.Model, "data": []any{}}
		}, ErrResponse},
		{"repeated index", func(r openAIRequest) any {
			e := map[string]any{"object": "embedding", "index": 0, "embedding": []float64{1, 2}}
			return map[string]any{"object": "list", "model": r.Model, "data": []any{e, e}}
		}, ErrResponse},
		{"index out of range", func(r openAIRequest) any {
			e := map[string]any{"object": "embedding", "index": 5, "embedding": []float64{1, 2}}
			f := map[string]any{"object": "embedding", "index": 0, "embedding": []float64{1, 2}}
			return map[string]any{"object": "list", "model": r.Model, "data": []any{f, e}}
		}, ErrResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeOpenAI{dim: 2, answer: tc.answer}
			m, err := NewOpenAI(OpenAIConfig{BaseURL: newFakeOpenAI(t, fake), Model: "m", Dim: 2})
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Embed(context.Background(), []string{"one", "two"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestOpenAIConfigNeedsURLModelAndDim(t *testing.T) {
	t.Parallel()
	for _, cfg := range []OpenAIConfig{
		{Model: "m", Dim: 2},
		{BaseURL: "http://x/v1", Dim: 2},
		{BaseURL: "http://x/v1", Model: "m"},
	} {
		if _, err := NewOpenAI(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("NewOpenAI(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

func TestToUnitRejectsNonFiniteVectors(t *testing.T) {
	t.Parallel()
	for _, v := range [][]float64{{math.NaN(), 1}, {math.Inf(1), 0}, {math.MaxFloat64, math.MaxFloat64}} {
		if _, err := toUnit(v); !errors.Is(err, ErrResponse) {
			t.Errorf("toUnit(%v) = %v, want ErrResponse", v, err)
		}
	}
	if v, err := toUnit([]float64{0, 0}); err != nil || !slices.Equal(v, []float32{0, 0}) {
		t.Errorf("toUnit(zero) = %v, %v; want the zero vector", v, err)
	}
	if v, _ := toUnit([]float64{3, 4}); !slices.Equal(v, []float32{0.6, 0.8}) {
		t.Errorf("toUnit(3,4) = %v, want [0.6 0.8]", v)
	}
}
