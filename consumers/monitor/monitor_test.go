package monitor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/monitor"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

// fixture is a real embedded JetStream, a real SQLite warehouse and a
// monitor whose metrics share one registry with the runtime's.
type fixture struct {
	js    jetstream.JetStream
	store *countingStore
	reg   *prometheus.Registry
	rtm   *streams.Metrics
	mon   *monitor.Monitor
	pub   *streams.Publisher
}

func newFixture(t *testing.T, cfg monitor.Config) *fixture {
	t.Helper()
	f := &fixture{js: streamstest.Start(t), reg: prometheus.NewRegistry()}
	var err error
	sqlite, err := warehouse.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlite.Close() })
	f.store = &countingStore{SQLiteStore: sqlite}
	f.rtm = streams.NewMetrics(f.reg)
	cfg.Store, cfg.Judgments, cfg.Registerer, cfg.Log = f.store, f.store, f.reg, zerolog.Nop()
	if f.mon, err = monitor.New(cfg); err != nil {
		t.Fatalf("monitor.New: %v", err)
	}
	f.pub = streams.NewPublisher(f.js)
	return f
}

// countingStore is the real SQLite store, counting the batch writes of
// traces and how many traces they held.
type countingStore struct {
	*warehouse.SQLiteStore
	writes, traces atomic.Int64
}

func (s *countingStore) PutTraces(ctx context.Context, traces []warehouse.TraceRecord) ([]bool, error) {
	s.writes.Add(1)
	s.traces.Add(int64(len(traces)))
	return s.SQLiteStore.PutTraces(ctx, traces)
}

// run runs the trace and feedback handlers under their durable consumers
// with the real runtime until the test ends, traces in batches as twin
// runs them; retries come quickly.
func (f *fixture) run(t *testing.T, traces streams.BatchHandler, feedback streams.Handler) {
	t.Helper()
	rt := streams.NewRuntime(f.js, streamstest.Topology(), f.rtm, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	backoff := streams.Backoff(10*time.Millisecond, 50*time.Millisecond)
	wg.Go(func() {
		_ = rt.RunBatch(ctx, monitor.Consumer, traces, backoff, streams.Batch(256, 50*time.Millisecond))
	})
	wg.Go(func() { _ = rt.Run(ctx, monitor.FeedbackConsumer, feedback, backoff) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func (f *fixture) publish(t *testing.T, subject, msgID string, body schemas.Message) {
	t.Helper()
	if _, err := f.pub.Publish(t.Context(), streams.Out{Subject: subject, MsgID: msgID, Body: body}); err != nil {
		t.Fatalf("publish to %s: %v", subject, err)
	}
}

func (f *fixture) publishTrace(t *testing.T, tr *schemas.Trace) {
	t.Helper()
	f.publish(t, schemas.SubjectMonitorTraces, "trace:"+tr.TraceID, tr)
}

func (f *fixture) publishFeedback(t *testing.T, msgID string, fb *schemas.Feedback) {
	t.Helper()
	f.publish(t, schemas.FeedbackSubject(schemas.FeedbackRating), msgID, fb)
}

// handled is how many deliveries consumer settled with outcome (ack, retry,
// dead): once a message is acked, everything its handler did is done.
func (f *fixture) handled(t *testing.T, consumer, outcome string) float64 {
	t.Helper()
	return value(t, f.reg, "twin_consumer_messages_total", map[string]string{"consumer": consumer, "outcome": outcome})
}

// waitHandled waits until consumer settled n deliveries with outcome.
func (f *fixture) waitHandled(t *testing.T, consumer, outcome string, n float64) {
	t.Helper()
	testwait.Until(t, 20*time.Second, fmt.Sprintf("%v %s outcomes of %s", n, outcome, consumer), func() bool {
		return f.handled(t, consumer, outcome) >= n
	})
}

// sample is one series as gathered: a counter's value, or a histogram's
// sample count and sum.
type sample struct {
	value float64 // counter value, or histogram sample count
	sum   float64
}

// value is a counter's value, or a histogram's sample count, of the series
// of name with exactly labels; 0 when there is no such series.
func value(t testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	return series(t, reg, name, labels).value
}

// sum is a histogram's sample sum.
func sum(t testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	return series(t, reg, name, labels).sum
}

func series(t testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) sample {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
	next:
		for _, m := range fam.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; !ok || want != l.GetValue() {
					continue next
				}
			}
			if h := m.GetHistogram(); h != nil {
				return sample{value: float64(h.GetSampleCount()), sum: h.GetSampleSum()}
			}
			return sample{value: m.GetCounter().GetValue()}
		}
	}
	return sample{}
}

// chatTrace is the trace of one request, the way the rag worker writes it.
func chatTrace(id, request string) *schemas.Trace {
	return &schemas.Trace{
		TraceID: id, RequestID: request, Query: "what is a queue?", Author: "Ada Lovelace",
		Steps: []schemas.TraceStep{
			{Name: "guard_input", LatencyMS: 0.1},
			{Name: "self_query", LatencyMS: 30, Model: "small", TokensIn: 40, TokensOut: 8},
			{Name: "search", LatencyMS: 12.5, Output: json.RawMessage(`[{"document_id":"d1","score":0.9}]`)},
			{Name: "rerank", LatencyMS: 4, Model: "lexical", Error: "cross-encoder unavailable"},
			{Name: "prompt", LatencyMS: 0.2, TokensOut: 500},
			{Name: "generate", LatencyMS: 800, Model: "big", TokensIn: 520, TokensOut: 120},
			{Name: "guard_output", LatencyMS: 0.3},
		},
		Events: []schemas.TraceEvent{
			{Step: "guard_output", Kind: "redaction", Detail: "an email address"},
			{Step: "guard_output", Kind: "redaction", Detail: "a phone number"},
			{Step: "guard_input", Kind: "refusal"},
		},
		FirstTokenMS: 250, TotalMS: 1200,
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
}

func TestPublishedTraceIsStoredAndCounted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, monitor.Config{})
	f.run(t, f.mon, f.mon.FeedbackHandler())
	tr := chatTrace("trace-1", "req-1")
	f.publishTrace(t, tr)
	f.waitHandled(t, monitor.Consumer, "ack", 1)

	got, err := f.store.GetTrace(t.Context(), "trace-1")
	if err != nil {
		t.Fatalf("the published trace is not in the warehouse: %v", err)
	}
	if got.RequestID != "req-1" || got.Author != "Ada Lovelace" || !got.CreatedAt.Equal(tr.CreatedAt) {
		t.Errorf("stored %+v, want request req-1, author Ada Lovelace, created at %v", got, tr.CreatedAt)
	}
	var body schemas.Trace
	if err := schemas.Decode(got.Trace, &body); err != nil {
		t.Fatalf("the stored trace is not a valid trace: %v", err)
	}
	if len(body.Steps) != len(tr.Steps) || string(body.Steps[2].Output) != string(tr.Steps[2].Output) {
		t.Errorf("stored trace steps %+v, want the published ones %+v", body.Steps, tr.Steps)
	}

	type metric struct {
		name   string
		labels map[string]string
		value  float64 // counter value or histogram count
		sum    float64 // histogram sum, when not 0
	}
	for _, m := range []metric{
		{"twin_chat_step_seconds", map[string]string{"step": "search"}, 1, 0.0125},
		{"twin_chat_step_seconds", map[string]string{"step": "generate"}, 1, 0.8},
		{"twin_chat_first_token_seconds", nil, 1, 0.25},
		{"twin_chat_seconds", nil, 1, 1.2},
		{"twin_llm_tokens_total", map[string]string{"model": "small", "direction": "in"}, 40, 0},
		{"twin_llm_tokens_total", map[string]string{"model": "small", "direction": "out"}, 8, 0},
		{"twin_llm_tokens_total", map[string]string{"model": "big", "direction": "in"}, 520, 0},
		{"twin_llm_tokens_total", map[string]string{"model": "big", "direction": "out"}, 120, 0},
		{"twin_guardrail_events_total", map[string]string{"kind": "redaction"}, 2, 0},
		{"twin_guardrail_events_total", map[string]string{"kind": "refusal"}, 1, 0},
		{"twin_chat_step_errors_total", map[string]string{"step": "rerank"}, 1, 0},
		// The runtime's histogram holds the consumers alone.
		{"twin_stage_seconds", map[string]string{"stage": monitor.Consumer}, 1, 0},
		{"twin_stage_seconds", map[string]string{"stage": "search"}, 0, 0},
	} {
		if got := value(t, f.reg, m.name, m.labels); got != m.value {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.value)
		}
		if m.sum != 0 {
			if got := sum(t, f.reg, m.name, m.labels); got < m.sum*0.999 || got > m.sum*1.001 {
				t.Errorf("%s%v sum = %v, want %v", m.name, m.labels, got, m.sum)
			}
		}
	}
	// Tokens only of steps that called a model: the prompt's estimate and
	// the reranker's absent counts make no series.
	if n, err := testutil.GatherAndCount(f.reg, "twin_llm_tokens_total"); err != nil || n != 4 {
		t.Errorf("twin_llm_tokens_total has %d series (%v), want 4", n, err)
	}
	if n, err := testutil.GatherAndCount(f.reg, "twin_chat_step_errors_total"); err != nil || n != 1 {
		t.Errorf("twin_chat_step_errors_total has %d series (%v), want 1", n, err)
	}
}

func TestFeedbackBeforeAndAfterItsTraceIsJoined(t *testing.T) {
	t.Parallel()
	f := newFixture(t, monitor.Config{})
	f.run(t, f.mon, f.mon.FeedbackHandler())
	at := time.Now().UTC().Truncate(time.Millisecond)

	f.publishFeedback(t, "fb-1", &schemas.Feedback{RequestID: "req-1", Rating: schemas.RatingDown, Comment: "vague", CreatedAt: at})
	f.waitHandled(t, monitor.FeedbackConsumer, "ack", 1)
	f.publishTrace(t, chatTrace("trace-1", "req-1"))
	f.waitHandled(t, monitor.Consumer, "ack", 1)
	// No CreatedAt: the stream's time stands in for it.
	f.publishFeedback(t, "fb-2", &schemas.Feedback{RequestID: "req-1", Rating: schemas.RatingUp, TraceID: "trace-1"})
	f.waitHandled(t, monitor.FeedbackConsumer, "ack", 2)

	got, err := f.store.TraceByRequest(t.Context(), "req-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Feedback) != 2 {
		t.Fatalf("trace feedback = %+v, want the rating sent before the trace and the one after", got.Feedback)
	}
	if first := got.Feedback[0]; first.Rating != -1 || first.Comment != "vague" || !first.CreatedAt.Equal(at) {
		t.Errorf("first rating = %+v, want the early -1 'vague' at %v", first, at)
	}
	if second := got.Feedback[1]; second.Rating != 1 || second.TraceID != "trace-1" || second.CreatedAt.IsZero() {
		t.Errorf("second rating = %+v, want +1 on trace-1 with the stream's time", second)
	}
	for rating, want := range map[string]float64{"up": 1, "down": 1} {
		if got := value(t, f.reg, "twin_feedback_total", map[string]string{"rating": rating}); got != want {
			t.Errorf("twin_feedback_total{rating=%q} = %v, want %v", rating, got, want)
		}
	}
}

func TestInvalidBodiesGoToTheDLQ(t *testing.T) {
	t.Parallel()
	f := newFixture(t, monitor.Config{})
	f.run(t, f.mon, f.mon.FeedbackHandler())
	tests := []struct {
		name, subject, consumer, body string
	}{
		{"trace not JSON", schemas.SubjectMonitorTraces, monitor.Consumer, `{"trace_id":`},
		{"trace without id", schemas.SubjectMonitorTraces, monitor.Consumer, `{"request_id":"req-1","total_ms":3}`},
		{"step without name", schemas.SubjectMonitorTraces, monitor.Consumer, `{"trace_id":"t1","steps":[{"latency_ms":3}]}`},
		{"negative latency", schemas.SubjectMonitorTraces, monitor.Consumer, `{"trace_id":"t2","total_ms":-1}`},
		{"rating 0", schemas.FeedbackSubject(schemas.FeedbackRating), monitor.FeedbackConsumer, `{"request_id":"req-1","rating":0}`},
		{"feedback without request", schemas.FeedbackSubject(schemas.FeedbackRating), monitor.FeedbackConsumer, `{"rating":1}`},
	}
	want := map[string]int{}
	for _, tt := range tests {
		if _, err := f.js.Publish(t.Context(), tt.subject, []byte(tt.body)); err != nil {
			t.Fatalf("%s: publish: %v", tt.name, err)
		}
		want[tt.consumer]++
	}
	dlq := streams.NewDLQ(f.js)
	for consumer, n := range want {
		var letters []streams.DeadLetterEntry
		testwait.Until(t, 20*time.Second, fmt.Sprintf("%d dead letters of %s", n, consumer), func() bool {
			var err error
			letters, err = dlq.List(t.Context(), consumer)
			if err != nil {
				t.Fatal(err)
			}
			return len(letters) >= n
		})
		for _, l := range letters {
			if l.Letter.Reason != schemas.ReasonInvalid || l.Letter.Consumer != consumer {
				t.Errorf("dead letter %+v, want reason %q from %s", l.Letter, schemas.ReasonInvalid, consumer)
			}
		}
	}
	if list, err := f.store.ListTraces(t.Context(), warehouse.TraceListOptions{}); err != nil || len(list) != 0 {
		t.Errorf("ListTraces after invalid traces = %d traces, %v; want none", len(list), err)
	}
	if got := value(t, f.reg, "twin_feedback_total", map[string]string{"rating": "up"}); got != 0 {
		t.Errorf("an invalid rating was counted: twin_feedback_total{up} = %v", got)
	}
}

// TestTracesOfABatchAreStoredInOneWrite: traces waiting together are
// stored in a few writes (one commit, so one fsync, each), not one per
// trace, and an invalid body among them is dead-lettered alone while the
// others are stored and counted.
func TestTracesOfABatchAreStoredInOneWrite(t *testing.T) {
	t.Parallel()
	f := newFixture(t, monitor.Config{})
	const valid, invalidAt = 100, 50
	for i := range valid + 1 {
		if i == invalidAt {
			if _, err := f.js.Publish(t.Context(), schemas.SubjectMonitorTraces, []byte(`{"request_id":"no-trace-id"}`)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		f.publishTrace(t, chatTrace(fmt.Sprint("trace-", i), fmt.Sprint("req-", i)))
	}
	// Started once every trace waits, so that batches can fill.
	f.run(t, f.mon, f.mon.FeedbackHandler())
	f.waitHandled(t, monitor.Consumer, "ack", valid)
	f.waitHandled(t, monitor.Consumer, "dead", 1)

	if writes := f.store.writes.Load(); writes > valid/10 {
		t.Errorf("%d traces took %d writes, want at most %d: they are not batched", valid, writes, valid/10)
	}
	if n := f.store.traces.Load(); n != valid {
		t.Errorf("the writes held %d traces, want each of the %d valid ones once", n, valid)
	}
	list, err := f.store.ListTraces(t.Context(), warehouse.TraceListOptions{Limit: 2 * valid})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != valid {
		t.Errorf("warehouse holds %d traces, want %d", len(list), valid)
	}
	if got := value(t, f.reg, "twin_chat_seconds", nil); got != valid {
		t.Errorf("twin_chat_seconds counted %v traces, want %d", got, valid)
	}
	letters, err := streams.NewDLQ(f.js).List(t.Context(), monitor.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 1 || letters[0].Letter.Reason != schemas.ReasonInvalid {
		t.Errorf("dead letters = %+v, want the one invalid trace, reason %q", letters, schemas.ReasonInvalid)
	}
}

// lostAck handles a message fully and then fails its first delivery, as if
// the process had stopped before the ack: the runtime redelivers it.
func lostAck(h streams.Handler) streams.Handler {
	return streams.HandlerFunc(func(ctx context.Context, msg *streams.Msg) error {
		if err := h.Handle(ctx, msg); err != nil || msg.Delivered > 1 {
			return err
		}
		return errors.New("the ack was lost")
	})
}

// lostBatchAck is lostAck for a batch: each message handled fully fails
// its first delivery.
func lostBatchAck(h streams.BatchHandler) streams.BatchHandler {
	return streams.BatchHandlerFunc(func(ctx context.Context, msgs []*streams.Msg) error {
		err := h.HandleBatch(ctx, msgs)
		each := make(streams.BatchErrors, len(msgs))
		var got streams.BatchErrors
		if err != nil && !errors.As(err, &got) {
			return err
		}
		for i, msg := range msgs {
			switch {
			case i < len(got) && got[i] != nil:
				each[i] = got[i]
			case msg.Delivered == 1:
				each[i] = errors.New("the ack was lost")
			}
		}
		return each
	})
}

func TestRedeliveryNeitherDuplicatesNorCountsTwice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// send publishes one trace and one rating, possibly twice.
		send func(t *testing.T, f *fixture)
		// wrap and wrapBatch are the handlers under the runtime.
		wrap      func(streams.Handler) streams.Handler
		wrapBatch func(streams.BatchHandler) streams.BatchHandler
		// settled: deliveries acked per consumer once both copies are done.
		settled float64
	}{
		{"redelivered after a lost ack",
			func(t *testing.T, f *fixture) {
				f.publishTrace(t, chatTrace("trace-1", "req-1"))
				f.publishFeedback(t, "fb-1", &schemas.Feedback{RequestID: "req-1", Rating: schemas.RatingUp})
			},
			lostAck, lostBatchAck, 1},
		{"published twice past the dedup window",
			func(t *testing.T, f *fixture) {
				at := time.Now()
				for i := range 2 {
					f.publish(t, schemas.SubjectMonitorTraces, fmt.Sprint("copy-", i), chatTrace("trace-1", "req-1"))
					f.publishFeedback(t, fmt.Sprint("fb-copy-", i), &schemas.Feedback{RequestID: "req-1", Rating: schemas.RatingUp, CreatedAt: at})
				}
			},
			func(h streams.Handler) streams.Handler { return h },
			func(h streams.BatchHandler) streams.BatchHandler { return h }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, monitor.Config{})
			f.run(t, tt.wrapBatch(f.mon), tt.wrap(f.mon.FeedbackHandler()))
			tt.send(t, f)
			f.waitHandled(t, monitor.Consumer, "ack", tt.settled)
			f.waitHandled(t, monitor.FeedbackConsumer, "ack", tt.settled)

			list, err := f.store.ListTraces(t.Context(), warehouse.TraceListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || len(list[0].Feedback) != 1 {
				t.Fatalf("warehouse holds %d traces (%+v), want one trace with one rating", len(list), list)
			}
			for _, m := range []struct {
				name   string
				labels map[string]string
			}{
				{"twin_chat_seconds", nil},
				{"twin_chat_step_seconds", map[string]string{"step": "generate"}},
				{"twin_feedback_total", map[string]string{"rating": "up"}},
			} {
				if got := value(t, f.reg, m.name, m.labels); got != 1 {
					t.Errorf("%s%v = %v after two deliveries, want 1", m.name, m.labels, got)
				}
			}
			if got := value(t, f.reg, "twin_llm_tokens_total", map[string]string{"model": "big", "direction": "out"}); got != 120 {
				t.Errorf("twin_llm_tokens_total{big,out} = %v after two deliveries, want 120", got)
			}
		})
	}
}

func TestSweepExpiresOldTraces(t *testing.T) {
	t.Parallel()
	f := newFixture(t, monitor.Config{Retention: 30 * 24 * time.Hour, SweepInterval: 20 * time.Millisecond})
	put := func(id string, at time.Time) {
		t.Helper()
		body, _ := json.Marshal(chatTrace(id, "req-"+id))
		if _, err := f.store.PutTraces(t.Context(), []warehouse.TraceRecord{{TraceID: id, RequestID: "req-" + id, CreatedAt: at, Trace: body}}); err != nil {
			t.Fatal(err)
		}
	}
	put("old", time.Now().Add(-31*24*time.Hour))
	put("recent", time.Now().Add(-29*24*time.Hour))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.mon.Sweep(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The counter moves after the store committed: waiting on it, the
	// store's state is settled too.
	expired := func(n float64) func() bool {
		return func() bool { return value(t, f.reg, "twin_traces_expired_total", nil) >= n }
	}
	testwait.Until(t, 20*time.Second, "the sweep to expire the old trace", expired(1))
	if _, err := f.store.GetTrace(t.Context(), "old"); !errors.Is(err, warehouse.ErrNotFound) {
		t.Errorf("GetTrace(old) after the sweep = %v, want ErrNotFound", err)
	}
	if _, err := f.store.GetTrace(t.Context(), "recent"); err != nil {
		t.Errorf("a trace inside the retention was expired: %v", err)
	}
	// A trace that gets old while the sweep runs goes at a later tick.
	put("later", time.Now().Add(-40*24*time.Hour))
	testwait.Until(t, 20*time.Second, "a later tick to expire a trace written after the first sweep", expired(2))
	if _, err := f.store.GetTrace(t.Context(), "later"); !errors.Is(err, warehouse.ErrNotFound) {
		t.Errorf("GetTrace(later) after the second sweep = %v, want ErrNotFound", err)
	}
	if got := value(t, f.reg, "twin_traces_expired_total", nil); got != 2 {
		t.Errorf("twin_traces_expired_total = %v, want 2", got)
	}
}

func TestNewSharesMetricsOnOneRegistry(t *testing.T) {
	t.Parallel()
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "twin_chat_seconds", Help: "something else"}, []string{"x"}))
	tests := []struct {
		name    string
		reg     func() prometheus.Registerer
		wantErr bool
	}{
		{"no registry", func() prometheus.Registerer { return nil }, false},
		{"after the runtime's metrics", func() prometheus.Registerer {
			reg := prometheus.NewRegistry()
			streams.NewMetrics(reg)
			return reg
		}, false},
		{"beside another monitor", func() prometheus.Registerer {
			reg := prometheus.NewRegistry()
			streams.NewMetrics(reg)
			if _, err := monitor.New(monitor.Config{Store: nopStore{}, Registerer: reg}); err != nil {
				t.Fatal(err)
			}
			return reg
		}, false},
		{"a metric of the same name and another shape", func() prometheus.Registerer { return clash }, true},
	}
	for _, tt := range tests {
		_, err := monitor.New(monitor.Config{Store: nopStore{}, Registerer: tt.reg()})
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: New error = %v, want error %v", tt.name, err, tt.wantErr)
		}
	}
	if _, err := monitor.New(monitor.Config{}); err == nil {
		t.Error("New without a store: no error")
	}
}

type nopStore struct{}

func (nopStore) PutTraces(_ context.Context, traces []warehouse.TraceRecord) ([]bool, error) {
	created := make([]bool, len(traces))
	for i := range created {
		created[i] = true
	}
	return created, nil
}
func (nopStore) AddFeedback(context.Context, warehouse.FeedbackRecord) (bool, error) {
	return true, nil
}
func (nopStore) ExpireTraces(context.Context, time.Time) (int64, error) { return 0, nil }
