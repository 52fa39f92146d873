package progress

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/consumers/embedder"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

type status int

func (s status) Error() string   { return fmt.Sprintf("status %d", int(s)) }
func (s status) StatusCode() int { return int(s) }

func TestRetryableIsWhatAReconnectCures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"NATS disconnected", fmt.Errorf("read: %w", nats.ErrDisconnected), true},
		{"call timed out", context.DeadlineExceeded, true},
		{"gateway refused", &url.Error{Op: "Get", URL: "http://x", Err: errors.New("connection refused")}, true},
		{"gateway starting", fmt.Errorf("GET: %w", status(503)), true},
		{"not found", fmt.Errorf("GET: %w", status(404)), false},
		{"no such consumer", jetstream.ErrConsumerNotFound, false},
		{"anything else", errors.New("bad"), false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("%s: Retryable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestRetrierSaysOncePerOutageAndStopsOnWhatItCannotCure(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	r := &Retrier{Out: &out}
	calls := 0
	err := r.Do(context.Background(), "read", func(context.Context) error {
		calls++
		if calls < 3 {
			return nats.ErrDisconnected
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Do = %v after %d calls, want success at the third", err, calls)
	}
	if n := strings.Count(out.String(), "retrying until twin is back"); n != 1 {
		t.Errorf("said it is retrying %d times, want once:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "reconnected") {
		t.Errorf("did not say it reconnected:\n%s", out.String())
	}
	bad := errors.New("no such thing")
	calls = 0
	err = r.Do(context.Background(), "read", func(context.Context) error { calls++; return bad })
	if !errors.Is(err, bad) || calls != 1 || !strings.HasPrefix(err.Error(), "read: ") {
		t.Errorf("Do of a lasting failure = %v after %d calls, want it wrapped at once", err, calls)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := r.Do(ctx, "read", func(context.Context) error { return nats.ErrDisconnected }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do until ctx ends = %v, want ctx's error", err)
	}
}

func TestGaveUpNamesTheTimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := Bound(context.Background(), time.Millisecond, errors.New("--timeout 1ms"))
	defer cancel()
	<-ctx.Done()
	err := GaveUp(ctx, fmt.Errorf("3 left: %w", ctx.Err()))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "gave up waiting (--timeout 1ms)") {
		t.Errorf("GaveUp = %v", err)
	}
	if other := errors.New("x"); GaveUp(ctx, other) != other {
		t.Error("GaveUp changed an error that is not the deadline")
	}
}

// publishDocs puts n crawled documents into DOCS.
func publishDocs(t *testing.T, js jetstream.JetStream, n int) uint64 {
	t.Helper()
	var last uint64
	for i := range n {
		ack, err := streams.NewPublisher(js).Publish(context.Background(), streams.Out{Subject: schemas.DocsCrawled(schemas.KindPost),
			Body: &schemas.CrawledDocument{ID: fmt.Sprintf("d%d", i), Kind: schemas.KindPost, Content: "words"}})
		if err != nil {
			t.Fatal(err)
		}
		last = ack.Sequence
	}
	return last
}

func TestStoredUpToWaitsForTheWritersAcks(t *testing.T) {
	t.Parallel()
	js := streamstest.Start(t)
	seq := publishDocs(t, js, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := StoredUpTo(ctx, js, seq, &Retrier{})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "up to DOCS sequence 0 of 3") {
		t.Fatalf("StoredUpTo with nothing acked = %v", err)
	}

	writer, err := js.Consumer(context.Background(), streams.StreamDocs, streams.ConsumerWriter)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := writer.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- StoredUpTo(context.Background(), js, seq, &Retrier{}) }()
	for m := range batch.Messages() {
		select {
		case err := <-done:
			t.Fatalf("StoredUpTo returned %v before every document was acked", err)
		default:
		}
		if err := m.DoubleAck(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("StoredUpTo still waiting after every document was acked")
	}
}

func TestSearchableWaitsForTheWarehouseRevision(t *testing.T) {
	t.Parallel()
	js := streamstest.Start(t)
	revs, err := embedder.OpenKVRevisions(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	// a is indexed at an older revision than the warehouse holds; b is not
	// stored yet.
	if err := revs.Put(context.Background(), map[string]int64{"a": 1}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	warehouse := map[string]int64{"a": 2}
	lookup := func(_ context.Context, id string) (int64, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		rev, ok := warehouse[id]
		return rev, ok, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err = Searchable(ctx, js, []string{"a", "b"}, lookup, nil, &Retrier{})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "2 of 2 documents not yet searchable (a, b)") {
		t.Fatalf("Searchable with nothing indexed = %v", err)
	}

	var seen []int
	done := make(chan error, 1)
	go func() {
		done <- Searchable(context.Background(), js, []string{"a", "b"}, lookup, func(n, total int) {
			mu.Lock()
			seen = append(seen, n)
			mu.Unlock()
		}, &Retrier{})
	}()
	mu.Lock()
	warehouse["b"] = 7
	mu.Unlock()
	if err := revs.Put(context.Background(), map[string]int64{"a": 2, "b": 7}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Searchable still waiting after both were indexed")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || seen[len(seen)-1] != 2 {
		t.Errorf("progress %v: want it to end at 2", seen)
	}

	if err := Indexed(context.Background(), js, map[string]int64{"a": 2, "b": 6}, nil, &Retrier{}); err != nil {
		t.Errorf("Indexed at revisions already passed: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := Indexed(ctx, js, map[string]int64{"a": 3}, nil, &Retrier{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Indexed at a revision not indexed yet = %v", err)
	}
}

func TestWatchSaysNothingConsumesAStream(t *testing.T) {
	t.Parallel()
	js := streamstest.Start(t)
	publishDocs(t, js, 2)
	var out testwait.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Watch(ctx, js, PipelineWatches(), 200*time.Millisecond, &out); close(done) }()
	defer func() { cancel(); <-done }()
	testwait.Until(t, 10*time.Second, "Watch to say nothing consumes DOCS", func() bool {
		return strings.Contains(out.String(), "is twin up (or twin run warehouse) running?")
	})
	if strings.Contains(out.String(), "featurizer") {
		t.Errorf("Watch warned about an idle consumer:\n%s", out.String())
	}
}
