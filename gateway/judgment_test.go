package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// openTraceStore opens a real SQLite warehouse holding traces.
func openTraceStore(t testing.TB, traces ...warehouse.TraceRecord) *warehouse.SQLiteStore {
	t.Helper()
	s, err := warehouse.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if len(traces) > 0 {
		if _, err := s.PutTraces(t.Context(), traces); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// storedTrace is a trace as the rag worker writes it: the query, and a
// rerank step that kept docs.
func storedTrace(traceID, requestID, query string, at time.Time, docs ...string) warehouse.TraceRecord {
	var kept []map[string]any
	for _, d := range docs {
		kept = append(kept, map[string]any{"id": d + "#0", "document_id": d, "title": "T " + d, "score": 0.5})
	}
	out, _ := json.Marshal(kept)
	body, _ := json.Marshal(schemas.Trace{TraceID: traceID, RequestID: requestID, Query: query, Author: "Ada",
		Steps: []schemas.TraceStep{
			{Name: "search", Input: query, Output: json.RawMessage(`[]`), LatencyMS: 3.5},
			{Name: "rerank", Input: query, Output: out, LatencyMS: 1.25, Model: "lexical"},
			{Name: "generate", Input: "<b>prompt</b>", Output: json.RawMessage(`"the answer <script>alert(1)</script>"`), LatencyMS: 9, TokensIn: 40, TokensOut: 12},
		}, TotalMS: 14, CreatedAt: at})
	return warehouse.TraceRecord{TraceID: traceID, RequestID: requestID, Author: "Ada", CreatedAt: at, Trace: body}
}

// forgetfulAnswer answers like echoAnswer, but its done names no query, as
// a rag worker from before the done carried it.
func forgetfulAnswer(ctx context.Context, req schemas.ChatRequest, w *replyWriter) {
	w.query = ""
	echoAnswer(ctx, req, w)
}

func TestSourceJudgmentsAreCheckedAndPublished(t *testing.T) {
	t.Parallel()
	traces := openTraceStore(t, storedTrace("trace-old", "old-req", "how do queues work?", time.Now().Add(-time.Hour), "doc-9", "doc-8"))
	st := startStack(t, Config{TraceStore: traces}, func(ctx context.Context, req schemas.ChatRequest, w *replyWriter) {
		if req.ID == "forgetful" {
			forgetfulAnswer(ctx, req, w)
			return
		}
		echoAnswer(ctx, req, w)
	})
	c := st.dial(t, nil)
	for _, id := range []string{"j-1", "forgetful"} {
		send(t, c, ClientMessage{Type: MsgAsk, ID: id, Query: "what is a stream?"})
		if _, end := collect(t, c, id); end.Type != MsgDone {
			t.Fatalf("ask %s ended with %+v", id, end)
		}
	}
	yes, no := true, false

	// Over the WebSocket.
	for _, tc := range []struct {
		name string
		msg  ClientMessage
		want ServerMessage
	}{
		{"a cited source, helpful", ClientMessage{Type: MsgFeedback, ID: "j-1", DocumentID: "doc-1", Helpful: &yes},
			ServerMessage{Type: MsgAccepted, ID: "j-1", For: MsgFeedback, DocumentID: "doc-1"}},
		{"a document the answer did not cite", ClientMessage{Type: MsgFeedback, ID: "j-1", DocumentID: "doc-9", Helpful: &yes},
			ServerMessage{Type: MsgError, ID: "j-1", Code: CodeBadRequest, For: MsgFeedback, DocumentID: "doc-9"}},
		{"no helpful", ClientMessage{Type: MsgFeedback, ID: "j-1", DocumentID: "doc-1"},
			ServerMessage{Type: MsgError, ID: "j-1", Code: CodeBadRequest, For: MsgFeedback}},
		{"a rating and a source at once", ClientMessage{Type: MsgFeedback, ID: "j-1", DocumentID: "doc-1", Helpful: &no, Rating: 1},
			ServerMessage{Type: MsgError, ID: "j-1", Code: CodeBadRequest, For: MsgFeedback}},
		{"an unknown request", ClientMessage{Type: MsgFeedback, ID: "nobody-asked", DocumentID: "doc-1", Helpful: &no},
			ServerMessage{Type: MsgError, ID: "nobody-asked", Code: CodeNotFound, For: MsgFeedback, DocumentID: "doc-1"}},
	} {
		send(t, c, tc.msg)
		got := next(t, c)
		got.Message = ""
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: answered %+v, want %+v", tc.name, got, tc.want)
		}
	}

	// Over REST.
	for _, tc := range []struct {
		name, body string
		status     int
		grade      int
	}{
		{"not helpful", `{"request_id":"j-1","document_id":"doc-1","helpful":false}`, http.StatusAccepted, 0},
		{"the same click again", `{"request_id":"j-1","document_id":"doc-1","helpful":false}`, http.StatusAccepted, 0},
		{"a query of the client's own is not taken", `{"request_id":"j-1","document_id":"doc-1","helpful":true,"query":"something else"}`, http.StatusAccepted, 1},
		{"an old request, from its trace", `{"request_id":"old-req","document_id":"doc-9","helpful":true}`, http.StatusAccepted, 1},
		{"an old request, a document it did not retrieve", `{"request_id":"old-req","document_id":"doc-1","helpful":true}`, http.StatusBadRequest, 0},
		{"a done without the query, the client's", `{"request_id":"forgetful","document_id":"doc-1","helpful":true,"query":"what is a stream?"}`, http.StatusAccepted, 1},
		{"a done without the query, and none sent", `{"request_id":"forgetful","document_id":"doc-1","helpful":false}`, http.StatusBadRequest, 0},
		{"unknown request", `{"request_id":"nobody-asked","document_id":"doc-1","helpful":true}`, http.StatusNotFound, 0},
		{"helpful missing", `{"request_id":"j-1","document_id":"doc-1"}`, http.StatusBadRequest, 0},
		{"helpful without a document", `{"request_id":"j-1","helpful":true}`, http.StatusBadRequest, 0},
		{"helpful not a boolean", `{"request_id":"j-1","document_id":"doc-1","helpful":"yes"}`, http.StatusBadRequest, 0},
	} {
		resp, body := st.do(t, http.MethodPost, "/v1/feedback", "", tc.body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: POST /v1/feedback %s = %d %s, want %d", tc.name, tc.body, resp.StatusCode, body, tc.status)
			continue
		}
		if tc.status == http.StatusAccepted {
			var fr FeedbackResponse
			if err := json.Unmarshal([]byte(body), &fr); err != nil || fr.Grade == nil || *fr.Grade != tc.grade || fr.JudgmentID == "" {
				t.Errorf("%s: 202 body %s, want grade %d and a judgment id", tc.name, body, tc.grade)
			}
		}
	}

	want := []schemas.Judgment{
		{ID: UserJudgmentID("j-1", "doc-1", 1), Query: "what is a stream?", DocumentID: "doc-1", Grade: 1, RequestID: "j-1", TraceID: "trace-j-1"},
		{ID: UserJudgmentID("j-1", "doc-1", 0), Query: "what is a stream?", DocumentID: "doc-1", Grade: 0, RequestID: "j-1", TraceID: "trace-j-1"},
		// The same click again was deduplicated, and so was the third (the
		// same judgment as the first, with a query that did not count).
		{ID: UserJudgmentID("old-req", "doc-9", 1), Query: "how do queues work?", DocumentID: "doc-9", Grade: 1, RequestID: "old-req", TraceID: "trace-old"},
		{ID: UserJudgmentID("forgetful", "doc-1", 1), Query: "what is a stream?", DocumentID: "doc-1", Grade: 1, RequestID: "forgetful", TraceID: "trace-forgetful"},
	}
	got := readJudgments(t, st.js)
	if len(got) != len(want) {
		t.Fatalf("FEEDBACK holds %d judgments, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		want[i].Source = schemas.JudgmentUser
		if got[i].CreatedAt.IsZero() {
			t.Errorf("judgment %d has no time", i)
		}
		got[i].CreatedAt = time.Time{}
		if got[i] != want[i] {
			t.Errorf("judgment %d =\n%+v\nwant\n%+v", i, got[i], want[i])
		}
	}
}

// readJudgments reads every judgment in FEEDBACK, checking that each is
// valid, on the relevance subject, with its id as Nats-Msg-Id.
func readJudgments(t *testing.T, js jetstream.JetStream) []schemas.Judgment {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	subject := schemas.FeedbackSubject(schemas.FeedbackRelevance)
	cons, err := js.OrderedConsumer(ctx, streams.StreamFeedback, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.Stream(ctx, streams.StreamFeedback)
	if err != nil {
		t.Fatal(err)
	}
	si, err := info.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	n := int(si.State.Subjects[subject])
	var out []schemas.Judgment
	for len(out) < n {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var j schemas.Judgment
		if err := schemas.Decode(m.Data(), &j); err != nil {
			t.Fatalf("FEEDBACK holds an invalid judgment: %v", err)
		}
		if m.Headers().Get(jetstream.MsgIDHeader) != j.ID {
			t.Errorf("judgment %s published with Nats-Msg-Id %q", j.ID, m.Headers().Get(jetstream.MsgIDHeader))
		}
		out = append(out, j)
	}
	return out
}
