package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Errors of a judgment of a cited source that the request itself refutes.
var (
	// ErrNotASource: the judged document is not among the request's
	// sources.
	ErrNotASource = errors.New("gateway: the document is not a source of the request")
	// ErrQueryUnknown: neither the system nor the client knows the
	// request's query.
	ErrQueryUnknown = errors.New("gateway: the query of the request is not known")
)

// maxDocumentIDBytes bounds a judged document id (judgment/v1's limit).
const maxDocumentIDBytes = 512

// TraceReader reads stored traces: the traces API and page, and the
// judgments of sources whose reply has left CHAT_REPLIES. The warehouse's
// TraceStore implements it.
type TraceReader interface {
	ListTraces(ctx context.Context, opts warehouse.TraceListOptions) ([]warehouse.TraceRecord, error)
	GetTrace(ctx context.Context, traceID string) (warehouse.TraceRecord, error)
	TraceByRequest(ctx context.Context, requestID string) (warehouse.TraceRecord, error)
}

// requestFacts is what the system knows of a finished chat request: enough
// to check a judgment of one of its sources without trusting the client.
type requestFacts struct {
	traceID string
	query   string
	// sources are the document ids the client may judge.
	sources []string
}

// factsOf reads what the system knows of a finished request: from its done
// in CHAT_REPLIES (the query, the cited sources), else from its stored
// trace (the query, and the documents the reranker kept, of which the cited
// sources are a part). A request still streaming is not finished.
func (g *Gateway) factsOf(ctx context.Context, requestID string) (requestFacts, error) {
	last, err := g.lastReply(ctx, requestID)
	if err != nil {
		return requestFacts{}, err
	}
	if last != nil {
		var done schemas.ReplyDone
		if json.Unmarshal(last.Data, &done) == nil && done.Type == schemas.ReplyTypeDone {
			f := requestFacts{traceID: done.TraceID, query: done.Query}
			if f.traceID == "" {
				f.traceID = last.Header.Get(schemas.HeaderTraceID)
			}
			for _, s := range done.Sources {
				f.sources = append(f.sources, s.DocumentID)
			}
			if f.query == "" && g.cfg.TraceStore != nil {
				// A done from a worker that did not name the query: the
				// trace may.
				if rec, err := g.cfg.TraceStore.TraceByRequest(ctx, requestID); err == nil {
					f.query = traceQuery(rec)
				}
			}
			return f, nil
		}
	}
	if g.cfg.TraceStore == nil {
		return requestFacts{}, ErrRequestNotFound
	}
	rec, err := g.cfg.TraceStore.TraceByRequest(ctx, requestID)
	if errors.Is(err, warehouse.ErrNotFound) {
		return requestFacts{}, fmt.Errorf("%w: %w", ErrRequestNotFound, err)
	}
	if err != nil {
		return requestFacts{}, fmt.Errorf("trace of %s: %w", requestID, err)
	}
	return requestFacts{traceID: rec.TraceID, query: traceQuery(rec), sources: rerankedDocuments(rec)}, nil
}

// traceQuery is the query a stored trace names, "" when it does not parse.
func traceQuery(rec warehouse.TraceRecord) string {
	var t struct {
		Query string `json:"query"`
	}
	if json.Unmarshal(rec.Trace, &t) != nil {
		return ""
	}
	return t.Query
}

// rerankedDocuments lists the document ids of a trace's rerank step: the
// passages the answer could cite.
func rerankedDocuments(rec warehouse.TraceRecord) []string {
	var t schemas.Trace
	if json.Unmarshal(rec.Trace, &t) != nil {
		return nil
	}
	var out []string
	for _, s := range t.Steps {
		if s.Name != "rerank" {
			continue
		}
		var kept []struct {
			DocumentID string `json:"document_id"`
		}
		if json.Unmarshal(s.Output, &kept) != nil {
			continue
		}
		for _, k := range kept {
			if k.DocumentID != "" && !slices.Contains(out, k.DocumentID) {
				out = append(out, k.DocumentID)
			}
		}
	}
	return out
}

// SourceJudgment is a user's judgment of one cited source of an answer.
type SourceJudgment struct {
	RequestID  string
	DocumentID string
	Helpful    bool
	// Query is the client's word for the question; it counts only when the
	// system does not know the request's own.
	Query string
}

// UserJudgmentID is the id (and Nats-Msg-Id) of a user's judgment: one per
// request, document and grade, so that a client resending the same click is
// deduplicated, while a change of mind (the other grade) is a judgment of
// its own.
func UserJudgmentID(requestID, documentID string, grade int) string {
	h := sha256.New()
	for _, part := range []string{schemas.JudgmentUser, requestID, documentID, fmt.Sprint(grade)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "judgment-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// submitJudgment checks a judgment against what the system knows of its
// request and publishes it on FeedbackSubject(FeedbackRelevance). The
// shape checks (ids, lengths) are the caller's.
func (g *Gateway) submitJudgment(ctx context.Context, sj SourceJudgment) (schemas.Judgment, error) {
	f, err := g.factsOf(ctx, sj.RequestID)
	if err != nil {
		return schemas.Judgment{}, err
	}
	if !slices.Contains(f.sources, sj.DocumentID) {
		return schemas.Judgment{}, fmt.Errorf("%w: %q of %s", ErrNotASource, sj.DocumentID, sj.RequestID)
	}
	query := f.query
	if query == "" {
		query = strings.TrimSpace(sj.Query)
	}
	if query == "" {
		return schemas.Judgment{}, fmt.Errorf("%w: %s", ErrQueryUnknown, sj.RequestID)
	}
	grade := schemas.GradeNotRelevant
	if sj.Helpful {
		grade = schemas.GradeRelevant
	}
	j := schemas.Judgment{
		ID: UserJudgmentID(sj.RequestID, sj.DocumentID, grade), Query: query, DocumentID: sj.DocumentID,
		Grade: grade, Source: schemas.JudgmentUser, RequestID: sj.RequestID, TraceID: f.traceID,
		CreatedAt: time.Now().UTC(),
	}
	_, err = g.cfg.Publisher.Publish(ctx, streams.Out{
		Subject: schemas.FeedbackSubject(schemas.FeedbackRelevance),
		MsgID:   j.ID,
		Body:    j,
		TraceID: f.traceID,
	})
	if err != nil {
		return schemas.Judgment{}, fmt.Errorf("judgment on %s: %w", sj.RequestID, err)
	}
	return j, nil
}

// checkSourceJudgment checks the shape of a judgment's fields, the same for
// the WebSocket frame and POST /v1/feedback; it returns the message for a
// 400 or a bad_request frame, "" when they are fine.
func checkSourceJudgment(documentID string, helpful *bool, rating int, query string, maxQueryChars int) string {
	switch {
	case documentID == "" || len(documentID) > maxDocumentIDBytes:
		return `"document_id" must be 1 to 512 bytes`
	case helpful == nil:
		return `a judgment of a source needs "helpful": true or false`
	case rating != 0:
		return `send either "rating" (the answer) or "document_id" with "helpful" (one source), not both`
	case utf8.RuneCountInString(query) > maxQueryChars:
		return "query is over " + fmt.Sprint(maxQueryChars) + " characters"
	}
	return ""
}
