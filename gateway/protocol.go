package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/twin-llm/twin/schemas"
)

// Types of the frames a chat client sends.
const (
	MsgAsk      = "ask"
	MsgResume   = "resume"
	MsgFeedback = "feedback"
)

// Types of the frames the gateway sends. Token and done frames are the rag
// worker's messages, forwarded unchanged (schemas.ReplyToken and
// schemas.ReplyDone).
const (
	MsgToken    = schemas.ReplyTypeToken
	MsgDone     = schemas.ReplyTypeDone
	MsgError    = "error"
	MsgAccepted = "accepted"
)

// Codes of the error frames the gateway itself sends. A done that carries
// the rag worker's error becomes an error frame with the worker's code
// ("timeout", "refused", ...), which is not one of these.
const (
	CodeBadJSON         = "bad_json"           // the frame is not a JSON object
	CodeBadRequest      = "bad_request"        // a field is missing or has a wrong value or type
	CodeUnknownType     = "unknown_type"       // type is missing or not ask, resume or feedback
	CodeTooLong         = "too_long"           // query or comment over its limit
	CodeTooManyInFlight = "too_many_in_flight" // the connection already streams ChatConfig.MaxInFlight replies
	CodeRateLimited     = "rate_limited"       // the connection or its address asks too fast
	CodeDuplicate       = "duplicate"          // the request is already streaming on this connection
	CodeNotFound        = "not_found"          // no such request (resume, feedback)
	CodeUnknownAuthor   = "unknown_author"     // the ask names an author the warehouse does not know
	CodeUnavailable     = "unavailable"        // NATS or JetStream failed; try again
	CodeTimeout         = "timeout"            // no done within ChatConfig.ReplyTimeout
)

// ClientMessage is one frame a chat client sends. Which fields count
// depends on Type: ask uses ID (optional), Query, Author and Category;
// resume uses ID and After; feedback uses ID with Rating and Comment (the
// answer), or ID with DocumentID, Helpful and optionally Query (one cited
// source).
type ClientMessage struct {
	Type     string `json:"type"`
	ID       string `json:"id,omitempty"`
	Query    string `json:"query,omitempty"`
	Author   string `json:"author,omitempty"`
	Category string `json:"category,omitempty"`
	// After is the last token sequence the client has; the resumed reply
	// starts at After+1.
	After      int    `json:"after,omitempty"`
	Rating     int    `json:"rating,omitempty"`
	Comment    string `json:"comment,omitempty"`
	DocumentID string `json:"document_id,omitempty"`
	Helpful    *bool  `json:"helpful,omitempty"`
}

// ServerMessage is one frame the gateway sends, for clients written in Go.
// Token: ID, Seq, Text. Done: ID, Answer, Sources, TraceID. Error: ID
// (absent when the frame concerns no request), Code, Message, For, and
// TraceID when the rag worker reported one. Accepted: ID, For. Both carry
// DocumentID when they answer a judgment of one source.
type ServerMessage struct {
	Type    string           `json:"type"`
	ID      string           `json:"id,omitempty"`
	Seq     int              `json:"seq,omitempty"`
	Text    string           `json:"text,omitempty"`
	Answer  string           `json:"answer,omitempty"`
	Sources []schemas.Source `json:"sources,omitempty"`
	TraceID string           `json:"trace_id,omitempty"`
	Code    string           `json:"code,omitempty"`
	Message string           `json:"message,omitempty"`
	// For is the type of the client frame an accepted or error frame
	// answers (ask, resume, feedback); an error that ends a reply names the
	// frame that started it.
	For string `json:"for,omitempty"`
	// DocumentID names the source an accepted or error frame about a
	// judgment of one source answers.
	DocumentID string `json:"document_id,omitempty"`
}

// Bounds on the free-text fields besides the query, whose bound is
// configurable. They keep one frame's effect on the streams small.
const (
	maxAuthorBytes   = 256
	maxCategoryBytes = 64
)

// protocolError is a refused client frame: the error frame to send back.
type protocolError struct {
	code, msg string
	id        string // the frame's id when it is a valid one, else empty
	forType   string // the frame's type when known
}

func (e *protocolError) Error() string { return e.code + ": " + e.msg }

func (e *protocolError) frame() ServerMessage {
	return ServerMessage{Type: MsgError, ID: e.id, Code: e.code, Message: e.msg, For: e.forType}
}

// parseLimits are the configurable bounds parseClientMessage checks.
type parseLimits struct {
	maxQueryChars   int
	maxCommentChars int
}

// parseClientMessage decodes and checks one client frame. It never
// panics: every input yields either a message that satisfies the
// protocol's invariants (a known type, a valid or absent id, a bounded
// non-blank query, a rating of ±1 or a bounded judgment of one source,
// after ≥ 0) or a protocolError to send
// back. Unknown fields are ignored so that newer clients work with older
// gateways.
func parseClientMessage(data []byte, lim parseLimits) (ClientMessage, *protocolError) {
	var m ClientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			// Partial values are not trusted: only a valid id and type are
			// echoed back, from a second look at the frame.
			pe := &protocolError{code: CodeBadRequest, msg: "field " + strconv.Quote(typeErr.Field) + " has the wrong type"}
			pe.id, pe.forType = salvage(data)
			return ClientMessage{}, pe
		}
		return ClientMessage{}, &protocolError{code: CodeBadJSON, msg: "a frame must be one JSON object"}
	}
	fail := func(code, msg string) (ClientMessage, *protocolError) {
		pe := &protocolError{code: code, msg: msg, forType: m.Type}
		if schemas.ValidToken(m.ID) {
			pe.id = m.ID
		}
		return ClientMessage{}, pe
	}
	switch m.Type {
	case MsgAsk, MsgResume, MsgFeedback:
	case "":
		return fail(CodeUnknownType, `missing "type": send ask, resume or feedback`)
	default:
		m.Type = "" // never echo an arbitrary string back
		return fail(CodeUnknownType, "unknown type: send ask, resume or feedback")
	}
	if m.ID != "" && !schemas.ValidToken(m.ID) || m.ID == "" && m.Type != MsgAsk {
		return fail(CodeBadRequest, `"id" must be 1 to 128 ASCII letters, digits, '-' or '_'`)
	}
	switch m.Type {
	case MsgAsk:
		if strings.TrimSpace(m.Query) == "" {
			return fail(CodeBadRequest, `missing "query"`)
		}
		if n := utf8.RuneCountInString(m.Query); n > lim.maxQueryChars {
			return fail(CodeTooLong, "query is "+strconv.Itoa(n)+" characters, over the limit of "+strconv.Itoa(lim.maxQueryChars))
		}
		if len(m.Author) > maxAuthorBytes || len(m.Category) > maxCategoryBytes {
			return fail(CodeTooLong, "author or category is too long")
		}
		m.After, m.Rating, m.Comment = 0, 0, ""
		m.DocumentID, m.Helpful = "", nil
	case MsgResume:
		if m.After < 0 {
			return fail(CodeBadRequest, `"after" must be 0 or more`)
		}
		m.Query, m.Author, m.Category, m.Rating, m.Comment = "", "", "", 0, ""
		m.DocumentID, m.Helpful = "", nil
	case MsgFeedback:
		if m.DocumentID != "" || m.Helpful != nil {
			if msg := checkSourceJudgment(m.DocumentID, m.Helpful, m.Rating, m.Query, lim.maxQueryChars); msg != "" {
				return fail(CodeBadRequest, msg)
			}
			m.Author, m.Category, m.After, m.Comment = "", "", 0, ""
			break
		}
		if m.Rating != schemas.RatingUp && m.Rating != schemas.RatingDown {
			return fail(CodeBadRequest, `"rating" must be 1 or -1`)
		}
		if n := utf8.RuneCountInString(m.Comment); n > lim.maxCommentChars {
			return fail(CodeTooLong, "comment is "+strconv.Itoa(n)+" characters, over the limit of "+strconv.Itoa(lim.maxCommentChars))
		}
		m.Query, m.Author, m.Category, m.After = "", "", "", 0
	}
	return m, nil
}

// salvage reads only type and id from a frame whose other fields did not
// decode, so that its error frame can name the request.
func salvage(data []byte) (id, typ string) {
	var head struct {
		Type json.RawMessage `json:"type"`
		ID   json.RawMessage `json:"id"`
	}
	if json.Unmarshal(data, &head) != nil {
		return "", ""
	}
	var rawID, rawType string
	if json.Unmarshal(head.ID, &rawID) == nil && schemas.ValidToken(rawID) {
		id = rawID
	}
	if json.Unmarshal(head.Type, &rawType) == nil {
		switch rawType {
		case MsgAsk, MsgResume, MsgFeedback:
			typ = rawType
		}
	}
	return id, typ
}

// encodeFrame marshals a server frame. The types hold only strings,
// numbers and sources, so it cannot fail; a failure would be a bug in this
// package, answered with a generic error frame rather than a panic.
func encodeFrame(m ServerMessage) []byte {
	data, err := json.Marshal(m)
	if err != nil {
		return []byte(`{"type":"error","code":"internal","message":"could not encode a frame"}`)
	}
	return data
}
