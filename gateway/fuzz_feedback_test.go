package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

// FuzzFeedbackBody sends arbitrary bodies to POST /v1/feedback on a real
// stack where request r1 is answered (its done in CHAT_REPLIES cites doc-1)
// and request old has a stored trace: the answer is always a 202 or a 4xx
// with a JSON error, never a 5xx or a panic.
func FuzzFeedbackBody(f *testing.F) {
	js := streamstest.Start(f)
	pub := streams.NewPublisher(js)
	if _, err := pub.Publish(f.Context(), streams.Out{Subject: schemas.ChatReplies("r1"), Body: schemas.ReplyDone{
		Type: schemas.ReplyTypeDone, ID: "r1", Query: "what is a stream?", Answer: "a log",
		Sources: []schemas.Source{{DocumentID: "doc-1"}}, TraceID: "trace-r1"}}); err != nil {
		f.Fatal(err)
	}
	traces := openTraceStore(f, storedTrace("trace-old", "old", "how?", time.Now(), "doc-9"))
	hs := httpserver.New(nil, zerolog.Nop())
	New(Config{JS: js, Publisher: pub, Log: zerolog.Nop(), TraceStore: traces, Auth: AuthConfig{AllowOpen: true}}).Register(hs)
	handler := hs.Handler()
	for _, seed := range []string{
		`{"request_id":"r1","rating":1}`, `{"request_id":"r1","document_id":"doc-1","helpful":true}`,
		`{"request_id":"old","document_id":"doc-9","helpful":false,"query":"q"}`, `{"request_id":"r1","document_id":"doc-2","helpful":true}`,
		`{"request_id":"r1","document_id":"doc-1"}`, `{"request_id":"r1","helpful":true}`, `{"request_id":"r1","document_id":"doc-1","helpful":1}`,
		`{"request_id":"r1","document_id":"` + strings.Repeat("d", 600) + `","helpful":true}`, `{}`, `null`, "\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/feedback", strings.NewReader(body)))
		if rec.Code != http.StatusAccepted && (rec.Code < 400 || rec.Code >= 500) {
			t.Fatalf("POST %q = %d %s", body, rec.Code, rec.Body)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("POST %q answered %q", body, rec.Header().Get("Content-Type"))
		}
	})
}

// FuzzTracesQuery sends arbitrary query strings to GET /v1/traces: the
// answer is a 200 or a 400, never a 5xx or a panic.
func FuzzTracesQuery(f *testing.F) {
	traces := openTraceStore(f, storedTrace("t1", "r1", "q", time.Now(), "doc-1"), storedTrace("t2", "r2", "q", time.Now(), "doc-1"))
	hs := httpserver.New(nil, zerolog.Nop())
	New(Config{Log: zerolog.Nop(), TraceStore: traces, Auth: AuthConfig{AllowOpen: true}}).Register(hs)
	handler := hs.Handler()
	for _, seed := range []string{"", "limit=1", "limit=0", "limit=101", "before=1:t", "before=99999999999999999999:t",
		"before=-5:x", "author=Ada&limit=1&before=1748779203000:t-2", "before=%ff:%00", "limit=1&limit=2"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/v1/traces", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("GET /v1/traces?%s = %d %s", query, rec.Code, rec.Body)
		}
		if c, ok := parseTraceCursor(req.URL.Query().Get("before")); ok {
			if back, ok := parseTraceCursor(c.String()); !ok || back != c {
				t.Fatalf("cursor %+v does not round-trip: %+v", c, back)
			}
		}
	})
}
