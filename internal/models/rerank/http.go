package rerank

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The wire formats of HTTPConfig.Format.
const (
	// FormatTEI is Hugging Face text-embeddings-inference's POST /rerank.
	FormatTEI = "tei"
	// FormatCohere is the Cohere-style POST /v1/rerank that Cohere, Jina,
	// Voyage and vLLM serve.
	FormatCohere = "cohere"
)

// HTTPConfig points the HTTP reranker at a cross-encoder server.
type HTTPConfig struct {
	// URL is the server's base URL. FormatTEI posts to URL + "/rerank";
	// FormatCohere to URL + "/v1/rerank", or URL + "/rerank" when URL
	// already ends with a version ("/v1", "/v2"). Required.
	URL string
	// Format is FormatTEI or FormatCohere. Required.
	Format string
	// Model names the model for FormatCohere ("rerank-v3.5",
	// "jina-reranker-v2-base-multilingual", "BAAI/bge-reranker-v2-m3" on
	// vLLM); omitted from the request when empty, which vLLM serving one
	// model accepts. TEI serves one model and ignores it.
	Model string
	// APIKey, when set, is sent as "Authorization: Bearer <key>".
	APIKey string
	// Timeout bounds one batch, retries included; default 30s.
	Timeout time.Duration
	// MaxBatch bounds the texts sent in one request; default 32, TEI's
	// default --max-client-batch-size.
	MaxBatch int
	// HTTPClient sends the requests; nil: a client of its own on
	// http.DefaultTransport.
	HTTPClient *http.Client
}

// HTTP is a Reranker served by a cross-encoder over HTTP, in TEI's or the
// Cohere-style wire format. Texts are sent in batches of at most MaxBatch
// (a cross-encoder scores each pair on its own, so scores from two batches
// compare); 429 and 5xx answers and failed connections are retried. It is
// safe for concurrent use.
type HTTP struct {
	cfg      HTTPConfig
	endpoint string
	client   *http.Client
	retry    retryPolicy
}

// retryPolicy is how HTTP retries a batch. A field, not constants, so that
// tests need not sleep through real backoffs.
type retryPolicy struct {
	attempts int
	// base is the wait before the second attempt; it doubles after, with
	// up to half again added at random so that clients that failed
	// together do not retry together.
	base time.Duration
	// maxRetryAfter caps the wait a server asks for with Retry-After: a
	// server that asks for minutes has gone away for this request.
	maxRetryAfter time.Duration
}

func defaultRetry() retryPolicy {
	return retryPolicy{attempts: 3, base: 200 * time.Millisecond, maxRetryAfter: 5 * time.Second}
}

// maxAnswerBytes bounds the body read from a successful answer: a score
// entry is about 40 bytes, and servers that echo the texts back send
// them once.
const maxAnswerBytes = 16 << 20

// NewHTTP returns the reranker for cfg. It fails with ErrConfig on a
// missing or unparsable URL, or an unknown format.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		return nil, fmt.Errorf("%w: the HTTP reranker needs the server's URL", ErrConfig)
	case err != nil:
		return nil, fmt.Errorf("%w: reranker URL: %w", ErrConfig, err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("%w: reranker URL %q is not an absolute http(s) URL", ErrConfig, cfg.URL)
	case cfg.Format != FormatTEI && cfg.Format != FormatCohere:
		return nil, fmt.Errorf("%w: reranker format %q is neither %q nor %q", ErrConfig, cfg.Format, FormatTEI, FormatCohere)
	case cfg.MaxBatch < 0 || cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: negative reranker batch size or timeout", ErrConfig)
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 32
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	return &HTTP{cfg: cfg, endpoint: endpointURL(cfg.URL, cfg.Format), client: client, retry: defaultRetry()}, nil
}

// endpointURL is the rerank URL of a server's base URL.
func endpointURL(base, format string) string {
	base = strings.TrimRight(base, "/")
	if format == FormatTEI {
		return base + "/rerank"
	}
	last := base[strings.LastIndexByte(base, '/')+1:]
	if len(last) >= 2 && last[0] == 'v' && strings.Trim(last[1:], "0123456789") == "" {
		return base + "/rerank"
	}
	return base + "/v1/rerank"
}

// Name is the format and the model, or the server's host when no model is
// configured.
func (h *HTTP) Name() string {
	model := h.cfg.Model
	if model == "" {
		if u, err := url.Parse(h.cfg.URL); err == nil {
			model = u.Host
		}
	}
	return h.cfg.Format + "/" + model
}

// Score returns the server's score for each text, in the order of texts.
// Scores are the model's: TEI's are in [0, 1] by default (a sigmoid), a
// Cohere-style server's are its relevance_score.
func (h *HTTP) Score(ctx context.Context, query string, texts []string) ([]float64, error) {
	return scoreInBatches(ctx, query, texts, h.cfg.MaxBatch, h.scoreBatch)
}

// scoreInBatches scores texts with score, at most size at a time, and
// returns the scores in the order of texts.
func scoreInBatches(ctx context.Context, query string, texts []string, size int,
	score func(ctx context.Context, query string, batch []string) ([]float64, error)) ([]float64, error) {
	scores := make([]float64, 0, len(texts))
	for start := 0; start < len(texts); start += size {
		batch := texts[start:min(start+size, len(texts))]
		got, err := score(ctx, query, batch)
		if err != nil {
			return nil, fmt.Errorf("rerank: texts %d to %d: %w", start, start+len(batch)-1, err)
		}
		scores = append(scores, got...)
	}
	return scores, nil
}

// teiRequest and cohereRequest are the request bodies.
type teiRequest struct {
	Query    string   `json:"query"`
	Texts    []string `json:"texts"`
	Truncate bool     `json:"truncate"`
}

type cohereRequest struct {
	Model     string   `json:"model,omitempty"`
	Query     string   `json:"query"`
	Documents []string `json:"documents"`
	TopN      int      `json:"top_n"`
}

func (h *HTTP) scoreBatch(ctx context.Context, query string, texts []string) ([]float64, error) {
	var req any = teiRequest{Query: query, Texts: texts, Truncate: true}
	decode := decodeTEI
	if h.cfg.Format == FormatCohere {
		// top_n = all: by default some servers return only the best few.
		req = cohereRequest{Model: h.cfg.Model, Query: query, Documents: texts, TopN: len(texts)}
		decode = decodeCohere
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode the request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	answer, err := h.post(ctx, body)
	if err != nil {
		return nil, err
	}
	scores, err := decode(answer, len(texts))
	if err != nil {
		return nil, fmt.Errorf("answer of %s: %w", h.endpoint, err)
	}
	return scores, nil
}

// post sends body, retrying 429, 5xx and failed connections, and returns
// the body of the first 2xx answer.
func (h *HTTP) post(ctx context.Context, body []byte) ([]byte, error) {
	var lastErr error
	for attempt := 1; ; attempt++ {
		answer, wait, err := h.try(ctx, body)
		if err == nil {
			return answer, nil
		}
		lastErr = err
		if wait < 0 || attempt >= h.retry.attempts {
			return nil, lastErr
		}
		if wait == 0 {
			backoff := h.retry.base << (attempt - 1)
			wait = backoff + rand.N(backoff/2+1)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return nil, lastErr // the retry could not finish in time: fail now
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (after %d attempts; last: %w)", ctx.Err(), attempt, lastErr)
		case <-t.C:
		}
	}
}

// try makes one request. On failure, wait says whether to retry: negative
// for no, 0 for after the usual backoff, positive for after the server's
// Retry-After.
func (h *HTTP) try(ctx context.Context, body []byte) (answer []byte, wait time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, -1, fmt.Errorf("build the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if h.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+h.cfg.APIKey)
	}
	res, err := h.client.Do(req)
	if err != nil {
		err = fmt.Errorf("POST %s: %w", h.endpoint, err)
		if ctx.Err() != nil {
			return nil, -1, err // the caller's deadline or cancellation, not the server's fault
		}
		return nil, 0, err
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		excerpt, _ := io.ReadAll(io.LimitReader(res.Body, errorBodyBytes))
		serr := &StatusError{Server: h.endpoint, StatusCode: res.StatusCode, Body: string(excerpt)}
		if res.StatusCode != http.StatusTooManyRequests && res.StatusCode < 500 {
			return nil, -1, serr
		}
		return nil, retryAfter(res.Header.Get("Retry-After"), time.Now(), h.retry.maxRetryAfter), serr
	}
	answer, err = io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes+1))
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return nil, -1, fmt.Errorf("read the answer of %s: %w", h.endpoint, err)
		}
		return nil, 0, fmt.Errorf("read the answer of %s: %w", h.endpoint, err)
	case len(answer) > maxAnswerBytes:
		return nil, -1, fmt.Errorf("%w: %s answered more than %d bytes", ErrResponse, h.endpoint, maxAnswerBytes)
	}
	return answer, 0, nil
}

// retryAfter is the wait a Retry-After header asks for, in seconds or as
// an HTTP date, capped at limit; 0 when there is none or it cannot be read.
func retryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		d = time.Duration(max(0, min(secs, int(limit/time.Second)+1))) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	} else {
		return 0
	}
	if d <= 0 {
		return 0
	}
	return min(d, limit)
}
