package warehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Collections (tables on SQLite) of the prompt monitor. They live beside
// the documents but share nothing with them: no revisions, no CDC.
const (
	Traces   = "traces"
	Feedback = "feedback"
)

// DefaultTraceListLimit is how many traces ListTraces returns when the
// options set no limit: a trace holds every step's input and output, so an
// unbounded listing could be very large.
const DefaultTraceListLimit = 100

// TraceRecord is one chat request's trace as the warehouse keeps it: the
// trace as its producer published it (JSON), beside the fields the queries
// filter and sort on.
type TraceRecord struct {
	TraceID   string `json:"trace_id"`
	RequestID string `json:"request_id,omitempty"`
	Author    string `json:"author,omitempty"`
	// AuthorID is AuthorID(Author); the store fills it.
	AuthorID string `json:"author_id,omitempty"`
	// CreatedAt orders the listing and decides expiry; the store sets it to
	// now when it is zero, so a caller that retries a write should set it.
	CreatedAt time.Time `json:"created_at"`
	// Trace is the whole trace, any JSON value (a schemas.Trace in practice).
	Trace json.RawMessage `json:"trace"`
	// Feedback is every rating of RequestID, oldest first, joined when the
	// trace is read; PutTraces ignores it.
	Feedback []FeedbackRecord `json:"feedback,omitempty"`
}

// FeedbackRecord is one rating of a chat request's answer.
type FeedbackRecord struct {
	RequestID string    `json:"request_id"`
	TraceID   string    `json:"trace_id,omitempty"`
	Rating    int       `json:"rating"` // 1 (up) or -1 (down)
	Comment   string    `json:"comment,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// TraceListOptions narrow ListTraces. Traces come newest first.
type TraceListOptions struct {
	// Author keeps one author's traces (compared by AuthorID, so any
	// spelling NormalizeAuthor folds together matches).
	Author string
	// Before keeps traces created strictly before it, to page through a
	// listing; no bound when zero.
	Before time.Time
	// Limit is the most traces returned; DefaultTraceListLimit when <= 0.
	Limit int
}

// TraceStore keeps prompt traces and the feedback on them. Both SQLiteStore
// and MongoStore implement it, with the same promises:
//
//   - A trace is keyed by its trace id: writing it again replaces it and
//     never duplicates it. Feedback is stored apart, keyed by request id and
//     FeedbackKey, so replacing a trace keeps its feedback.
//   - Feedback may be written before its trace (the two arrive on
//     independent streams): it is joined to every trace with its request id
//     when that trace is read, whenever the trace was written.
//   - Writing the same feedback again is a no-op.
type TraceStore interface {
	// PutTraces writes traces, each replacing any trace with its id, in
	// their order. created[i] reports whether no trace with the id of
	// traces[i] was stored before (nor earlier in the batch), which lets a
	// caller do its once-per-trace work (counting it) only once under
	// redelivery. When a trace is invalid, nothing is written and the
	// error is an *InvalidTraceError (matching ErrInvalid) that says which.
	// On another error, some traces may have been written (on MongoDB,
	// which has no transaction here); writing the batch again is safe, and
	// then reports those as not created.
	PutTraces(ctx context.Context, traces []TraceRecord) (created []bool, err error)
	// GetTrace returns one trace with its feedback, or an error matching
	// ErrNotFound.
	GetTrace(ctx context.Context, traceID string) (TraceRecord, error)
	// TraceByRequest returns the newest trace of a chat request with its
	// feedback, or an error matching ErrNotFound.
	TraceByRequest(ctx context.Context, requestID string) (TraceRecord, error)
	// AddFeedback stores fb for the trace of fb.RequestID, now or later.
	// added is false when the same feedback (same FeedbackKey) was already
	// stored, which then is left as it was.
	AddFeedback(ctx context.Context, fb FeedbackRecord) (added bool, err error)
	// ListTraces lists traces, newest first, with their feedback.
	ListTraces(ctx context.Context, opts TraceListOptions) ([]TraceRecord, error)
	// ExpireTraces deletes the traces created before before, and the
	// feedback no remaining trace needs: that of the deleted traces, and
	// feedback stored before before whose trace never came. It returns how
	// many traces it deleted.
	ExpireTraces(ctx context.Context, before time.Time) (int64, error)
}

var (
	_ TraceStore = (*SQLiteStore)(nil)
	_ TraceStore = (*MongoStore)(nil)
)

// FeedbackKey is what makes two feedback records the same one for a
// request: when it was given and the rating. A redelivered rating has the
// same key, a user's later change of mind has another.
func FeedbackKey(fb FeedbackRecord) string {
	return strconv.FormatInt(unixMS(fb.CreatedAt), 10) + "/" + strconv.Itoa(fb.Rating)
}

// prepareTrace validates t and fills what the store computes.
func prepareTrace(t TraceRecord, now time.Time) (TraceRecord, error) {
	if t.TraceID == "" {
		return TraceRecord{}, fmt.Errorf("%w: trace without an id", ErrInvalid)
	}
	if len(t.Trace) == 0 || !json.Valid(t.Trace) {
		return TraceRecord{}, fmt.Errorf("%w: trace %s: body is not JSON", ErrInvalid, t.TraceID)
	}
	t.AuthorID = AuthorID(t.Author)
	t.CreatedAt = storeTime(t.CreatedAt)
	if t.CreatedAt.IsZero() {
		t.CreatedAt = storeTime(now)
	}
	t.Feedback = nil
	return t, nil
}

// InvalidTraceError is PutTraces' error when a trace of the batch is
// invalid: it matches ErrInvalid, and Index says which trace it is.
type InvalidTraceError struct {
	Index int
	Err   error
}

func (e *InvalidTraceError) Error() string {
	return fmt.Sprintf("trace %d of the batch: %v", e.Index, e.Err)
}
func (e *InvalidTraceError) Unwrap() error { return e.Err }

// prepareTraces validates and prepares every trace of a batch; the first
// invalid one fails it with an InvalidTraceError.
func prepareTraces(traces []TraceRecord, now time.Time) ([]TraceRecord, error) {
	out := make([]TraceRecord, len(traces))
	for i, t := range traces {
		var err error
		if out[i], err = prepareTrace(t, now); err != nil {
			return nil, &InvalidTraceError{Index: i, Err: err}
		}
	}
	return out, nil
}

// prepareFeedback validates fb.
func prepareFeedback(fb FeedbackRecord) (FeedbackRecord, error) {
	if fb.RequestID == "" {
		return FeedbackRecord{}, fmt.Errorf("%w: feedback without a request id", ErrInvalid)
	}
	if fb.Rating != 1 && fb.Rating != -1 {
		return FeedbackRecord{}, fmt.Errorf("%w: feedback on %s: rating %d, want 1 or -1", ErrInvalid, fb.RequestID, fb.Rating)
	}
	fb.CreatedAt = storeTime(fb.CreatedAt)
	return fb, nil
}

// traceLimit is the limit a TraceListOptions asks for.
func traceLimit(opts TraceListOptions) int {
	if opts.Limit <= 0 {
		return DefaultTraceListLimit
	}
	return opts.Limit
}

// unixMS is t in milliseconds since the epoch, 0 for the zero time (which
// would otherwise be a large negative number).
func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromUnixMS undoes unixMS.
func fromUnixMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// joinFeedback attaches each request's feedback to its traces.
func joinFeedback(traces []TraceRecord, byRequest map[string][]FeedbackRecord) {
	for i := range traces {
		if fb := byRequest[traces[i].RequestID]; traces[i].RequestID != "" && len(fb) > 0 {
			traces[i].Feedback = fb
		}
	}
}

// requestIDs lists the distinct non-empty request ids of traces.
func requestIDs(traces []TraceRecord) []string {
	seen := make(map[string]bool, len(traces))
	var out []string
	for _, t := range traces {
		if t.RequestID != "" && !seen[t.RequestID] {
			seen[t.RequestID] = true
			out = append(out, t.RequestID)
		}
	}
	return out
}
