package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

func TestPrintTraceIsSafeForATerminal(t *testing.T) {
	t.Parallel()
	body := `{"trace_id":"t1","request_id":"r1","query":"why?\u001b[2J","steps":[
		{"name":"search","input":"why?","output":[{"document_id":"d1","title":"\u001b]0;pwned\u0007T"}],"latency_ms":3.25},
		{"name":"generate","input":"prompt","output":"` + strings.Repeat("long answer ", 100) + `","latency_ms":12,"tokens_in":40,"tokens_out":12,"model":"m"}],
		"events":[{"step":"guard_output","kind":"redaction","detail":"1 email"}],"total_ms":20}`
	rec := gateway.TraceDetail{TraceRecord: warehouse.TraceRecord{TraceID: "t1", RequestID: "r1", Author: "Ada", CreatedAt: time.Now(), Trace: json.RawMessage(body),
		Feedback: []warehouse.FeedbackRecord{{RequestID: "r1", Rating: -1, Comment: "meh\u001b[0m"}}},
		Judgments: []warehouse.JudgmentRecord{{ID: "j", DocumentID: "doc\u001b[1m-1", Grade: 1, RequestID: "r1"}}}
	tests := []struct {
		name    string
		width   int
		want    []string
		notWant []string
	}{
		{"cut", 300, []string{"question: why?\uFFFD[2J", "1. search (3.2 ms)", "40/12", "redaction", "down", "…", "sources judged:", "doc\uFFFD[1m-1  helpful"}, []string{"\x1b", "\a"}},
		{"full", 0, []string{strings.Repeat("long answer ", 99)}, []string{"\x1b", "…"}},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		printTrace(&out, rec, tt.width)
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: printTrace wrote\n%s\nwant it to contain %q", tt.name, out.String(), w)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(out.String(), w) {
				t.Errorf("%s: printTrace wrote %q", tt.name, w)
			}
		}
	}
}

func TestPrintTraceListSaysHowToGetTheNextPage(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	printTraceList(&out, gateway.TraceList{Traces: []gateway.TraceSummary{{TraceID: "t1", Query: "q", Steps: 3, Errors: 1, Rating: 1, Events: []string{"refusal"}}}, Next: "123:t1"})
	for _, want := range []string{"TIME", "3 (1 failed)", "up refusal", "t1", "more: twin traces ls --before 123:t1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printTraceList wrote\n%s\nwant %q", out.String(), want)
		}
	}
}
