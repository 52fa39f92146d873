package streams

import (
	"context"
	"errors"
	"github.com/nats-io/nats.go/jetstream"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
)

func TestDLQRetryRepublishesToOriginalSubjectAndRemovesTheLetter(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 5)))
	var fixed atomic.Bool
	var handled atomic.Int32
	e.run(t, "work", HandlerFunc(func(_ context.Context, m *Msg) error {
		if !fixed.Load() {
			return Permanent(errors.New("not yet"))
		}
		if string(m.Data) == string(body(1)) && m.Header.Get("X-Keep") != "me" {
			t.Errorf("retried message lost its headers: %v", m.Header)
		}
		handled.Add(1)
		return nil
	}))
	// A msg id inside the dedup window must not stop the retry.
	e.publishRawWithHeader(t, "testq.r", "orig-1", "X-Keep", "me", body(1))
	e.publishRaw(t, "testq.r", "orig-2", body(2))
	testwait.Until(t, 5*time.Second, "two dead letters", func() bool { return e.streamMsgs(t, StreamDLQ) == 2 })

	dlq := NewDLQ(e.js)
	ctx := context.Background()
	letters, err := dlq.List(ctx, "work")
	if err != nil || len(letters) != 2 {
		t.Fatalf("List = %v, %v; want 2 letters", letters, err)
	}
	fixed.Store(true)
	n, err := dlq.Retry(ctx, "", letters[0].Seq)
	if err != nil || n != 1 {
		t.Fatalf("Retry(seq) = %d, %v; want 1 retried", n, err)
	}
	testwait.Until(t, 5*time.Second, "the retried message handled", func() bool { return handled.Load() == 1 })
	if left, _ := dlq.List(ctx, ""); len(left) != 1 || left[0].Seq != letters[1].Seq {
		t.Fatalf("after retrying one, DLQ holds %+v; want only the other", left)
	}
	if _, err := dlq.Retry(ctx, "", 9999); err == nil {
		t.Fatal("retrying an unknown sequence succeeded")
	}
	if n, err := dlq.Retry(ctx, "work"); err != nil || n != 1 {
		t.Fatalf("Retry(consumer) = %d, %v; want 1", n, err)
	}
	testwait.Until(t, 5*time.Second, "both handled", func() bool { return handled.Load() == 2 })
	if n := e.streamMsgs(t, StreamDLQ); n != 0 {
		t.Fatalf("DLQ holds %d after retrying all, want 0", n)
	}
}

func TestDLQPurgeDropsOneConsumersLetters(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("a", 5),
		ConsumerSpec{Name: "b", Stream: "TEST", FilterSubject: "test.>", AckWait: 2 * time.Second, MaxDeliver: 5, MaxAckPending: 100}))
	fail := HandlerFunc(func(context.Context, *Msg) error { return Permanent(errors.New("no")) })
	e.run(t, "a", fail)
	e.run(t, "b", fail)
	e.publishRaw(t, "testq.x", "", body(1))
	e.publishRaw(t, "testq.x", "", body(2))
	e.publishRaw(t, "test.x", "", body(3))
	testwait.Until(t, 5*time.Second, "three dead letters", func() bool { return e.streamMsgs(t, StreamDLQ) == 3 })
	// Purging is the operator's: the components' own role may not.
	admin, err := e.srv.ConnectAs(RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ajs, _ := jetstream.New(admin)
	dlq := NewDLQ(ajs)
	for consumer, want := range map[string]uint64{"a": 2, "b": 1, "": 3} {
		if n, err := dlq.Count(context.Background(), consumer); err != nil || n != want {
			t.Errorf("Count(%q) = %d, %v; want %d", consumer, n, err, want)
		}
	}
	n, err := dlq.Purge(context.Background(), "a")
	if err != nil || n != 2 {
		t.Fatalf("Purge(a) = %d, %v; want 2", n, err)
	}
	left, _ := dlq.List(context.Background(), "")
	if len(left) != 1 || left[0].Letter.Consumer != "b" {
		t.Fatalf("after purging a, DLQ holds %+v; want b's letter", left)
	}
	if n, _ := dlq.Purge(context.Background(), ""); n != 1 {
		t.Fatalf("Purge(all) = %d, want 1", n)
	}
}

func TestDLQListsUnreadableLettersWithoutFailing(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology())
	e.publishRaw(t, schemas.DLQ("manual"), "", []byte("garbage someone published"))
	letters, err := NewDLQ(e.js).List(context.Background(), "")
	if err != nil || len(letters) != 1 || letters[0].Letter.Reason != reasonUnreadable {
		t.Fatalf("List = %+v, %v; want one unreadable letter", letters, err)
	}
	if _, err := NewDLQ(e.js).Retry(context.Background(), "", letters[0].Seq); err == nil {
		t.Fatal("retrying an unreadable letter succeeded")
	}
}

func TestDeadLetteringTheSameDeliveryTwiceStoresItOnce(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 5)))
	ack := e.publishRaw(t, "testq.d", "", body(1))
	m := &Msg{Subject: "testq.d", Data: body(1), Header: map[string][]string{}, Stream: "TESTQ", Sequence: ack.Sequence, Delivered: 1}
	for range 2 {
		if err := publishDeadLetter(context.Background(), e.js, "work", m, schemas.ReasonPermanent, errors.New("x")); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.streamMsgs(t, StreamDLQ); n != 1 {
		t.Fatalf("DLQ holds %d, want 1", n)
	}
}
