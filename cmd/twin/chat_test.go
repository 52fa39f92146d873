package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/browsertest"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

const chatToken = "e2e-token-0123456789"

// chatSystem is a running twin with auth on and the TIL posts searchable.
func chatSystem(t *testing.T) (*upProcess, string) {
	t.Helper()
	dir := t.TempDir()
	p := startUp(t, dir, "--auth-token", chatToken)
	if out, err := p.twin(t, "import", "../../testdata/simonw-til/til-sample.jsonl", "--author", "Simon Willison",
		"--kind", "post", "--wait", "--token", chatToken); err != nil || !strings.Contains(out, "searchable") {
		t.Fatalf("import: %q %v", out, err)
	}
	return p, dir
}

func dialChat(t *testing.T, p *upProcess, token string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.http, "http")+"/v1/chat", &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

// readReply reads frames of request id until its done, or stop tokens.
func readReply(t *testing.T, c *websocket.Conn, id string, stop int) (tokens []gateway.ServerMessage, done *gateway.ServerMessage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for stop <= 0 || len(tokens) < stop {
		var f gateway.ServerMessage
		if err := wsjson.Read(ctx, c, &f); err != nil {
			t.Fatalf("read: %v (after %d tokens)", err, len(tokens))
		}
		if f.ID != id {
			continue
		}
		switch f.Type {
		case gateway.MsgToken:
			tokens = append(tokens, f)
		case gateway.MsgDone:
			return tokens, &f
		case gateway.MsgError:
			t.Fatalf("error frame: %+v", f)
		}
	}
	return tokens, nil
}

func TestChatEndToEnd(t *testing.T) {
	t.Parallel()
	p, dir := chatSystem(t)
	ctx := context.Background()

	// Auth is on: no token, no chat.
	if _, resp, err := dialChat(t, p, ""); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial without a token: %v %v", resp, err)
	}
	c, _, err := dialChat(t, p, chatToken)
	if err != nil {
		t.Fatal(err)
	}

	// An ask streams tokens in order, then a done whose sources come from
	// the right post.
	q := "How do I avoid length errors in Apache Bench?"
	if err := wsjson.Write(ctx, c, gateway.ClientMessage{Type: gateway.MsgAsk, ID: "e2e1", Query: q}); err != nil {
		t.Fatal(err)
	}
	tokens, done := readReply(t, c, "e2e1", 0)
	var text strings.Builder
	for i, tok := range tokens {
		if tok.Seq != i+1 {
			t.Fatalf("token %d has seq %d", i, tok.Seq)
		}
		text.WriteString(tok.Text)
	}
	if done == nil || done.Answer != text.String() || len(tokens) < 5 || done.TraceID == "" {
		t.Fatalf("done %+v after %d tokens %q", done, len(tokens), text.String())
	}
	if len(done.Sources) == 0 || done.Sources[0].DocumentID != "ab/apache-bench-length-errors" ||
		done.Sources[0].Link != "https://til.simonwillison.net/ab/apache-bench-length-errors" {
		t.Fatalf("sources %+v", done.Sources)
	}

	// A resume after a dropped connection loses and repeats nothing.
	if err := wsjson.Write(ctx, c, gateway.ClientMessage{Type: gateway.MsgAsk, ID: "e2e2", Query: q}); err != nil {
		t.Fatal(err)
	}
	first, _ := readReply(t, c, "e2e2", 3)
	c.CloseNow()
	c2, _, err := dialChat(t, p, chatToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := wsjson.Write(ctx, c2, gateway.ClientMessage{Type: gateway.MsgResume, ID: "e2e2", After: 3}); err != nil {
		t.Fatal(err)
	}
	rest, done2 := readReply(t, c2, "e2e2", 0)
	var resumed strings.Builder
	for i, tok := range append(first, rest...) {
		if tok.Seq != i+1 {
			t.Fatalf("after the resume, token %d has seq %d", i, tok.Seq)
		}
		resumed.WriteString(tok.Text)
	}
	if done2 == nil || resumed.String() != done2.Answer {
		t.Fatalf("resumed text %q, answer %+v", resumed.String(), done2)
	}

	// Feedback over the socket reaches twin.feedback.> and its trace.
	if err := wsjson.Write(ctx, c2, gateway.ClientMessage{Type: gateway.MsgFeedback, ID: "e2e1", Rating: 1, Comment: "spot on"}); err != nil {
		t.Fatal(err)
	}
	js := natsOf(t, p)
	fb := lastMessage[schemas.Feedback](t, js, streams.StreamFeedback, schemas.SubjectFeedbackAll)
	if fb.RequestID != "e2e1" || fb.Rating != 1 || fb.TraceID != done.TraceID {
		t.Fatalf("feedback %+v", fb)
	}

	// The trace has every step, and the monitor stored it with the rating.
	tr := lastMessage[schemas.Trace](t, js, streams.StreamMonitor, schemas.SubjectMonitorTraces)
	var steps []string
	for _, s := range tr.Steps {
		steps = append(steps, s.Name)
	}
	if got := strings.Join(steps, ","); got != "guard_input,self_query,expand,search,rerank,prompt,generate,guard_output" {
		t.Fatalf("trace steps %s", got)
	}
	store, err := warehouse.OpenSQLite(ctx, filepath.Join(dir, "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var rec warehouse.TraceRecord
	testwait.Until(t, 10*time.Second, "the trace with its feedback in the warehouse", func() bool {
		rec, err = store.TraceByRequest(ctx, "e2e1")
		return err == nil && len(rec.Feedback) == 1
	})
	if rec.TraceID != done.TraceID || rec.Feedback[0].Comment != "spot on" {
		t.Fatalf("stored trace %+v", rec)
	}

	// twin traces reads it back for people, and as JSON.
	out, err := p.twin(t, "traces", "ls", "--token", chatToken)
	if err != nil || !strings.Contains(out, done.TraceID) || !strings.Contains(out, q) {
		t.Fatalf("twin traces ls: %q %v, want trace %s of %q", out, err, done.TraceID, q)
	}
	out, err = p.twin(t, "traces", "show", "e2e1", "--token", chatToken)
	for _, want := range []string{"trace " + done.TraceID, "question: " + q, "rerank", "generate", "up  \"spot on\""} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("twin traces show e2e1: %q %v, want it to say %q", out, err, want)
		}
	}
	out, err = p.twin(t, "traces", "show", done.TraceID, "--json", "--token", chatToken)
	var shown warehouse.TraceRecord
	if err != nil || json.Unmarshal([]byte(out), &shown) != nil || shown.TraceID != done.TraceID || len(shown.Feedback) != 1 {
		t.Fatalf("twin traces show --json: %q %v", out, err)
	}

	// twin chat streams an answer and lists its sources.
	out, err = p.twin(t, "chat", "--token", chatToken, "What did Simon learn about Apache Bench length errors?")
	if err != nil || !strings.Contains(out, "Sources:") || !strings.Contains(out, "ab/apache-bench-length-errors") {
		t.Fatalf("twin chat: %q %v", out, err)
	}
}

// natsOf connects to the NATS server of p for the rest of the test.
func natsOf(t *testing.T, p *upProcess) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(p.connect(t))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// lastMessage is the newest message of subject in stream, decoded.
func lastMessage[T any, P interface {
	*T
	schemas.Message
}](t *testing.T, js jetstream.JetStream, stream, subject string) T {
	t.Helper()
	var v T
	testwait.Until(t, 10*time.Second, "a message on "+subject+" in "+stream, func() bool {
		s, err := js.Stream(context.Background(), stream)
		if err != nil {
			return false
		}
		m, err := s.GetLastMsgForSubject(context.Background(), subject)
		return err == nil && schemas.Decode(m.Data, P(&v)) == nil
	})
	return v
}

// TestWebPageInChromium drives the real page against the real system:
// ask, see the answer stream in with its sources, rate it.
func TestWebPageInChromium(t *testing.T) {
	t.Parallel()
	p, dir := chatSystem(t)
	tab := browsertest.Start(t, 90*time.Second)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	err := chromedp.Do(tab,
		chromedp.Navigate(p.http+"/?access_token="+chatToken),
		chromedp.WaitVisible(css("#question")),
		chromedp.SendKeys(css("#question"), "How do I avoid length errors in Apache Bench?"),
		chromedp.Click(css("#send")),
		chromedp.WaitVisible(css(".answer .sources a")),
	)
	if err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(tab, chromedp.Text(css(".answer .text")))
	if err != nil {
		t.Fatal(err)
	}
	href, err := chromedp.Run(tab, chromedp.AttributeValue(css(".answer .sources a"), "href"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Apache Bench") || href.Value != "https://til.simonwillison.net/ab/apache-bench-length-errors" {
		t.Fatalf("answer %q, first source %+v", text, href)
	}
	if err := chromedp.Do(tab, chromedp.Click(css(".answer .rate-down")), chromedp.WaitVisible(css(".answer .rated"))); err != nil {
		t.Fatal(err)
	}
	js := natsOf(t, p)
	fb := lastMessage[schemas.Feedback](t, js, streams.StreamFeedback, schemas.SubjectFeedbackAll)
	if fb.Rating != -1 || fb.TraceID == "" {
		t.Fatalf("feedback from the page: %+v", fb)
	}

	// The first source judged helpful becomes a judgment of the question
	// and that document, which the monitor stores.
	if err := chromedp.Do(tab, chromedp.Click(css(".answer .sources li:first-child .judge-yes")),
		chromedp.WaitVisible(css(".answer .sources li:first-child .judged"))); err != nil {
		t.Fatal(err)
	}
	j := lastMessage[schemas.Judgment](t, js, streams.StreamFeedback, schemas.FeedbackSubject(schemas.FeedbackRelevance))
	if j.Query != "How do I avoid length errors in Apache Bench?" || j.Grade != schemas.GradeRelevant || j.Source != schemas.JudgmentUser ||
		j.TraceID != fb.TraceID || j.DocumentID == "" {
		t.Fatalf("judgment from the page: %+v", j)
	}
	store, err := warehouse.OpenSQLite(t.Context(), filepath.Join(dir, "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	testwait.Until(t, 10*time.Second, "the judgment in the warehouse", func() bool {
		got, err := store.ListJudgments(t.Context(), warehouse.JudgmentListOptions{})
		return err == nil && len(got) == 1 && got[0].ID == j.ID && got[0].DocumentID == j.DocumentID
	})

	// The answer's link leads to its trace on the traces page: every step,
	// the rating and the judgment just given.
	err = chromedp.Do(tab,
		chromedp.Click(css(".answer .trace-link")),
		chromedp.WaitVisible(css("#detail .step")),
		chromedp.WaitVisible(css("#detail .feedback")),
	)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('#detail .step').length`))
	if err != nil {
		t.Fatal(err)
	}
	detail, err := chromedp.Run(tab, chromedp.Text(css("#detail")))
	if err != nil {
		t.Fatal(err)
	}
	if steps != 8 || !strings.Contains(detail, "rated down") || !strings.Contains(detail, "helpful "+j.DocumentID) ||
		!strings.Contains(detail, "How do I avoid length errors in Apache Bench?") {
		t.Fatalf("the traces page shows %d steps and %q", steps, detail)
	}
}
