package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// ErrRequestNotFound is returned for feedback on a request the system
// does not know: no done in CHAT_REPLIES and no trace.
var ErrRequestNotFound = errors.New("gateway: unknown chat request")

// ErrTraceNotFound is what a TraceFinder returns for a request it has no
// trace of.
var ErrTraceNotFound = errors.New("gateway: no trace for the request")

// TraceFinder finds the trace of a chat request, for requests whose reply
// has left CHAT_REPLIES (traces are kept much longer). The monitor's
// trace store implements it.
type TraceFinder interface {
	// TraceByRequest returns the trace id of a request, or an error
	// matching ErrTraceNotFound.
	TraceByRequest(ctx context.Context, requestID string) (traceID string, err error)
}

// FeedbackRequest is the body of POST /v1/feedback: a rating of the
// answer (Rating, Comment), or a judgment of one of its cited sources
// (DocumentID, Helpful, and Query, which counts only when the system no
// longer knows the request's own).
type FeedbackRequest struct {
	RequestID  string `json:"request_id"`
	Rating     int    `json:"rating,omitempty"` // 1 or -1
	Comment    string `json:"comment,omitempty"`
	DocumentID string `json:"document_id,omitempty"`
	Helpful    *bool  `json:"helpful,omitempty"`
	Query      string `json:"query,omitempty"`
}

// FeedbackResponse is the 202 answer of POST /v1/feedback. A judgment of a
// source also gets its id and grade.
type FeedbackResponse struct {
	RequestID  string `json:"request_id"`
	TraceID    string `json:"trace_id,omitempty"`
	JudgmentID string `json:"judgment_id,omitempty"`
	DocumentID string `json:"document_id,omitempty"`
	Grade      *int   `json:"grade,omitempty"`
}

// postFeedback answers POST /v1/feedback: 202 once the rating is stored
// in FEEDBACK, 400 for a bad body, 404 for an unknown request.
func (g *Gateway) postFeedback(w http.ResponseWriter, r *http.Request) {
	if g.cfg.JS == nil || g.cfg.Publisher == nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "feedback is not available on this gateway")
		return
	}
	var req FeedbackRequest
	if err := decodeJSON(w, r, &req); err != nil {
		httpserver.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !schemas.ValidToken(req.RequestID) {
		httpserver.WriteError(w, http.StatusBadRequest, `"request_id" must be 1 to 128 ASCII letters, digits, '-' or '_'`)
		return
	}
	if req.DocumentID != "" || req.Helpful != nil {
		g.postJudgment(w, r, req)
		return
	}
	switch {
	case req.Rating != schemas.RatingUp && req.Rating != schemas.RatingDown:
		httpserver.WriteError(w, http.StatusBadRequest, `"rating" must be 1 or -1`)
		return
	case utf8.RuneCountInString(req.Comment) > g.chat.MaxCommentChars:
		httpserver.WriteError(w, http.StatusBadRequest, "comment is over "+strconv.Itoa(g.chat.MaxCommentChars)+" characters")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	traceID, err := g.submitFeedback(ctx, req.RequestID, req.Rating, req.Comment)
	switch {
	case errors.Is(err, ErrRequestNotFound):
		httpserver.WriteError(w, http.StatusNotFound, "no finished chat request "+strconv.Quote(req.RequestID))
	case err != nil:
		g.cfg.Log.Warn().Err(err).Str("request", req.RequestID).Msg("feedback")
		httpserver.WriteError(w, http.StatusServiceUnavailable, "could not record the feedback: "+err.Error())
	default:
		httpserver.WriteJSON(w, http.StatusAccepted, FeedbackResponse{RequestID: req.RequestID, TraceID: traceID})
	}
}

// postJudgment answers a POST /v1/feedback that judges one source: 202
// once the judgment is stored in FEEDBACK, 400 for a bad body or a document
// that is not a source of the request, 404 for an unknown request.
func (g *Gateway) postJudgment(w http.ResponseWriter, r *http.Request, req FeedbackRequest) {
	if msg := checkSourceJudgment(req.DocumentID, req.Helpful, req.Rating, req.Query, g.chat.MaxQueryChars); msg != "" {
		httpserver.WriteError(w, http.StatusBadRequest, msg)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	j, err := g.submitJudgment(ctx, SourceJudgment{RequestID: req.RequestID, DocumentID: req.DocumentID, Helpful: *req.Helpful, Query: req.Query})
	switch {
	case errors.Is(err, ErrRequestNotFound):
		httpserver.WriteError(w, http.StatusNotFound, "no finished chat request "+strconv.Quote(req.RequestID))
	case errors.Is(err, ErrNotASource):
		httpserver.WriteError(w, http.StatusBadRequest, strconv.Quote(req.DocumentID)+" is not a source of request "+strconv.Quote(req.RequestID))
	case errors.Is(err, ErrQueryUnknown):
		httpserver.WriteError(w, http.StatusBadRequest, "the question of request "+strconv.Quote(req.RequestID)+` is no longer known: send it as "query"`)
	case err != nil:
		g.cfg.Log.Warn().Err(err).Str("request", req.RequestID).Msg("judgment")
		httpserver.WriteError(w, http.StatusServiceUnavailable, "could not record the judgment: "+err.Error())
	default:
		httpserver.WriteJSON(w, http.StatusAccepted, FeedbackResponse{RequestID: req.RequestID, TraceID: j.TraceID,
			JudgmentID: j.ID, DocumentID: j.DocumentID, Grade: &j.Grade})
	}
}

// submitFeedback publishes a rating of a known request, with its trace,
// on FeedbackSubject(FeedbackRating). The checks on id, rating and comment
// are the caller's. The message id is this submission's own: a retried
// publish of it is a no-op inside FEEDBACK's dedup window, while every
// submission is stored, even one back to an earlier rating (the latest
// wins downstream, so a client resending the same one changes nothing).
func (g *Gateway) submitFeedback(ctx context.Context, requestID string, rating int, comment string) (string, error) {
	traceID, err := g.traceOf(ctx, requestID)
	if err != nil {
		return "", err
	}
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", fmt.Errorf("feedback on %s: %w", requestID, err)
	}
	_, err = g.cfg.Publisher.Publish(ctx, streams.Out{
		Subject: schemas.FeedbackSubject(schemas.FeedbackRating),
		MsgID:   "feedback:" + requestID + ":" + strconv.Itoa(rating) + ":" + hex.EncodeToString(nonce[:]),
		Body:    schemas.Feedback{RequestID: requestID, Rating: rating, Comment: comment, TraceID: traceID, CreatedAt: time.Now().UTC()},
		TraceID: traceID,
	})
	if err != nil {
		return "", fmt.Errorf("feedback on %s: %w", requestID, err)
	}
	return traceID, nil
}

// traceOf finds a finished request's trace id: from its done in
// CHAT_REPLIES, else from the TraceFinder. A request still streaming is
// not finished, so it cannot be rated yet.
func (g *Gateway) traceOf(ctx context.Context, requestID string) (string, error) {
	last, err := g.lastReply(ctx, requestID)
	if err != nil {
		return "", err
	}
	if last != nil {
		var h replyHead
		if json.Unmarshal(last.Data, &h) == nil && h.Type == schemas.ReplyTypeDone {
			if h.TraceID == "" {
				h.TraceID = last.Header.Get(schemas.HeaderTraceID)
			}
			return h.TraceID, nil
		}
	}
	if g.cfg.Traces == nil {
		return "", ErrRequestNotFound
	}
	traceID, err := g.cfg.Traces.TraceByRequest(ctx, requestID)
	if errors.Is(err, ErrTraceNotFound) {
		return "", fmt.Errorf("%w: %w", ErrRequestNotFound, err)
	}
	if err != nil {
		return "", fmt.Errorf("trace of %s: %w", requestID, err)
	}
	return traceID, nil
}

// AuthorEntry is one author in GET /v1/authors.
type AuthorEntry struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// authors answers GET /v1/authors: every author, for the web page's
// author picker.
func (g *Gateway) authors(w http.ResponseWriter, r *http.Request) {
	if g.cfg.Store == nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "the warehouse is not available on this gateway")
		return
	}
	list, err := g.cfg.Store.Authors(r.Context())
	if err != nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "warehouse: "+err.Error())
		return
	}
	out := make([]AuthorEntry, len(list))
	for i, a := range list {
		out[i] = AuthorEntry{ID: a.ID, Name: a.Name}
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"authors": out})
}
