package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// traceMap is a TraceFinder over a map.
type traceMap map[string]string

func (m traceMap) TraceByRequest(_ context.Context, id string) (string, error) {
	if t, ok := m[id]; ok {
		return t, nil
	}
	return "", ErrTraceNotFound
}

func TestFeedbackReachesTheFeedbackStream(t *testing.T) {
	t.Parallel()
	st := startStack(t, Config{Traces: traceMap{"old-req": "trace-old"}}, nil)
	c := st.dial(t, nil)
	send(t, c, ClientMessage{Type: MsgAsk, ID: "fb-1", Query: "rate me"})
	if _, end := collect(t, c, "fb-1"); end.Type != MsgDone {
		t.Fatalf("ask ended with %+v", end)
	}

	// Over the WebSocket.
	send(t, c, ClientMessage{Type: MsgFeedback, ID: "fb-1", Rating: 1, Comment: "great"})
	if m := next(t, c); m.Type != MsgAccepted || m.ID != "fb-1" || m.For != MsgFeedback {
		t.Fatalf("feedback answered %+v, want accepted for feedback", m)
	}
	send(t, c, ClientMessage{Type: MsgFeedback, ID: "nobody-asked", Rating: -1})
	if m := next(t, c); m.Type != MsgError || m.Code != CodeNotFound || m.For != MsgFeedback {
		t.Fatalf("feedback on an unknown request answered %+v, want error not_found", m)
	}

	// Over REST.
	for _, tc := range []struct {
		name, body string
		status     int
		trace      string
	}{
		{"request in CHAT_REPLIES", `{"request_id":"fb-1","rating":-1,"comment":"on second thought"}`, http.StatusAccepted, "trace-fb-1"},
		{"back to the first rating", `{"request_id":"fb-1","rating":1,"comment":"great"}`, http.StatusAccepted, "trace-fb-1"},
		{"request known to the trace store", `{"request_id":"old-req","rating":1}`, http.StatusAccepted, "trace-old"},
		{"unknown request", `{"request_id":"nobody-asked","rating":1}`, http.StatusNotFound, ""},
		{"bad rating", `{"request_id":"fb-1","rating":0}`, http.StatusBadRequest, ""},
		{"bad id", `{"request_id":"a.b","rating":1}`, http.StatusBadRequest, ""},
		{"unknown field", `{"request_id":"fb-1","rating":1,"stars":5}`, http.StatusBadRequest, ""},
		{"not JSON", `rating=1`, http.StatusBadRequest, ""},
	} {
		resp, body := st.do(t, http.MethodPost, "/v1/feedback", "", tc.body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: POST /v1/feedback %s = %d %s, want %d", tc.name, tc.body, resp.StatusCode, body, tc.status)
			continue
		}
		if tc.status == http.StatusAccepted {
			var fr FeedbackResponse
			if err := json.Unmarshal([]byte(body), &fr); err != nil || fr.TraceID != tc.trace {
				t.Errorf("%s: 202 body %s, want trace_id %q", tc.name, body, tc.trace)
			}
		}
	}

	want := []schemas.Feedback{
		{RequestID: "fb-1", Rating: 1, Comment: "great", TraceID: "trace-fb-1"},
		{RequestID: "fb-1", Rating: -1, Comment: "on second thought", TraceID: "trace-fb-1"},
		{RequestID: "fb-1", Rating: 1, Comment: "great", TraceID: "trace-fb-1"}, // a new rating, not a duplicate
		{RequestID: "old-req", Rating: 1, TraceID: "trace-old"},
	}
	got := readFeedback(t, st.js, len(want))
	for i, w := range want {
		g := got[i]
		if g.RequestID != w.RequestID || g.Rating != w.Rating || g.Comment != w.Comment || g.TraceID != w.TraceID || g.CreatedAt.IsZero() {
			t.Errorf("feedback %d = %+v, want %+v", i, g, w)
		}
	}
}

// readFeedback reads n messages from FEEDBACK, checking their subject and
// trace header.
func readFeedback(t *testing.T, js jetstream.JetStream, n int) []schemas.Feedback {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, streams.StreamFeedback, jetstream.OrderedConsumerConfig{FilterSubjects: []string{schemas.SubjectFeedbackAll}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var out []schemas.Feedback
	for m := range batch.Messages() {
		var fb schemas.Feedback
		if err := schemas.Decode(m.Data(), &fb); err != nil {
			t.Fatalf("FEEDBACK holds an invalid message: %v", err)
		}
		if m.Subject() != schemas.FeedbackSubject(schemas.FeedbackRating) || m.Headers().Get(schemas.HeaderTraceID) != fb.TraceID {
			t.Errorf("feedback on %s with trace header %q, want %s and %q", m.Subject(), m.Headers().Get(schemas.HeaderTraceID), schemas.FeedbackSubject(schemas.FeedbackRating), fb.TraceID)
		}
		out = append(out, fb)
	}
	if len(out) != n {
		t.Fatalf("FEEDBACK holds %d messages, want %d: %+v", len(out), n, out)
	}
	return out
}

// authorStore is a warehouse with authors and nothing else.
type authorStore struct {
	warehouse.Store
	authors []warehouse.Author
}

func (s authorStore) Authors(context.Context) ([]warehouse.Author, error) { return s.authors, nil }

func TestAuthorsListsTheWarehouseAuthors(t *testing.T) {
	t.Parallel()
	st := startStack(t, Config{Store: authorStore{authors: []warehouse.Author{{ID: "a1", Name: "Ann", Revision: 3}, {ID: "b2", Name: "Bob"}}}}, nil)
	resp, body := st.do(t, http.MethodGet, "/v1/authors", "", "")
	want := `{"authors":[{"id":"a1","name":"Ann"},{"id":"b2","name":"Bob"}]}`
	if resp.StatusCode != http.StatusOK || compactJSON(t, body) != want {
		t.Fatalf("GET /v1/authors = %d %s, want 200 %s", resp.StatusCode, body, want)
	}

	bare := startStack(t, Config{}, nil)
	if resp, _ := bare.do(t, http.MethodGet, "/v1/authors", "", ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /v1/authors without a warehouse = %d, want 503", resp.StatusCode)
	}
}

func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %s", s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
