package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
)

func TestAcksOnlyAfterHandlerSucceeds(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 5)))
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	e.run(t, "work", HandlerFunc(func(ctx context.Context, m *Msg) error {
		entered <- struct{}{}
		<-release
		return nil
	}))
	e.publishRaw(t, "testq.a", "", body(1))
	<-entered
	if info := e.consumerInfo(t, "TESTQ", "work"); info.NumAckPending != 1 {
		t.Fatalf("while the handler runs: ack pending = %d, want 1", info.NumAckPending)
	}
	if n := e.streamMsgs(t, "TESTQ"); n != 1 {
		t.Fatalf("while the handler runs: work queue holds %d, want 1", n)
	}
	close(release)
	testwait.Until(t, 5*time.Second, "the ack to remove the message from the work queue", func() bool {
		return e.streamMsgs(t, "TESTQ") == 0
	})
	if got := testutil.ToFloat64(e.rt.metrics.handled.WithLabelValues("work", outcomeAck)); got != 1 {
		t.Errorf("acked counter = %v, want 1", got)
	}
}

func TestRedeliversWhenHandlerFails(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 5)))
	rec := newRecorder(func(call int, _ *Msg) error {
		if call < 3 {
			return errors.New("transient")
		}
		return nil
	})
	e.run(t, "work", rec)
	e.publishRaw(t, "testq.a", "", body(1))
	for want := uint64(1); want <= 3; want++ {
		if m := rec.next(t, 5*time.Second); m.Delivered != want {
			t.Fatalf("delivery %d has Delivered=%d", want, m.Delivered)
		}
	}
	testwait.Until(t, 5*time.Second, "the third delivery to be acked", func() bool { return e.streamMsgs(t, "TESTQ") == 0 })
	rec.none(t, 100*time.Millisecond)
	if n := e.streamMsgs(t, StreamDLQ); n != 0 {
		t.Fatalf("DLQ holds %d, want 0", n)
	}
}

func TestBackoffGrowsWithDeliveries(t *testing.T) {
	t.Parallel()
	c := &consumerRun{opts: Options{BackoffBase: time.Second, BackoffMax: 10 * time.Second}}
	for delivered, want := range map[uint64]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		if got := c.backoff(delivered); got != want {
			t.Errorf("backoff(%d) = %s, want %s", delivered, got, want)
		}
	}
}

func TestRetryAfterOverridesBackoff(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 5)))
	rec := newRecorder(func(call int, _ *Msg) error {
		if call == 1 {
			return RetryAfter(errors.New("429"), 300*time.Millisecond)
		}
		return nil
	})
	e.run(t, "work", rec, Backoff(time.Hour, time.Hour))
	e.publishRaw(t, "testq.a", "", body(1))
	first := rec.next(t, 5*time.Second)
	_ = first
	start := time.Now()
	if m := rec.next(t, 5*time.Second); m.Delivered != 2 {
		t.Fatalf("Delivered = %d, want 2", m.Delivered)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("redelivered after %s, before the 300ms the handler asked for", waited)
	}
}

func TestRedeliversWhenProcessStopsBeforeAck(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 5)))
	entered := make(chan struct{}, 1)
	never := make(chan struct{})
	defer close(never)
	// A connection of its own stands for the process that dies mid-handler.
	dying, err := e.srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	djs, _ := jetstream.New(dying)
	drt := NewRuntime(djs, e.topo, nil, e.rt.log)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = drt.Run(ctx, "work", HandlerFunc(func(context.Context, *Msg) error {
			entered <- struct{}{}
			<-never
			return nil
		}), ShutdownGrace(time.Millisecond))
	}()
	e.publishRaw(t, "testq.a", "", body(7))
	<-entered
	dying.Close() // no ack, no nak: like kill -9

	rec := newRecorder(nil)
	e.run(t, "work", rec)
	m := rec.next(t, 10*time.Second) // after AckWait (2s)
	if m.Delivered != 2 || string(m.Data) != string(body(7)) {
		t.Fatalf("got %q delivered %d, want the same message on its second delivery", m.Data, m.Delivered)
	}
	testwait.Until(t, 5*time.Second, "the redelivery to be acked", func() bool { return e.streamMsgs(t, "TESTQ") == 0 })
}

func TestInvalidBodyGoesStraightToDLQ(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("crawl", 5)))
	var calls atomic.Int32
	e.run(t, "crawl", Decoded(func(_ context.Context, _ *Msg, req *schemas.CrawlRequest) error {
		calls.Add(1)
		if req.URL == "" {
			t.Errorf("handler got a request without url")
		}
		return nil
	}))
	e.publishRaw(t, "testq.crawl", "", []byte(`{"author":"ann"}`)) // no url
	e.publishRaw(t, "testq.crawl", "", []byte(`not json`))
	e.publishRaw(t, "testq.crawl", "", []byte(`{"url":"https://example.com/a"}`))

	testwait.Until(t, 5*time.Second, "two dead letters", func() bool { return e.streamMsgs(t, StreamDLQ) == 2 })
	testwait.Until(t, 5*time.Second, "the work queue to drain", func() bool { return e.streamMsgs(t, "TESTQ") == 0 })
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler called %d times, want 1 (only the valid body)", n)
	}
	letters, err := NewDLQ(e.js).List(context.Background(), "crawl")
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 2 {
		t.Fatalf("listed %d dead letters, want 2", len(letters))
	}
	for _, l := range letters {
		d := l.Letter
		if d.Reason != schemas.ReasonInvalid || d.Deliveries != 1 || d.Stream != "TESTQ" || d.Subject != "testq.crawl" || d.Sequence == 0 {
			t.Errorf("dead letter = %+v, want reason invalid after one delivery with stream, subject and sequence", d)
		}
	}
	if !strings.Contains(letters[0].Letter.Error, "url") {
		t.Errorf("reason %q does not name the missing field url", letters[0].Letter.Error)
	}
	if string(letters[1].Letter.Body) != "not json" {
		t.Errorf("dead letter body = %q, want the original bytes", letters[1].Letter.Body)
	}
	if got := testutil.ToFloat64(e.rt.metrics.dlq.WithLabelValues("crawl", schemas.ReasonInvalid)); got != 2 {
		t.Errorf("twin_dlq_messages_total{reason=invalid} = %v, want 2", got)
	}
}

func TestDeadLetterCarriesReasonHeaders(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 5)))
	e.run(t, "work", HandlerFunc(func(context.Context, *Msg) error {
		return Permanent(errors.New("gone for good"))
	}))
	ack := e.publishRaw(t, "testq.h", "id-1", body(1))
	testwait.Until(t, 5*time.Second, "a dead letter", func() bool { return e.streamMsgs(t, StreamDLQ) == 1 })
	s, _ := e.js.Stream(context.Background(), StreamDLQ)
	raw, err := s.GetLastMsgForSubject(context.Background(), schemas.DLQ("work"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		schemas.HeaderDLQReason:     schemas.ReasonPermanent,
		schemas.HeaderDLQError:      "gone for good",
		schemas.HeaderDLQStream:     "TESTQ",
		schemas.HeaderDLQSequence:   fmt.Sprint(ack.Sequence),
		schemas.HeaderDLQSubject:    "testq.h",
		schemas.HeaderDLQDeliveries: "1",
		schemas.HeaderDLQConsumer:   "work",
	}
	for h, v := range want {
		if got := raw.Header.Get(h); got != v {
			t.Errorf("header %s = %q, want %q", h, got, v)
		}
	}
}

func TestDeadLettersAfterMaxDeliver(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 3)))
	rec := newRecorder(func(int, *Msg) error { return errors.New("still broken") })
	e.run(t, "work", rec)
	e.publishRaw(t, "testq.a", "", body(1))
	for i := 1; i <= 3; i++ {
		rec.next(t, 5*time.Second)
	}
	testwait.Until(t, 5*time.Second, "a dead letter", func() bool { return e.streamMsgs(t, StreamDLQ) == 1 })
	rec.none(t, 200*time.Millisecond)
	if n := e.streamMsgs(t, "TESTQ"); n != 0 {
		t.Fatalf("work queue still holds %d after the dead letter", n)
	}
	letters, _ := NewDLQ(e.js).List(context.Background(), "")
	if len(letters) != 1 || letters[0].Letter.Reason != schemas.ReasonMaxDeliveries || letters[0].Letter.Deliveries != 3 ||
		!strings.Contains(letters[0].Letter.Error, "still broken") {
		t.Fatalf("dead letters = %+v, want one max_deliveries after 3 deliveries with the last error", letters)
	}
}

func TestOverDeliveredMessageIsDeadLetteredWithoutHandling(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 1)))
	// The first process dies while handling: the message comes back a
	// second time, past MaxDeliver=1, and must not be handled again.
	dying, _ := e.srv.Connect()
	djs, _ := jetstream.New(dying)
	entered := make(chan struct{}, 1)
	block := make(chan struct{})
	defer close(block)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = NewRuntime(djs, e.topo, nil, e.rt.log).Run(ctx, "work", HandlerFunc(func(context.Context, *Msg) error {
			entered <- struct{}{}
			<-block
			return nil
		}), ShutdownGrace(time.Millisecond))
	}()
	e.publishRaw(t, "testq.poison", "", body(1))
	<-entered
	dying.Close()

	rec := newRecorder(nil)
	e.run(t, "work", rec)
	testwait.Until(t, 10*time.Second, "the over-delivered message in the DLQ", func() bool { return e.streamMsgs(t, StreamDLQ) == 1 })
	rec.none(t, 100*time.Millisecond)
	letters, _ := NewDLQ(e.js).List(context.Background(), "work")
	if len(letters) != 1 || letters[0].Letter.Reason != schemas.ReasonMaxDeliveries || letters[0].Letter.Deliveries != 2 {
		t.Fatalf("dead letters = %+v, want one max_deliveries at delivery 2", letters)
	}
}

func TestPanickingHandlerIsDeadLetteredAndConsumerLivesOn(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 5)))
	var ok atomic.Int32
	e.run(t, "work", HandlerFunc(func(_ context.Context, m *Msg) error {
		if string(m.Data) == "boom" {
			var nilMap map[string]int
			nilMap["x"]++
		}
		ok.Add(1)
		return nil
	}))
	e.publishRaw(t, "testq.a", "", []byte("boom"))
	e.publishRaw(t, "testq.a", "", body(2))
	testwait.Until(t, 5*time.Second, "the good message handled", func() bool { return ok.Load() == 1 })
	testwait.Until(t, 5*time.Second, "the panicking one dead-lettered", func() bool { return e.streamMsgs(t, StreamDLQ) == 1 })
	letters, _ := NewDLQ(e.js).List(context.Background(), "work")
	if len(letters) != 1 || letters[0].Letter.Reason != schemas.ReasonPanic {
		t.Fatalf("dead letters = %+v, want one with reason panic", letters)
	}
}

func TestDuplicateMsgIDInsideWindowIsDropped(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 5)))
	ctx := context.Background()
	req := &schemas.CrawlRequest{URL: "https://example.com/a"}
	first, err := e.pub.Publish(ctx, Out{Subject: "test.crawl", MsgID: "https://example.com/a", Body: req})
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.pub.Publish(ctx, Out{Subject: "test.crawl", MsgID: "https://example.com/a", Body: req})
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || !second.Duplicate || second.Sequence != first.Sequence {
		t.Fatalf("acks %+v then %+v, want the second marked duplicate of the first", first, second)
	}
	if n := e.streamMsgs(t, "TEST"); n != 1 {
		t.Fatalf("stream holds %d, want 1", n)
	}
}

func TestPublisherSetsTwinHeaders(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology())
	origin := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	ctx := WithTrace(context.Background(), "trace-1", origin)
	ack, err := e.pub.Publish(ctx, Out{Subject: "test.h", MsgID: "k1", Body: &schemas.CrawlRequest{URL: "https://example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := e.js.Stream(ctx, "TEST")
	raw, err := s.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]string{
		schemas.HeaderMsgID:      "k1",
		schemas.HeaderSchema:     "crawl_request/v1",
		schemas.HeaderTraceID:    "trace-1",
		schemas.HeaderOriginTime: "2026-01-02T03:04:05.000000006Z",
	} {
		if got := raw.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	// Without a trace in the context, a new trace starts.
	ack, _ = e.pub.Publish(context.Background(), Out{Subject: "test.h", Body: &schemas.CrawlRequest{URL: "https://example.com"}})
	raw, _ = s.GetMsg(ctx, ack.Sequence)
	if raw.Header.Get(schemas.HeaderTraceID) == "" || raw.Header.Get(schemas.HeaderOriginTime) == "" {
		t.Errorf("headers %v: want a new trace id and an origin time", raw.Header)
	}
}

func TestHandlerPublishesContinueTheTrace(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 5)))
	e.run(t, "work", HandlerFunc(func(ctx context.Context, m *Msg) error {
		_, err := e.pub.Publish(ctx, Out{Subject: "test.next", Body: &schemas.CrawlRequest{URL: "https://example.com/next"}})
		return err
	}))
	in := &schemas.CrawlRequest{URL: "https://example.com"}
	origin := time.Now().Add(-time.Minute).UTC()
	if _, err := e.pub.Publish(context.Background(), Out{Subject: "testq.a", Body: in, TraceID: "t-42", OriginTime: origin}); err != nil {
		t.Fatal(err)
	}
	s, _ := e.js.Stream(context.Background(), "TEST")
	testwait.Until(t, 5*time.Second, "the handler's publish", func() bool {
		_, err := s.GetLastMsgForSubject(context.Background(), "test.next")
		return err == nil
	})
	raw, _ := s.GetLastMsgForSubject(context.Background(), "test.next")
	if raw.Header.Get(schemas.HeaderTraceID) != "t-42" || raw.Header.Get(schemas.HeaderOriginTime) != origin.Format(time.RFC3339Nano) {
		t.Fatalf("downstream headers %v: want trace t-42 and the original origin time", raw.Header)
	}
}

func TestPublishBatchAwaitsEveryAck(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology())
	e.pub.window = 7 // several windows
	outs := make([]Out, 50)
	for i := range outs {
		outs[i] = Out{Subject: "test.batch", MsgID: fmt.Sprint("b", i), Body: &schemas.CrawlRequest{URL: fmt.Sprintf("https://example.com/%d", i)}}
	}
	acks, err := e.pub.PublishBatch(context.Background(), outs)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range acks {
		if a == nil || a.Stream != "TEST" {
			t.Fatalf("ack %d = %+v", i, a)
		}
	}
	if n := e.streamMsgs(t, "TEST"); n != 50 {
		t.Fatalf("stream holds %d after the batch returned, want 50", n)
	}
	// Replaying the batch stores nothing new.
	if _, err := e.pub.PublishBatch(context.Background(), outs); err != nil {
		t.Fatal(err)
	}
	if n := e.streamMsgs(t, "TEST"); n != 50 {
		t.Fatalf("stream holds %d after a replay, want 50", n)
	}
	// A message to a subject no stream holds fails, naming its index.
	_, err = e.pub.PublishBatch(context.Background(), []Out{outs[0], {Subject: "nowhere.x", Body: outs[0].Body}})
	if err == nil || !strings.Contains(err.Error(), "message 1") {
		t.Fatalf("err = %v, want a failure naming message 1", err)
	}
}

func TestShutdownFinishesInFlightWorkAndAcksIt(t *testing.T) {
	t.Parallel()
	spec := consumerSpec("work", 5)
	spec.AckWait = time.Minute // so only a Nak, not AckWait, can free them in time
	e := newTestEnv(t, testTopology(spec))
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	var handled atomic.Int32
	var sawCancel atomic.Bool
	stop := e.run(t, "work", HandlerFunc(func(ctx context.Context, m *Msg) error {
		entered <- struct{}{}
		<-release
		if ctx.Err() != nil {
			sawCancel.Store(true)
		}
		handled.Add(1)
		return nil
	}), Workers(2))
	for i := range 10 {
		e.publishRaw(t, "testq.a", "", body(i))
	}
	<-entered
	<-entered
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	time.Sleep(50 * time.Millisecond) // let the stop begin while both handlers are busy
	select {
	case <-stopped:
		t.Fatal("Run returned while handlers were still in flight")
	default:
	}
	close(release)
	<-stopped
	if sawCancel.Load() {
		t.Error("an in-flight handler saw its context cancelled during a graceful stop")
	}
	n := handled.Load()
	if n < 2 {
		t.Fatalf("handled %d, want at least the 2 in flight", n)
	}
	// The acks reached the server before Run returned (it flushes); the
	// server applies them to the work queue asynchronously.
	testwait.Until(t, 5*time.Second, fmt.Sprintf("the work queue to hold %d after handling %d of 10 (in-flight work acked)", 10-n, n), func() bool {
		return e.streamMsgs(t, "TESTQ") == uint64(10-n)
	})
	// Released messages are available at once to the next consumer, not
	// after AckWait.
	// Buffered messages were given back, so the next run gets them at once,
	// long before their AckWait (a minute) would have freed them.
	rec := newRecorder(nil)
	e.run(t, "work", rec)
	for range 10 - n {
		rec.next(t, 5*time.Second)
	}
	testwait.Until(t, 5*time.Second, "the rest acked by the next run", func() bool { return e.streamMsgs(t, "TESTQ") == 0 })
}

func TestLongHandlerIsKeptAliveAndNotRedelivered(t *testing.T) {
	t.Parallel()
	spec := consumerSpec("slow", 5)
	spec.AckWait = 600 * time.Millisecond
	e := newTestEnv(t, testTopology(spec))
	rec := newRecorder(func(int, *Msg) error { time.Sleep(2 * time.Second); return nil })
	e.run(t, "slow", rec)
	e.publishRaw(t, "testq.a", "", body(1))
	rec.next(t, 5*time.Second)
	testwait.Until(t, 10*time.Second, "the slow message acked", func() bool { return e.streamMsgs(t, "TESTQ") == 0 })
	rec.none(t, 100*time.Millisecond)
	if info := e.consumerInfo(t, "TESTQ", "slow"); info.NumRedelivered != 0 {
		t.Fatalf("redelivered = %d, want 0", info.NumRedelivered)
	}
}

func TestRecreatesDeletedConsumerAndStream(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 5)))
	rec := newRecorder(nil)
	e.run(t, "work", rec, Heartbeat(500*time.Millisecond))
	e.publishRaw(t, "testq.a", "", body(1))
	rec.next(t, 5*time.Second)
	testwait.Until(t, 5*time.Second, "the first message acked", func() bool { return e.streamMsgs(t, "TESTQ") == 0 })

	ctx := context.Background()
	if err := e.js.DeleteConsumer(ctx, "TESTQ", "work"); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 10*time.Second, "the consumer to be re-created", func() bool {
		_, err := e.js.Consumer(ctx, "TESTQ", "work")
		return err == nil
	})
	e.publishRaw(t, "testq.a", "", body(2))
	if m := rec.next(t, 10*time.Second); string(m.Data) != string(body(2)) {
		t.Fatalf("got %q, want the message published after re-creation", m.Data)
	}

	if err := e.js.DeleteStream(ctx, "TESTQ"); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 15*time.Second, "the stream and consumer to be re-created", func() bool {
		_, err := e.js.Consumer(ctx, "TESTQ", "work")
		return err == nil
	})
	e.publishRaw(t, "testq.a", "", body(3))
	if m := rec.next(t, 10*time.Second); string(m.Data) != string(body(3)) {
		t.Fatalf("got %q, want the message published after the stream came back", m.Data)
	}
}

func TestRestartOnSameDataDirResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	topo := testTopology(consumerSpec("work", 5))
	e := newTestEnvAt(t, dir, topo)
	for i := range 10 {
		e.publishRaw(t, "testq.a", fmt.Sprint("m", i), body(i))
	}
	var handled atomic.Int32
	stop := e.run(t, "work", HandlerFunc(func(ctx context.Context, m *Msg) error {
		if handled.Add(1) > 4 {
			<-ctx.Done() // the fifth is in flight when the process stops
			return ctx.Err()
		}
		return nil
	}), PullBatch(1), ShutdownGrace(10*time.Millisecond))
	testwait.Until(t, 5*time.Second, "four acks", func() bool { return e.streamMsgs(t, "TESTQ") == 6 })
	stop()
	e.stop()

	e2 := newTestEnvAt(t, dir, topo)
	if n := e2.streamMsgs(t, "TESTQ"); n != 6 {
		t.Fatalf("after restart the work queue holds %d, want 6", n)
	}
	info := e2.consumerInfo(t, "TESTQ", "work")
	if info.NumPending+uint64(info.NumAckPending) != 6 {
		t.Fatalf("after restart the consumer has %d pending and %d ack pending, want 6 in all", info.NumPending, info.NumAckPending)
	}
	rec := newRecorder(nil)
	e2.run(t, "work", rec)
	got := map[string]bool{}
	for range 6 {
		got[string(rec.next(t, 10*time.Second).Data)] = true
	}
	for i := 4; i < 10; i++ {
		if !got[string(body(i))] {
			t.Errorf("message %d was not delivered after the restart; got %v", i, got)
		}
	}
	rec.none(t, 100*time.Millisecond)
}

func TestMessagesWaitingForAWorkerAreKeptAliveAndNotRedelivered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		batch bool
	}{{"one at a time", false}, {"batches", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := consumerSpec("queued", 5)
			spec.AckWait = 600 * time.Millisecond
			e := newTestEnv(t, testTopology(spec))
			const n = 6
			seen := make(chan uint64, 4*n)
			slow := func(msgs ...*Msg) {
				for _, m := range msgs {
					seen <- m.Delivered
				}
				time.Sleep(700 * time.Millisecond) // longer than AckWait, and n of them far longer
			}
			var stop func()
			if tc.batch {
				stop = e.runBatch(t, "queued", BatchHandlerFunc(func(_ context.Context, msgs []*Msg) error { slow(msgs...); return nil }),
					PullBatch(n), Batch(2, time.Millisecond))
			} else {
				stop = e.run(t, "queued", HandlerFunc(func(_ context.Context, m *Msg) error { slow(m); return nil }), PullBatch(n))
			}
			for i := range n {
				e.publishRaw(t, "testq.a", "", body(i))
			}
			testwait.Until(t, 20*time.Second, "every message acked", func() bool { return e.streamMsgs(t, "TESTQ") == 0 })
			stop()
			got := 0
			for len(seen) > 0 {
				d := <-seen
				got++
				if d != 1 {
					t.Errorf("a message was delivered %d times while it waited for the busy worker", d)
				}
			}
			if got != n {
				t.Errorf("handled %d deliveries, want %d", got, n)
			}
			if info := e.consumerInfo(t, "TESTQ", "queued"); info.NumRedelivered != 0 {
				t.Errorf("redelivered = %d, want 0", info.NumRedelivered)
			}
		})
	}
}

func TestAProcessHoldsAboutPullBatchSoAReplicaStartedLaterGetsWork(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("shared", 5)))
	const n = 16
	var first, second atomic.Int32
	started := make(chan struct{}, n)
	slow := func(count *atomic.Int32) Handler {
		return HandlerFunc(func(context.Context, *Msg) error {
			count.Add(1)
			started <- struct{}{}
			time.Sleep(150 * time.Millisecond)
			return nil
		})
	}
	e.run(t, "shared", slow(&first), PullBatch(2))
	for i := range n {
		e.publishRaw(t, "testq.a", "", body(i))
	}
	<-started
	e.run(t, "shared", slow(&second), PullBatch(2))
	testwait.Until(t, 20*time.Second, "every message acked", func() bool { return e.streamMsgs(t, "TESTQ") == 0 })
	if got := second.Load(); got < n/4 {
		t.Fatalf("the replica started second handled %d of %d (the first %d): the first held the rest", got, n, first.Load())
	}
}
