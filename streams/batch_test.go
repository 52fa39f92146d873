package streams

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
)

func TestRunBatchGivesBatchesAndPerMessageOutcomes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("batch", 3)))
	var mu sync.Mutex
	var sizes []int
	attempts := map[string]int{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- e.rt.RunBatch(ctx, "batch", BatchHandlerFunc(func(_ context.Context, msgs []*Msg) error {
			mu.Lock()
			defer mu.Unlock()
			sizes = append(sizes, len(msgs))
			errs := make(BatchErrors, len(msgs))
			for i, m := range msgs {
				attempts[string(m.Data)]++
				switch string(m.Data) {
				case "bad":
					errs[i] = Permanent(errors.New("bad body"))
				case "flaky":
					if attempts["flaky"] == 1 {
						errs[i] = errors.New("try again")
					}
				}
			}
			return errs
		}), Batch(10, 50*time.Millisecond), Backoff(10*time.Millisecond, 10*time.Millisecond))
	}()
	defer func() { cancel(); <-done }()

	for i := range 20 {
		e.publishRaw(t, "testq.b", "", body(i))
	}
	e.publishRaw(t, "testq.b", "", []byte("bad"))
	e.publishRaw(t, "testq.b", "", []byte("flaky"))
	testwait.Until(t, 10*time.Second, "every message settled", func() bool { return e.streamMsgs(t, "TESTQ") == 0 })

	mu.Lock()
	defer mu.Unlock()
	total, biggest := 0, 0
	for _, n := range sizes {
		total += n
		biggest = max(biggest, n)
	}
	if biggest < 2 || biggest > 10 {
		t.Errorf("batch sizes %v: want batches of up to 10, some bigger than 1", sizes)
	}
	if total != 23 { // 22 first deliveries and the flaky one's retry
		t.Errorf("handled %d deliveries in %v, want 23", total, sizes)
	}
	if attempts["bad"] != 1 || attempts["flaky"] != 2 {
		t.Errorf("attempts bad=%d flaky=%d, want 1 and 2", attempts["bad"], attempts["flaky"])
	}
	letters, _ := NewDLQ(e.js).List(context.Background(), "batch")
	if len(letters) != 1 || string(letters[0].Letter.Body) != "bad" || letters[0].Letter.Reason != schemas.ReasonPermanent {
		t.Errorf("dead letters %+v, want only the bad one", letters)
	}
}

func TestRunBatchAppliesAPlainErrorToTheWholeBatch(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("batch", 2)))
	calls := make(chan int, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- e.rt.RunBatch(ctx, "batch", BatchHandlerFunc(func(_ context.Context, msgs []*Msg) error {
			calls <- len(msgs)
			return errors.New("store down")
		}), Batch(10, 100*time.Millisecond), Backoff(10*time.Millisecond, 10*time.Millisecond))
	}()
	defer func() { cancel(); <-done }()
	for i := range 3 {
		e.publishRaw(t, "testq.b", "", body(i))
	}
	testwait.Until(t, 10*time.Second, "all three dead-lettered after 2 deliveries", func() bool { return e.streamMsgs(t, StreamDLQ) == 3 })
}

func TestDecodedBatchDeadLettersInvalidBodiesAndHandsOnlyDecodedOnes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("batch", 3)))
	var mu sync.Mutex
	seen := map[string]int{} // url → deliveries handed to the handler
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- e.rt.RunBatch(ctx, "batch", DecodedBatch(func(_ context.Context, msgs []*Msg, reqs []*schemas.CrawlRequest) error {
			mu.Lock()
			defer mu.Unlock()
			if len(msgs) != len(reqs) {
				t.Errorf("handler got %d messages and %d bodies", len(msgs), len(reqs))
			}
			errs := make(BatchErrors, len(reqs))
			for i, r := range reqs {
				if r == nil || r.URL == "" {
					t.Errorf("handler got an undecoded body at %d: %+v", i, r)
					continue
				}
				seen[r.URL]++
				if r.URL == "https://example.com/refused" {
					errs[i] = Permanent(errors.New("refused"))
				}
			}
			return errs.Err()
		}), Batch(10, 100*time.Millisecond), Backoff(10*time.Millisecond, 10*time.Millisecond))
	}()
	defer func() { cancel(); <-done }()

	e.publishRaw(t, "testq.b", "", []byte(`{"url":"https://example.com/a"}`))
	e.publishRaw(t, "testq.b", "", []byte(`not json`))
	e.publishRaw(t, "testq.b", "", []byte(`{"url":"https://example.com/refused"}`))
	e.publishRaw(t, "testq.b", "", []byte(`{"author":"ann"}`)) // no url
	e.publishRaw(t, "testq.b", "", []byte(`{"url":"https://example.com/b"}`))
	testwait.Until(t, 10*time.Second, "every message settled", func() bool { return e.streamMsgs(t, "TESTQ") == 0 })

	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"https://example.com/a": 1, "https://example.com/b": 1, "https://example.com/refused": 1}
	if len(seen) != len(want) || seen["https://example.com/a"] != 1 || seen["https://example.com/b"] != 1 || seen["https://example.com/refused"] != 1 {
		t.Errorf("handler saw %v, want each valid body once: %v", seen, want)
	}
	letters, err := NewDLQ(e.js).List(context.Background(), "batch")
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, l := range letters {
		reasons[string(l.Letter.Body)] = l.Letter.Reason
	}
	wantReasons := map[string]string{
		`not json`:                              schemas.ReasonInvalid,
		`{"author":"ann"}`:                      schemas.ReasonInvalid,
		`{"url":"https://example.com/refused"}`: schemas.ReasonPermanent,
	}
	if len(reasons) != len(wantReasons) {
		t.Fatalf("dead letters %v, want %v", reasons, wantReasons)
	}
	for b, r := range wantReasons {
		if reasons[b] != r {
			t.Errorf("dead letter of %s: reason %q, want %q", b, reasons[b], r)
		}
	}
}
