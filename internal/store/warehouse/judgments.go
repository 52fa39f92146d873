package warehouse

import (
	"context"
	"time"
)

// Judgments is the collection (table on SQLite) of relevance judgments:
// which documents are relevant to which queries, from users and imports.
// Like the traces, it shares nothing with the documents: no revisions, no
// CDC.
const Judgments = "judgments"

// JudgmentRecord is one relevance judgment as the warehouse keeps it (a
// schemas.Judgment).
type JudgmentRecord struct {
	ID         string    `json:"id"`
	Query      string    `json:"query"`
	DocumentID string    `json:"document_id"`
	Grade      int       `json:"grade"`
	Source     string    `json:"source"`
	RequestID  string    `json:"request_id,omitempty"`
	TraceID    string    `json:"trace_id,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	// Seq orders the judgments as they were first stored; the store sets it.
	Seq int64 `json:"seq,omitempty"`
}

// JudgmentListOptions narrow Judgments.
type JudgmentListOptions struct {
	// After keeps the judgments with a Seq above it, to page or to read
	// only what is new since a training.
	After int64
	// Limit is the most judgments returned; no limit when <= 0.
	Limit int
}

// JudgmentStore keeps relevance judgments. SQLiteStore and MongoStore
// implement it with the same promises: a judgment is keyed by its ID, so
// writing it again (a redelivery, an import run twice) is a no-op; a later
// judgment of the same query and document does not replace an earlier one
// (both are kept; whoever learns from them decides).
type JudgmentStore interface {
	// PutJudgments stores judgments and reports how many were new. An
	// invalid one (no id, query or document, a grade outside 0..3) stores
	// nothing and the error matches ErrInvalid.
	PutJudgments(ctx context.Context, js []JudgmentRecord) (added int, err error)
	// ListJudgments returns judgments in Seq order.
	ListJudgments(ctx context.Context, opts JudgmentListOptions) ([]JudgmentRecord, error)
}
