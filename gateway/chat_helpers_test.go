package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

// stack is a gateway serving on loopback over a real embedded JetStream,
// with a responder playing the rag worker.
type stack struct {
	js   jetstream.JetStream
	pub  *streams.Publisher
	g    *Gateway
	reg  *prometheus.Registry
	base string // http://127.0.0.1:port
	// asked counts the requests the responder received.
	asked atomic.Int64
}

// answerFunc is the responder's behaviour for one request.
type answerFunc func(ctx context.Context, req schemas.ChatRequest, w *replyWriter)

// echoAnswer answers "twin answers <query>" one word per token.
func echoAnswer(_ context.Context, req schemas.ChatRequest, w *replyWriter) {
	for _, word := range strings.Fields("twin answers " + req.Query) {
		w.token(word + " ")
	}
	w.done()
}

// echoText is what echoAnswer streams for query.
func echoText(query string) string {
	var b strings.Builder
	for _, word := range strings.Fields("twin answers " + query) {
		b.WriteString(word + " ")
	}
	return b.String()
}

// testChat is the chat config of tests: the rate limits are off unless a
// test turns them on, so that they do not interfere.
func testChat(c ChatConfig) ChatConfig {
	if c.AskRate == 0 {
		c.AskRate = -1
	}
	if c.IPAskRate == 0 {
		c.IPAskRate = -1
	}
	return c
}

// startStack starts a gateway with cfg (JS, Publisher and Metrics filled
// in) and a responder answering with answer (echoAnswer when nil). Each
// setup runs on the gateway before it serves.
func startStack(t *testing.T, cfg Config, answer answerFunc, setup ...func(*Gateway)) *stack {
	t.Helper()
	js := streamstest.Start(t)
	st := &stack{js: js, pub: streams.NewPublisher(js), reg: prometheus.NewRegistry()}
	cfg.JS, cfg.Publisher, cfg.Metrics = js, st.pub, st.reg
	cfg.Log = zerolog.Nop()
	cfg.Chat = testChat(cfg.Chat)
	st.g = New(cfg)
	for _, f := range setup {
		f(st.g)
	}
	hs := httpserver.New(st.reg, zerolog.Nop())
	st.g.Register(hs)
	addr, err := hs.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st.base = "http://" + addr.String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = st.g.Shutdown(ctx)
		_ = hs.Shutdown(ctx)
	})
	if answer == nil {
		answer = echoAnswer
	}
	st.respond(t, answer)
	return st
}

// respond consumes CHAT_REQUESTS with the rag worker's durable consumer
// and answers each request on a goroutine of its own, as the rag worker
// will.
func (st *stack) respond(t *testing.T, answer answerFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cons, err := st.js.Consumer(ctx, streams.StreamChatRequests, streams.ConsumerRag)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var req schemas.ChatRequest
		if err := schemas.Decode(m.Data(), &req); err != nil {
			t.Errorf("the gateway published an invalid chat request %s: %v", m.Data(), err)
			_ = m.Term()
			return
		}
		_ = m.Ack()
		st.asked.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			answer(ctx, req, &replyWriter{t: t, ctx: ctx, pub: st.pub, id: req.ID, query: req.Query})
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Stop()
		cancel()
		wg.Wait()
	})
}

// replyWriter publishes one request's reply as the rag worker does:
// tokens with seq from 1 then a done, with Nats-Msg-Id "reply:<id>:<seq>".
type replyWriter struct {
	t   *testing.T
	ctx context.Context
	pub *streams.Publisher
	id  string
	// query is the request's, named by the done as the rag worker does.
	query string
	seq   int
	text  strings.Builder
}

func (w *replyWriter) publish(msgID string, body schemas.Message) {
	if _, err := w.pub.Publish(w.ctx, streams.Out{Subject: schemas.ChatReplies(w.id), MsgID: msgID, Body: body}); err != nil && w.ctx.Err() == nil {
		w.t.Errorf("publish reply of %s: %v", w.id, err)
	}
}

func (w *replyWriter) token(text string) {
	w.seq++
	w.text.WriteString(text)
	w.publish("reply:"+w.id+":"+strconv.Itoa(w.seq), schemas.ReplyToken{Type: schemas.ReplyTypeToken, ID: w.id, Seq: w.seq, Text: text})
}

func (w *replyWriter) done() {
	w.publish("reply:"+w.id+":done", schemas.ReplyDone{Type: schemas.ReplyTypeDone, ID: w.id, Query: w.query, Answer: w.text.String(),
		Sources: []schemas.Source{{DocumentID: "doc-1", Title: "A source"}}, TraceID: "trace-" + w.id})
}

func (w *replyWriter) fail(code, msg string) {
	w.publish("reply:"+w.id+":done", schemas.ReplyDone{Type: schemas.ReplyTypeDone, ID: w.id, TraceID: "trace-" + w.id,
		Error: &schemas.ReplyError{Code: code, Message: msg}})
}

// wsURL is the chat endpoint of st, with an optional query.
func (st *stack) wsURL(query string) string {
	u := "ws" + strings.TrimPrefix(st.base, "http") + "/v1/chat"
	if query != "" {
		u += "?" + query
	}
	return u
}

// dial opens a chat connection, closed when the test ends.
func (st *stack) dial(t *testing.T, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, st.wsURL(""), opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", st.wsURL(""), err, status)
	}
	c.SetReadLimit(4 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// send writes one client frame.
func send(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	sendRaw(t, c, data)
}

func sendRaw(t *testing.T, c *websocket.Conn, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, data); err != nil {
		t.Fatalf("write %s: %v", data, err)
	}
}

// next reads one server frame.
func next(t *testing.T, c *websocket.Conn) ServerMessage {
	t.Helper()
	m, err := tryNext(c, 20*time.Second)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

func tryNext(c *websocket.Conn, timeout time.Duration) (ServerMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		return ServerMessage{}, err
	}
	var m ServerMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return ServerMessage{}, errors.New("frame is not JSON: " + string(data))
	}
	return m, nil
}

// collect reads the frames of request id until its done or error; frames
// of other requests are skipped.
func collect(t *testing.T, c *websocket.Conn, id string) (tokens []ServerMessage, end ServerMessage) {
	t.Helper()
	for {
		m := next(t, c)
		if m.ID != id {
			continue
		}
		switch m.Type {
		case MsgToken:
			tokens = append(tokens, m)
		case MsgDone, MsgError:
			return tokens, m
		}
	}
}

// text joins the tokens' text.
func text(tokens []ServerMessage) string {
	var b strings.Builder
	for _, tk := range tokens {
		b.WriteString(tk.Text)
	}
	return b.String()
}

// refused reads twin_gateway_refused_total{reason}.
func (st *stack) refused(reason string) float64 {
	return testutil.ToFloat64(st.g.metrics.refused.WithLabelValues(reason))
}

// do sends an HTTP request to st with an optional bearer token.
func (st *stack) do(t *testing.T, method, path, token, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, st.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(data)
}
