package rerank

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeScore is the fake cross-encoder: a score that depends on the text
// alone, so a test knows the score each text must get back.
func fakeScore(text string) float64 { return float64(len(text)) / 100 }

// rerankCall is one request as the wire carries it.
type rerankCall struct {
	method, path string
	header       http.Header
	body         map[string]any
	texts        []string // "texts" or "documents"
}

// fakeReranker speaks TEI's /rerank or the Cohere-style /v1/rerank. Its
// answers are sorted by score, best first, as real servers sort them. It
// fails the first len(failures) calls with those statuses; answer, when
// set, replaces the normal answer.
type fakeReranker struct {
	format     string
	failures   []int
	retryAfter string
	answer     func(texts []string) any

	mu    sync.Mutex
	calls []rerankCall
}

func (f *fakeReranker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	call := rerankCall{method: r.Method, path: r.URL.Path, header: r.Header.Clone()}
	if err := json.Unmarshal(raw, &call.body); err != nil {
		http.Error(w, `{"error":"body is not JSON"}`, http.StatusUnprocessableEntity)
		return
	}
	key := "texts"
	if f.format == FormatCohere {
		key = "documents"
	}
	list, _ := call.body[key].([]any)
	for _, v := range list {
		s, _ := v.(string)
		call.texts = append(call.texts, s)
	}
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, call)
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	if n < len(f.failures) {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		w.WriteHeader(f.failures[n])
		_, _ = w.Write([]byte(`{"error":"model overloaded"}`))
		return
	}
	if f.answer != nil {
		_ = json.NewEncoder(w).Encode(f.answer(call.texts))
		return
	}
	order := make([]int, len(call.texts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(fakeScore(call.texts[b]), fakeScore(call.texts[a]))
	})
	entries := make([]map[string]any, len(order))
	for r, i := range order {
		if f.format == FormatCohere {
			entries[r] = map[string]any{"index": i, "relevance_score": fakeScore(call.texts[i])}
		} else {
			entries[r] = map[string]any{"index": i, "score": fakeScore(call.texts[i])}
		}
	}
	if f.format == FormatCohere {
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "x", "results": entries, "meta": map[string]any{}})
		return
	}
	_ = json.NewEncoder(w).Encode(entries)
}

func (f *fakeReranker) got() []rerankCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// newTestHTTP returns a client of a fake served under path, with retries
// that wait milliseconds instead of seconds.
func newTestHTTP(t *testing.T, f http.Handler, path string, cfg HTTPConfig) *HTTP {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.URL = srv.URL + path
	h, err := NewHTTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.retry = retryPolicy{attempts: 3, base: time.Millisecond, maxRetryAfter: 20 * time.Millisecond}
	return h
}

func TestHTTPScoresInInputOrderInBatches(t *testing.T) {
	t.Parallel()
	texts := []string{"a", "longest text of all", "mid text", "", "second longest"}
	for _, tc := range []struct {
		name      string
		format    string
		base      string // appended to the server's URL
		model     string
		key       string
		wantPath  string
		wantModel any // nil: no "model" field
	}{
		{"tei", FormatTEI, "", "", "", "/rerank", nil},
		{"tei with key and slash", FormatTEI, "/", "", "sk-1", "/rerank", nil},
		{"cohere", FormatCohere, "", "rerank-v3.5", "sk-2", "/v1/rerank", "rerank-v3.5"},
		{"cohere under /v1", FormatCohere, "/v1", "jina-reranker-v2", "", "/v1/rerank", "jina-reranker-v2"},
		{"vllm without model", FormatCohere, "/api", "", "", "/api/v1/rerank", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeReranker{format: tc.format}
			h := newTestHTTP(t, fake, tc.base, HTTPConfig{Format: tc.format, Model: tc.model, APIKey: tc.key, MaxBatch: 2})
			got, err := h.Score(context.Background(), "which text is longest?", texts)
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
			wantBatches := [][]string{texts[0:2], texts[2:4], texts[4:5]}
			if len(calls) != len(wantBatches) {
				t.Fatalf("server got %d calls, want %d", len(calls), len(wantBatches))
			}
			for i, c := range calls {
				if c.method != http.MethodPost || c.path != tc.wantPath {
					t.Errorf("call %d: %s %s, want POST %s", i, c.method, c.path, tc.wantPath)
				}
				if !slices.Equal(c.texts, wantBatches[i]) {
					t.Errorf("call %d: texts %q, want %q", i, c.texts, wantBatches[i])
				}
				if c.body["query"] != "which text is longest?" {
					t.Errorf("call %d: query %v", i, c.body["query"])
				}
				if ct := c.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("call %d: Content-Type %q", i, ct)
				}
				wantAuth := ""
				if tc.key != "" {
					wantAuth = "Bearer " + tc.key
				}
				if auth := c.header.Get("Authorization"); auth != wantAuth {
					t.Errorf("call %d: Authorization %q, want %q", i, auth, wantAuth)
				}
				if tc.format == FormatTEI {
					if c.body["truncate"] != true {
						t.Errorf("call %d: truncate = %v, want true", i, c.body["truncate"])
					}
					continue
				}
				if model, ok := c.body["model"]; model != tc.wantModel || ok != (tc.wantModel != nil) {
					t.Errorf("call %d: model %v (present %v), want %v", i, model, ok, tc.wantModel)
				}
				if topN := c.body["top_n"]; topN != float64(len(wantBatches[i])) {
					t.Errorf("call %d: top_n %v, want %d", i, topN, len(wantBatches[i]))
				}
			}
		})
	}
}

func TestHTTPNoTextsNoCall(t *testing.T) {
	t.Parallel()
	fake := &fakeReranker{format: FormatTEI}
	h := newTestHTTP(t, fake, "", HTTPConfig{Format: FormatTEI})
	got, err := h.Score(context.Background(), "q", nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("Score(no texts) = %v, %v; want no scores, no error", got, err)
	}
	if n := len(fake.got()); n != 0 {
		t.Errorf("server got %d calls, want none", n)
	}
}

func TestHTTPRejectsAnswersThatDoNotFit(t *testing.T) {
	t.Parallel()
	entry := func(format string, index any, score any) map[string]any {
		e := map[string]any{}
		if index != nil {
			e["index"] = index
		}
		if score != nil {
			e[map[string]string{FormatTEI: "score", FormatCohere: "relevance_score"}[format]] = score
		}
		return e
	}
	for _, format := range []string{FormatTEI, FormatCohere} {
		wrap := func(entries ...map[string]any) any {
			if format == FormatCohere {
				return map[string]any{"results": entries}
			}
			return entries
		}
		for _, tc := range []struct {
			name   string
			answer any
		}{
			{"one score short", wrap(entry(format, 0, 0.5))},
			{"one score too many", wrap(entry(format, 0, 0.5), entry(format, 1, 0.4), entry(format, 2, 0.3))},
			{"duplicate index", wrap(entry(format, 1, 0.5), entry(format, 1, 0.4))},
			{"index out of range", wrap(entry(format, 0, 0.5), entry(format, 2, 0.4))},
			{"negative index", wrap(entry(format, 0, 0.5), entry(format, -1, 0.4))},
			{"missing index", wrap(entry(format, 0, 0.5), entry(format, nil, 0.4))},
			{"missing score", wrap(entry(format, 0, 0.5), entry(format, 1, nil))},
			{"fractional index", wrap(entry(format, 0, 0.5), entry(format, 1.5, 0.4))},
			{"score as text", wrap(entry(format, 0, 0.5), entry(format, 1, "high"))},
			{"other shape", map[string]any{"scores": []float64{0.5, 0.4}}},
			{"nothing", nil},
		} {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				fake := &fakeReranker{format: format, answer: func([]string) any { return tc.answer }}
				h := newTestHTTP(t, fake, "", HTTPConfig{Format: format})
				got, err := h.Score(context.Background(), "q", []string{"one", "two"})
				if !errors.Is(err, ErrResponse) {
					t.Fatalf("Score = %v, %v; want ErrResponse", got, err)
				}
				if n := len(fake.got()); n != 1 {
					t.Errorf("server got %d calls, want 1: a malformed answer is not retried", n)
				}
			})
		}
	}
}

func TestHTTPRetriesOverloadButNotRejection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		failures   []int
		retryAfter string
		wantCalls  int
		wantStatus int // 0: success
		minElapsed time.Duration
	}{
		{"503 then ok", []int{503}, "", 2, 0, 0},
		{"429 then ok", []int{429}, "", 2, 0, 0},
		{"429 with Retry-After, capped", []int{429}, "3600", 2, 0, 20 * time.Millisecond},
		{"500 three times", []int{500, 502, 500}, "", 3, 500, 0},
		{"400 is not retried", []int{400}, "", 1, 400, 0},
		{"401 is not retried", []int{401}, "", 1, 401, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeReranker{format: FormatTEI, failures: tc.failures, retryAfter: tc.retryAfter}
			h := newTestHTTP(t, fake, "", HTTPConfig{Format: FormatTEI})
			start := time.Now()
			got, err := h.Score(context.Background(), "q", []string{"one", "three"})
			elapsed := time.Since(start)
			if n := len(fake.got()); n != tc.wantCalls {
				t.Errorf("server got %d calls, want %d", n, tc.wantCalls)
			}
			if tc.wantStatus == 0 {
				if err != nil || !slices.Equal(got, []float64{fakeScore("one"), fakeScore("three")}) {
					t.Fatalf("Score = %v, %v; want the scores after the retry", got, err)
				}
				if elapsed < tc.minElapsed {
					t.Errorf("retried after %v, want at least Retry-After's capped %v", elapsed, tc.minElapsed)
				}
				return
			}
			var serr *StatusError
			if !errors.As(err, &serr) || serr.StatusCode != tc.wantStatus {
				t.Fatalf("Score error %v, want a StatusError with %d", err, tc.wantStatus)
			}
			if !strings.Contains(err.Error(), "model overloaded") || !strings.Contains(err.Error(), "/rerank") {
				t.Errorf("error %q does not say which server answered what", err)
			}
		})
	}
}

func TestHTTPErrorKeepsABoundedBody(t *testing.T) {
	t.Parallel()
	page := strings.Repeat("<p>a very long error page</p>", 1000)
	h := newTestHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, page, http.StatusBadRequest)
	}), "", HTTPConfig{Format: FormatCohere, APIKey: "sk-secret"})
	_, err := h.Score(context.Background(), "q", []string{"x"})
	var serr *StatusError
	if !errors.As(err, &serr) {
		t.Fatalf("error %v, want a StatusError", err)
	}
	if len(serr.Body) > errorBodyBytes || !strings.HasPrefix(page, serr.Body) || serr.Body == "" {
		t.Errorf("body kept: %d bytes, want the first %d of the page", len(serr.Body), errorBodyBytes)
	}
	if strings.Contains(err.Error(), "sk-secret") {
		t.Errorf("error %q leaks the API key", err)
	}
}

func TestHTTPStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	h := newTestHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select { // a slow model: answers only after the client gave up
		case <-r.Context().Done():
		case <-release:
		}
	}), "", HTTPConfig{Format: FormatTEI})
	t.Cleanup(func() { close(release) })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.Score(ctx, "q", []string{"a", "b"})
		done <- err
	}()
	<-arrived
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Score error %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Score did not return after its context was cancelled")
	}
	if n := len(arrived); n != 0 {
		t.Errorf("server got %d more calls: a cancelled request must not be retried", n)
	}

	if _, err := h.Score(ctx, "q", []string{"a"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Score with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestHTTPTimeoutBoundsABatch(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	h := newTestHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}), "", HTTPConfig{Format: FormatTEI, Timeout: 50 * time.Millisecond})
	t.Cleanup(func() { close(release) })
	start := time.Now()
	_, err := h.Score(context.Background(), "q", []string{"a"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Score error %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Score took %v with a 50ms timeout", elapsed)
	}
}

func TestNewHTTPRejectsConfigsThatCannotWork(t *testing.T) {
	t.Parallel()
	for _, cfg := range []HTTPConfig{
		{Format: FormatTEI},
		{URL: "http://localhost:8080"},
		{URL: "http://localhost:8080", Format: "openai"},
		{URL: "localhost:8080", Format: FormatTEI},
		{URL: "ftp://host/", Format: FormatTEI},
		{URL: "http://%zz", Format: FormatTEI},
		{URL: "http://host", Format: FormatTEI, MaxBatch: -1},
		{URL: "http://host", Format: FormatTEI, Timeout: -time.Second},
	} {
		if _, err := NewHTTP(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("NewHTTP(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

func TestEndpointURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ base, format, want string }{
		{"http://tei:8080", FormatTEI, "http://tei:8080/rerank"},
		{"http://tei:8080/", FormatTEI, "http://tei:8080/rerank"},
		{"https://api.cohere.com", FormatCohere, "https://api.cohere.com/v1/rerank"},
		{"https://api.cohere.com/v2", FormatCohere, "https://api.cohere.com/v2/rerank"},
		{"https://api.jina.ai/v1/", FormatCohere, "https://api.jina.ai/v1/rerank"},
		{"http://vllm:8000/proxy", FormatCohere, "http://vllm:8000/proxy/v1/rerank"},
		{"http://vllm:8000/v", FormatCohere, "http://vllm:8000/v/v1/rerank"},
	} {
		if got := endpointURL(tc.base, tc.format); got != tc.want {
			t.Errorf("endpointURL(%q, %q) = %q, want %q", tc.base, tc.format, got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"2", 2 * time.Second},
		{" 1 ", time.Second},
		{"0", 0},
		{"-5", 0},
		{"99999999999999999999", 0}, // not an int: unreadable
		{"3600", 5 * time.Second},
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	} {
		if got := retryAfter(tc.header, now, 5*time.Second); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestHTTPName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  HTTPConfig
		want string
	}{
		{HTTPConfig{URL: "http://tei:8080", Format: FormatTEI}, "tei/tei:8080"},
		{HTTPConfig{URL: "https://api.cohere.com", Format: FormatCohere, Model: "rerank-v3.5"}, "cohere/rerank-v3.5"},
	} {
		h, err := NewHTTP(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.Name(); got != tc.want {
			t.Errorf("Name() = %q, want %q", got, tc.want)
		}
	}
}
