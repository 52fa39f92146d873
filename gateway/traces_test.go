package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
)

func TestTracesAPIListsPagesAndShowsTraces(t *testing.T) {
	t.Parallel()
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var recs []warehouse.TraceRecord
	// Seven traces; t3, t4 and t5 share one millisecond, so a page can end
	// inside it.
	at := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 4 * time.Second}
	for i, d := range at {
		rec := storedTrace(fmt.Sprint("t", i), fmt.Sprint("r", i), fmt.Sprint("question ", i), base.Add(d), "doc-1")
		if i%2 == 1 {
			rec.Author = "Grace"
		}
		recs = append(recs, rec)
	}
	store := openTraceStore(t, recs...)
	for _, fb := range []warehouse.FeedbackRecord{
		{RequestID: "r6", Rating: -1, Comment: "too vague", CreatedAt: base.Add(time.Minute)},
		{RequestID: "r6", Rating: 1, CreatedAt: base.Add(2 * time.Minute)},
	} {
		if _, err := store.AddFeedback(t.Context(), fb); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.PutJudgments(t.Context(), []warehouse.JudgmentRecord{
		{ID: "j1", Query: "question 6", DocumentID: "doc-1", Grade: 1, Source: "user", RequestID: "r6", CreatedAt: base.Add(time.Minute)},
		{ID: "j2", Query: "question 5", DocumentID: "doc-1", Grade: 0, Source: "user", RequestID: "r5"},
	}); err != nil {
		t.Fatal(err)
	}
	st := startStack(t, Config{TraceStore: store, Judgments: store}, nil)

	list := func(q url.Values) TraceList {
		t.Helper()
		resp, body := st.do(t, http.MethodGet, "/v1/traces?"+q.Encode(), "", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/traces?%s = %d %s", q.Encode(), resp.StatusCode, body)
		}
		var l TraceList
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	ids := func(l TraceList) []string {
		out := []string{}
		for _, s := range l.Traces {
			out = append(out, s.TraceID)
		}
		return out
	}

	// Paging by two walks every trace once, newest first, ties included.
	var walked []string
	q := url.Values{"limit": {"2"}}
	for range 10 {
		page := list(q)
		walked = append(walked, ids(page)...)
		if page.Next == "" {
			break
		}
		q.Set("before", page.Next)
	}
	if want := []string{"t6", "t5", "t4", "t3", "t2", "t1", "t0"}; !reflect.DeepEqual(walked, want) {
		t.Errorf("paging by 2 = %v, want %v", walked, want)
	}
	if got := ids(list(url.Values{"author": {" grace "}})); !reflect.DeepEqual(got, []string{"t5", "t3", "t1"}) {
		t.Errorf("author filter = %v, want t5 t3 t1", got)
	}
	first := list(url.Values{"limit": {"1"}}).Traces[0]
	want := TraceSummary{TraceID: "t6", RequestID: "r6", Author: "Ada", CreatedAt: base.Add(4 * time.Second), Query: "question 6",
		Steps: 3, TotalMS: 14, Rating: 1, Ratings: 2}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("summary =\n%+v\nwant\n%+v", first, want)
	}

	// One trace, by trace id or request id, with its ratings.
	for _, id := range []string{"t6", "r6"} {
		resp, body := st.do(t, http.MethodGet, "/v1/traces/"+id, "", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/traces/%s = %d %s", id, resp.StatusCode, body)
		}
		var rec TraceDetail
		if err := json.Unmarshal([]byte(body), &rec); err != nil {
			t.Fatal(err)
		}
		if len(rec.Judgments) != 1 || rec.Judgments[0].ID != "j1" || rec.Judgments[0].DocumentID != "doc-1" {
			t.Errorf("GET /v1/traces/%s judgments = %+v, want the one judgment of request r6", id, rec.Judgments)
		}
		var tr schemas.Trace
		if err := json.Unmarshal(rec.Trace, &tr); err != nil || rec.TraceID != "t6" || len(tr.Steps) != 3 || tr.Steps[1].Name != "rerank" {
			t.Errorf("GET /v1/traces/%s = %s, want trace t6 with its three steps", id, body)
		}
		if len(rec.Feedback) != 2 || rec.Feedback[0].Comment != "too vague" {
			t.Errorf("GET /v1/traces/%s feedback = %+v, want both ratings, oldest first", id, rec.Feedback)
		}
	}

	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/v1/traces/nothing-here", http.StatusNotFound},
		{"/v1/traces?limit=0", http.StatusBadRequest},
		{"/v1/traces?limit=101", http.StatusBadRequest},
		{"/v1/traces?limit=x", http.StatusBadRequest},
		{"/v1/traces?before=yesterday", http.StatusBadRequest},
		{"/v1/traces?before=12:", http.StatusBadRequest},
	} {
		if resp, body := st.do(t, http.MethodGet, tc.path, "", ""); resp.StatusCode != tc.status {
			t.Errorf("GET %s = %d %s, want %d", tc.path, resp.StatusCode, body, tc.status)
		}
	}
}

func TestTracesAPIWithoutAStoreIs503(t *testing.T) {
	t.Parallel()
	st := startStack(t, Config{}, nil)
	for _, p := range []string{"/v1/traces", "/v1/traces/t1"} {
		if resp, _ := st.do(t, http.MethodGet, p, "", ""); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("GET %s without a trace store = %d, want 503", p, resp.StatusCode)
		}
	}
}

func TestSummarizeTraceCountsFailedStepsAndEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want TraceSummary
	}{
		{"refused", `{"trace_id":"t","query":"q","steps":[{"name":"guard_input"}],"events":[{"kind":"refusal"},{"kind":"refusal"}],"total_ms":2}`,
			TraceSummary{TraceID: "t", Query: "q", Steps: 1, Events: []string{"refusal"}, TotalMS: 2}},
		{"a step failed", `{"trace_id":"t","steps":[{"name":"search","error":"down"},{"name":"rerank"},{"name":"generate","error":"x"}]}`,
			TraceSummary{TraceID: "t", Steps: 3, Errors: 2}},
		{"not a trace", `[1,2]`, TraceSummary{TraceID: "t"}},
	}
	for _, tt := range tests {
		got := SummarizeTrace(warehouse.TraceRecord{TraceID: "t", Trace: json.RawMessage(tt.body)})
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: summary %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
