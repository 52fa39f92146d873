// Package rag is the rag worker: it answers the chat questions of
// twin.chat.requests in the author's voice. Each question goes through the
// input guardrail, self-query (which author, which category), query
// expansion, a filtered search per query merged by reciprocal rank,
// reranking, a prompt trimmed to the model's budget, and streamed
// generation through the output guardrail. Tokens and the final answer go
// to twin.chat.replies.<request>; one trace per request, with every step,
// goes to twin.monitor.traces.
package rag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/models/llm"
	"github.com/twin-llm/twin/internal/models/rerank"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Searcher runs one filtered search.
type Searcher interface {
	Search(ctx context.Context, r retrieval.Request) ([]retrieval.Hit, error)
}

// Authors lists the authors the warehouse knows.
type Authors interface {
	Authors(ctx context.Context) ([]warehouse.Author, error)
}

// Publisher publishes replies and traces.
type Publisher interface {
	PublishAsync(ctx context.Context, out streams.Out) (jetstream.PubAckFuture, error)
}

// Replies reads what was already answered, so a redelivered request whose
// answer is complete is not generated again (jetstream.Stream does it).
type Replies interface {
	GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error)
}

// Config wires the worker. Search, Authors, Rerank, LLM and Publisher are
// required; the numbers have defaults.
type Config struct {
	Search    Searcher
	Authors   Authors
	Rerank    rerank.Reranker
	LLM       llm.Model
	Publisher Publisher
	// QueryLLM, when set, extracts the author and writes the expanded
	// queries; without it the worker matches names and makes lexical
	// variants.
	QueryLLM llm.Model
	// Replies, when set, lets a redelivered request whose done message is
	// already stored be acked without generating again.
	Replies Replies
	// Guard is the input and output guardrails; nil: NewGuard(MaxQueryChars, nil).
	Guard *Guard

	Expansions    int           // queries searched per question, the original included; default 3
	PerQuery      int           // hits per query; default 20
	Candidates    int           // merged hits that are reranked; default retrieval.DefaultCandidates
	TopK          int           // passages kept after reranking; default 5
	ContextTokens int           // prompt budget; default 3000
	MaxTokens     int           // answer budget; default 512
	MaxQueryChars int           // longer questions are refused; default 4000
	Timeout       time.Duration // one whole answer; default 60s
	Log           zerolog.Logger
}

// Worker answers chat requests.
type Worker struct {
	cfg      Config
	authors  *authorCache
	pipeline *retrieval.Pipeline
}

// New returns a worker for cfg.
func New(cfg Config) (*Worker, error) {
	switch {
	case cfg.Search == nil, cfg.Authors == nil, cfg.Rerank == nil, cfg.LLM == nil, cfg.Publisher == nil:
		return nil, errors.New("rag: Search, Authors, Rerank, LLM and Publisher are required")
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.Expansions, 3)
	def(&cfg.PerQuery, 20)
	def(&cfg.Candidates, retrieval.DefaultCandidates)
	def(&cfg.TopK, 5)
	def(&cfg.ContextTokens, 3000)
	def(&cfg.MaxTokens, 512)
	def(&cfg.MaxQueryChars, 4000)
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	if cfg.Guard == nil {
		g, err := NewGuard(cfg.MaxQueryChars, nil)
		if err != nil {
			return nil, err
		}
		cfg.Guard = g
	}
	return &Worker{cfg: cfg, authors: &authorCache{src: cfg.Authors, ttl: 10 * time.Second},
		pipeline: &retrieval.Pipeline{Search: cfg.Search, Rerank: cfg.Rerank, Expansions: cfg.Expansions,
			PerQuery: cfg.PerQuery, Candidates: cfg.Candidates}}, nil
}

// Handle answers one request. Failures of the pipeline (a search backend
// down, the model failing) are answered with an error done message rather
// than retried: a person is waiting, and asking again is their call. Only
// a failure to publish the reply is retried.
func (w *Worker) Handle(ctx context.Context, msg *streams.Msg) error {
	var req schemas.ChatRequest
	if err := schemas.Decode(msg.Data, &req); err != nil {
		// A client that sent a usable id is told, not left waiting.
		var probe struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(msg.Data, &probe) == nil && schemas.ValidToken(probe.ID) {
			w.finish(ctx, &answer{req: schemas.ChatRequest{ID: probe.ID}, traceID: msg.TraceID()},
				&schemas.ReplyError{Code: "invalid", Message: err.Error()})
		}
		return err
	}
	if w.cfg.Replies != nil && msg.Delivered > 1 && w.answered(ctx, req.ID) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	traceID := msg.TraceID()
	if traceID == "" {
		traceID = nuid.Next()
	}
	a := &answer{w: w, req: req, traceID: traceID, start: time.Now()}
	a.trace = schemas.Trace{TraceID: traceID, RequestID: req.ID, Query: req.Query, CreatedAt: a.start.UTC()}
	return a.run(ctx)
}

// answered reports whether the request's done message is already stored.
func (w *Worker) answered(ctx context.Context, id string) bool {
	m, err := w.cfg.Replies.GetLastMsgForSubject(ctx, schemas.ChatReplies(id))
	if err != nil {
		return false
	}
	return strings.HasPrefix(m.Header.Get(schemas.HeaderSchema), "reply_done/")
}

// answer is the state of one request on its way through the pipeline.
type answer struct {
	w       *Worker
	req     schemas.ChatRequest
	traceID string
	start   time.Time
	trace   schemas.Trace
	futures []jetstream.PubAckFuture
	text    string // the answer as published
	first   time.Time
}

func (a *answer) run(ctx context.Context) error {
	cfg := a.w.cfg
	// Input guardrail.
	t0 := time.Now()
	refusal := cfg.Guard.CheckInput(a.req.Query)
	var verdict any = "accepted"
	if refusal != nil {
		verdict = refusal
	}
	a.step("guard_input", a.req.Query, verdict, t0, nil)
	if refusal != nil {
		a.trace.Events = append(a.trace.Events, schemas.TraceEvent{Step: "guard_input", Kind: "refusal", Detail: refusal.Reason})
		return a.finishWith(ctx, &schemas.ReplyError{Code: "refused", Message: "I can't answer that: " + refusal.Reason + "."})
	}

	sq := a.selfQuery(ctx)
	a.trace.Author = sq.Author
	queries := a.expand(ctx, sq.Author)

	hits, err := a.search(ctx, queries, sq)
	if err != nil {
		return a.finishWith(ctx, &schemas.ReplyError{Code: "unavailable", Message: "search failed: " + err.Error()})
	}
	passages, err := a.rerank(ctx, hits)
	if err != nil {
		return a.finishWith(ctx, &schemas.ReplyError{Code: "unavailable", Message: "rerank failed: " + err.Error()})
	}
	// One context entry per document, so that a citation [n] is the n-th
	// source of the done message.
	passages = byDocument(passages)

	t0 = time.Now()
	author := sq.Author
	if author == "" {
		author = soleAuthor(hits, passages)
	}
	messages, used := buildPrompt(author, a.req.Query, passages, cfg.ContextTokens)
	a.step("prompt", a.req.Query, map[string]any{"author": author, "passages": len(used), "messages": messages}, t0, nil)
	a.lastStep().TokensOut = estimateTokens(messages[0].Content) + estimateTokens(messages[1].Content)

	return a.generate(ctx, messages, used)
}

// selfQuery decides the author and category filters.
func (a *answer) selfQuery(ctx context.Context) selfQuery {
	cfg := a.w.cfg
	t0 := time.Now()
	sq := selfQuery{Author: a.req.Author, Category: a.req.Category, Via: "request"}
	var stepErr error
	var usage llm.Usage
	if sq.Author == "" {
		sq.Via = "none"
		names, err := a.w.authors.get(ctx)
		stepErr = err
		switch {
		case err != nil:
		case cfg.QueryLLM != nil && len(names) > 0:
			name, u, err := llmAuthor(ctx, cfg.QueryLLM, a.req.Query, names)
			usage, stepErr = u, err
			if name != "" {
				sq.Author, sq.Via = name, "llm"
			}
		default:
			if name := matchAuthor(a.req.Query, names); name != "" {
				sq.Author, sq.Via = name, "match"
			}
		}
	}
	if sq.Category == "" {
		sq.Category = matchCategory(a.req.Query)
	}
	a.step("self_query", a.req.Query, sq, t0, stepErr)
	if cfg.QueryLLM != nil && sq.Via != "request" {
		s := a.lastStep()
		s.Model, s.TokensIn, s.TokensOut = cfg.QueryLLM.Name(), usage.PromptTokens, usage.CompletionTokens
	}
	return sq
}

// expand returns the queries to search, the question first.
func (a *answer) expand(ctx context.Context, author string) []string {
	cfg := a.w.cfg
	t0 := time.Now()
	var queries []string
	var err error
	var usage llm.Usage
	if cfg.QueryLLM != nil && cfg.Expansions > 1 {
		queries, usage, err = llmVariants(ctx, cfg.QueryLLM, a.req.Query, cfg.Expansions)
	}
	if len(queries) < 2 {
		queries = retrieval.Variants(a.req.Query, author, cfg.Expansions)
	}
	a.step("expand", a.req.Query, queries, t0, err)
	if cfg.QueryLLM != nil {
		s := a.lastStep()
		s.Model, s.TokensIn, s.TokensOut = cfg.QueryLLM.Name(), usage.PromptTokens, usage.CompletionTokens
	}
	return queries
}

// search runs every query under the filters and merges the hits with
// reciprocal rank fusion (retrieval.Pipeline.Merge).
func (a *answer) search(ctx context.Context, queries []string, sq selfQuery) ([]retrieval.Hit, error) {
	t0 := time.Now()
	r := retrieval.Request{Author: sq.Author}
	if sq.Category != "" {
		r.Category = []string{sq.Category}
	}
	out, err := a.w.pipeline.Merge(ctx, queries, r)
	a.step("search", strings.Join(queries, "\n"), hitSummaries(out), t0, err)
	return out, err
}

// rerank scores the candidates against the question and keeps the best.
func (a *answer) rerank(ctx context.Context, hits []retrieval.Hit) ([]llm.Passage, error) {
	cfg := a.w.cfg
	t0 := time.Now()
	best, err := a.w.pipeline.Reranked(ctx, a.req.Query, hits, cfg.TopK)
	var passages []llm.Passage
	for _, h := range best {
		passages = append(passages, llm.Passage{ID: h.ID, DocumentID: h.DocumentID, Title: h.Title,
			Link: h.Link, Text: h.Text, Score: h.Score})
	}
	summary := make([]map[string]any, len(passages))
	for i, p := range passages {
		summary[i] = map[string]any{"id": p.ID, "document_id": p.DocumentID, "title": p.Title, "score": p.Score}
	}
	a.step("rerank", a.req.Query, summary, t0, err)
	a.lastStep().Model = cfg.Rerank.Name()
	return passages, err
}

// generate streams the model's answer through the output guardrail as
// tokens, word by word, then the done message.
func (a *answer) generate(ctx context.Context, messages []llm.Message, passages []llm.Passage) error {
	cfg := a.w.cfg
	t0 := time.Now()
	red := cfg.Guard.NewRedactor()
	ts := newTokenStream(ctx, cfg.Publisher, a.req.ID, a.traceID)
	var pubErr error
	usage, genErr := cfg.LLM.Stream(ctx, llm.Request{Messages: messages, Question: a.req.Query, Passages: passages,
		MaxTokens: cfg.MaxTokens}, func(s string) error {
		pubErr = ts.write(red.Write(s))
		return pubErr
	})
	if pubErr == nil {
		pubErr = ts.write(red.Flush())
	}
	if err := ts.close(); pubErr == nil {
		pubErr = err
	}
	a.futures = append(a.futures, ts.futures...)
	a.first, a.text = ts.first, ts.text.String()
	if pubErr != nil {
		return pubErr // the reply could not be stored: retry the request
	}
	a.step("generate", messages[len(messages)-1].Content, a.text, t0, genErr)
	s := a.lastStep()
	s.Model, s.TokensIn, s.TokensOut = cfg.LLM.Name(), usage.PromptTokens, usage.CompletionTokens

	t0 = time.Now()
	redactions := red.Redactions()
	kinds := make([]string, 0, len(redactions))
	for kind := range redactions {
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		a.trace.Events = append(a.trace.Events, schemas.TraceEvent{Step: "guard_output", Kind: "redaction",
			Detail: fmt.Sprintf("%d %s", redactions[kind], kind)})
	}
	a.step("guard_output", "", redactions, t0, nil)

	var replyErr *schemas.ReplyError
	if genErr != nil {
		replyErr = &schemas.ReplyError{Code: "generation_failed", Message: "the model failed: " + genErr.Error()}
	}
	done := a.done(replyErr)
	done.Sources = sources(passages)
	return a.publishDone(ctx, done)
}

func (a *answer) done(e *schemas.ReplyError) *schemas.ReplyDone {
	return &schemas.ReplyDone{Type: schemas.ReplyTypeDone, ID: a.req.ID, Query: a.req.Query, Answer: a.text, TraceID: a.traceID, Error: e}
}

// finishWith ends a request that produced no answer.
func (a *answer) finishWith(ctx context.Context, e *schemas.ReplyError) error {
	return a.publishDone(ctx, a.done(e))
}

// publishDone publishes the done message and the trace, and returns once
// every message of the reply is stored: only then is the request acked.
func (a *answer) publishDone(ctx context.Context, done *schemas.ReplyDone) error {
	// The answer's deadline may be what ended it; the client must still
	// hear so.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := time.Now()
	if !a.first.IsZero() {
		a.trace.FirstTokenMS = ms(a.first.Sub(a.start))
	}
	a.trace.TotalMS = ms(now.Sub(a.start))
	pub := a.w.cfg.Publisher
	f, err := pub.PublishAsync(ctx, streams.Out{Subject: schemas.ChatReplies(a.req.ID),
		MsgID: "reply:" + a.req.ID + ":done", Body: done, TraceID: a.traceID})
	if err != nil {
		return err
	}
	a.futures = append(a.futures, f)
	f, err = pub.PublishAsync(ctx, streams.Out{Subject: schemas.SubjectMonitorTraces,
		MsgID: "trace:" + a.req.ID, Body: &a.trace, TraceID: a.traceID})
	if err != nil {
		return err
	}
	a.futures = append(a.futures, f)
	return awaitAll(ctx, a.futures)
}

// finish publishes a done message outside the pipeline, best effort.
func (w *Worker) finish(ctx context.Context, a *answer, e *schemas.ReplyError) {
	a.w = w
	f, err := w.cfg.Publisher.PublishAsync(ctx, streams.Out{Subject: schemas.ChatReplies(a.req.ID),
		MsgID: "reply:" + a.req.ID + ":done", Body: a.done(e), TraceID: a.traceID})
	if err == nil {
		err = awaitAll(ctx, []jetstream.PubAckFuture{f})
	}
	if err != nil {
		w.cfg.Log.Warn().Err(err).Str("request", a.req.ID).Msg("could not tell the client its request is invalid")
	}
}

// awaitAll waits for the acks of a reply's publishes.
func awaitAll(ctx context.Context, fs []jetstream.PubAckFuture) error {
	if _, err := streams.AwaitAcks(ctx, fs); err != nil {
		return fmt.Errorf("publish reply: %w", err)
	}
	return nil
}

// step records one pipeline step in the trace.
func (a *answer) step(name, input string, output any, started time.Time, err error) {
	s := schemas.TraceStep{Name: name, Input: input, StartedAt: started.UTC(), LatencyMS: ms(time.Since(started))}
	if output != nil {
		if b, jerr := json.Marshal(output); jerr == nil {
			s.Output = b
		}
	}
	if err != nil {
		s.Error = err.Error()
	}
	a.trace.Steps = append(a.trace.Steps, s)
}

func (a *answer) lastStep() *schemas.TraceStep { return &a.trace.Steps[len(a.trace.Steps)-1] }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// byDocument merges the passages of each document into one, at the rank
// of its best passage, its texts in rank order.
func byDocument(passages []llm.Passage) []llm.Passage {
	var out []llm.Passage
	at := map[string]int{}
	for _, p := range passages {
		i, ok := at[p.DocumentID]
		if !ok {
			at[p.DocumentID] = len(out)
			out = append(out, p)
			continue
		}
		out[i].Text += llm.ChunkSeparator + p.Text
	}
	return out
}

// sources lists the documents of the passages, once each, best first.
func sources(passages []llm.Passage) []schemas.Source {
	seen := map[string]bool{}
	var out []schemas.Source
	for _, p := range passages {
		if seen[p.DocumentID] {
			continue
		}
		seen[p.DocumentID] = true
		out = append(out, schemas.Source{DocumentID: p.DocumentID, Title: p.Title, Link: p.Link, Score: p.Score})
	}
	return out
}

// soleAuthor names the author when every kept passage has the same one,
// so the twin speaks as them even when the question named nobody.
func soleAuthor(hits []retrieval.Hit, passages []llm.Passage) string {
	byID := map[string]string{}
	for _, h := range hits {
		byID[h.ID] = h.Author
	}
	name := ""
	for _, p := range passages {
		n := byID[p.ID]
		if name != "" && n != name {
			return ""
		}
		name = n
	}
	return name
}

func hitSummaries(hits []retrieval.Hit) []map[string]any {
	out := make([]map[string]any, len(hits))
	for i, h := range hits {
		out[i] = map[string]any{"id": h.ID, "document_id": h.DocumentID, "title": h.Title, "score": h.Score}
	}
	return out
}
