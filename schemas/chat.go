package schemas

import (
	"encoding/json"
	"time"
)

// ChatRequest is one question for the twin. The gateway publishes it on
// SubjectChatRequests; a rag worker answers on ChatReplies(ID).
type ChatRequest struct {
	// ID names the request and becomes a subject token, so it satisfies
	// ValidToken. The client chooses it, which lets it resume a reply.
	ID    string `json:"id"`
	Query string `json:"query"`
	// Author and Category narrow the search when set; otherwise the rag
	// worker infers them from the query.
	Author    string    `json:"author,omitempty"`
	Category  string    `json:"category,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Schema returns "chat_request/v1".
func (ChatRequest) Schema() string { return "chat_request/v1" }

// Values of ReplyToken.Type and ReplyDone.Type. The field is in the body, not
// only in HeaderSchema, so the gateway can forward a reply to a WebSocket
// client unchanged.
const (
	ReplyTypeToken = "token"
	ReplyTypeDone  = "done"
)

// ReplyToken is one piece of a streamed answer. The rag worker publishes the
// tokens of request ID on ChatReplies(ID), with Seq counting from 1, so a
// client that resumes after Seq n is sent the tokens after n.
type ReplyToken struct {
	Type string `json:"type"` // always ReplyTypeToken
	ID   string `json:"id"`
	Seq  int    `json:"seq"`
	Text string `json:"text,omitempty"`
}

// Schema returns "reply_token/v1".
func (ReplyToken) Schema() string { return "reply_token/v1" }

// ReplyDone ends the reply to request ID, on ChatReplies(ID): the whole
// answer, its sources and the trace that explains it, or the error that
// stopped it. It is the last message for that request.
type ReplyDone struct {
	Type    string   `json:"type"` // always ReplyTypeDone
	ID      string   `json:"id"`
	Answer  string   `json:"answer,omitempty"`
	Sources []Source `json:"sources,omitempty"`
	// Query is the question answered, so that a judgment of one of its
	// sources can name it without trusting the client.
	Query   string      `json:"query,omitempty"`
	TraceID string      `json:"trace_id,omitempty"`
	Error   *ReplyError `json:"error,omitempty"`
}

// Schema returns "reply_done/v1".
func (ReplyDone) Schema() string { return "reply_done/v1" }

// Source is a document the answer drew on.
type Source struct {
	DocumentID string  `json:"document_id"`
	Title      string  `json:"title,omitempty"`
	Link       string  `json:"link,omitempty"`
	Score      float64 `json:"score,omitempty"` // the reranker's score
}

// ReplyError says why a request was not answered.
type ReplyError struct {
	Code    string `json:"code"` // a machine word, e.g. "timeout", "refused"
	Message string `json:"message,omitempty"`
}

// Ratings of a Feedback.
const (
	RatingUp   = 1
	RatingDown = -1
)

// Grades of a Judgment: BEIR's scale, where 0 is not relevant and higher
// is more relevant. A user's "helpful" is GradeRelevant, "not helpful"
// GradeNotRelevant; imported judgments keep their grade.
const (
	GradeNotRelevant = 0
	GradeRelevant    = 1
	MaxGrade         = 3
)

// Judgment says how relevant one document is to one query: a user marking a
// cited source helpful or not, or a line of imported relevance judgments.
// It travels on FeedbackSubject(FeedbackRelevance); the monitor stores it
// and the reranker learns from it. ID is the deduplication key.
type Judgment struct {
	ID         string `json:"id"`
	Query      string `json:"query"`
	DocumentID string `json:"document_id"`
	Grade      int    `json:"grade"` // 0 (GradeNotRelevant) to MaxGrade
	// Source is JudgmentUser or JudgmentImport.
	Source    string    `json:"source"`
	RequestID string    `json:"request_id,omitempty"` // the chat request whose source was judged
	TraceID   string    `json:"trace_id,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Sources of a Judgment.
const (
	JudgmentUser   = "user"   // a user of the chat page or API
	JudgmentImport = "import" // twin feedback import
)

// Schema returns "judgment/v1".
func (Judgment) Schema() string { return "judgment/v1" }

// Feedback is a user's rating of one answer, with an optional comment. The
// gateway publishes it on FeedbackSubject(kind); the dataset builder and the
// retrain policy consume it.
type Feedback struct {
	RequestID string    `json:"request_id"`
	Rating    int       `json:"rating"` // RatingUp or RatingDown
	Comment   string    `json:"comment,omitempty"`
	TraceID   string    `json:"trace_id,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Schema returns "feedback/v1".
func (Feedback) Schema() string { return "feedback/v1" }

// Trace records how one chat request was answered: every step of the RAG
// pipeline with its input, output, latency and token counts, and the events
// (refusals, redactions) along the way. The rag worker publishes it on
// SubjectMonitorTraces; the monitor stores it and turns it into metrics.
type Trace struct {
	TraceID   string       `json:"trace_id"`
	RequestID string       `json:"request_id,omitempty"`
	Query     string       `json:"query,omitempty"`
	Author    string       `json:"author,omitempty"`
	Steps     []TraceStep  `json:"steps,omitempty"`
	Events    []TraceEvent `json:"events,omitempty"`
	// FirstTokenMS is the time from the request's arrival at the rag
	// worker to its first answer token.
	FirstTokenMS float64   `json:"first_token_ms,omitempty"`
	TotalMS      float64   `json:"total_ms,omitempty"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
}

// Schema returns "trace/v1".
func (Trace) Schema() string { return "trace/v1" }

// TraceStep is one step of the pipeline: "self_query", "expand", "search",
// "rerank", "generate", ...
type TraceStep struct {
	Name  string `json:"name"`
	Input string `json:"input,omitempty"`
	// Output is whatever the step produced, as JSON: a string, a list of
	// hits, an object.
	Output    json.RawMessage `json:"output,omitempty"`
	StartedAt time.Time       `json:"started_at,omitzero"`
	LatencyMS float64         `json:"latency_ms,omitempty"`
	TokensIn  int             `json:"tokens_in,omitempty"`
	TokensOut int             `json:"tokens_out,omitempty"`
	Model     string          `json:"model,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// TraceEvent is something a step did besides its output, worth counting on
// its own: a refusal, a redaction.
type TraceEvent struct {
	Step   string `json:"step,omitempty"`
	Kind   string `json:"kind"` // e.g. "refusal", "redaction"
	Detail string `json:"detail,omitempty"`
}
