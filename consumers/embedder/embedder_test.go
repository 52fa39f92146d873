package embedder_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/embedder"
	"github.com/twin-llm/twin/internal/embed"
	"github.com/twin-llm/twin/internal/vectors"
	"github.com/twin-llm/twin/internal/vectors/embedded"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

type fixture struct {
	e     *embedder.Embedder
	store *embedded.Store
	pub   *streams.Publisher
	rt    *streams.Runtime
	dlq   *streams.DLQ
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	js := streamstest.Start(t)
	dense := embed.NewHashed(0)
	store, err := embedded.Open(t.TempDir(), dense.Dim())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	revs, err := embedder.OpenKVRevisions(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	pub := streams.NewPublisher(js)
	e := embedder.New(embedder.Config{Dense: dense, Sparse: embed.NewBM25(), Store: store, Publisher: pub, Revisions: revs})
	return &fixture{e: e, store: store, pub: pub, rt: streams.NewRuntime(js, streamstest.Topology(), nil, zerolog.Nop()), dlq: streams.NewDLQ(js)}
}

func job(rev int64, op string, texts ...string) *schemas.EmbedJob {
	j := &schemas.EmbedJob{DocumentID: "doc-1", Op: op, Revision: rev, AuthorID: "a1", Author: "Ann", Category: "posts", Title: "A post"}
	for i, t := range texts {
		j.Chunks = append(j.Chunks, schemas.Chunk{Index: i, Text: t, Tokens: 5})
	}
	return j
}

// handle delivers j to the embedder as the runtime would.
func (f *fixture) handle(t *testing.T, j *schemas.EmbedJob) {
	t.Helper()
	data, err := schemas.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.e.HandleBatch(context.Background(), []*streams.Msg{{Subject: schemas.SubjectEmbedJobs, Data: data}}); err != nil {
		var each streams.BatchErrors
		if !asBatch(err, &each) || each[0] != nil {
			t.Fatalf("HandleBatch: %v", err)
		}
	}
}

func asBatch(err error, out *streams.BatchErrors) bool {
	b, ok := err.(streams.BatchErrors)
	*out = b
	return ok
}

func (f *fixture) count(t *testing.T) int {
	t.Helper()
	n, err := f.store.Count(context.Background(), vectors.Filter{DocumentIDs: []string{"doc-1"}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRedeliveryAfterACrashLeavesNoDuplicatePoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := job(1, schemas.OpUpsert, "first chunk about queues", "second chunk about streams")
	f.handle(t, j)
	f.handle(t, j) // the process died after the upsert, before the ack
	if n := f.count(t); n != 2 {
		t.Fatalf("%d points after a redelivery, want 2", n)
	}
}

func TestUpdateReplacesChunksDeleteRemovesThemAndLateRevisionsAreIgnored(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.handle(t, job(1, schemas.OpUpsert, "old one", "old two", "old three"))
	f.handle(t, job(2, schemas.OpUpsert, "new only chunk"))
	if n := f.count(t); n != 1 {
		t.Fatalf("%d points after an update to one chunk, want 1", n)
	}
	f.handle(t, job(1, schemas.OpUpsert, "old one", "old two", "old three")) // a late redelivery
	hits, err := f.store.Search(context.Background(), vectors.Query{Sparse: embed.NewBM25().Query("new only chunk"), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if f.count(t) != 1 || len(hits) != 1 || hits[0].Payload.Text != "new only chunk" {
		t.Fatalf("a late older revision changed the index: %d points, hits %+v", f.count(t), hits)
	}
	f.handle(t, job(3, schemas.OpDelete))
	if n := f.count(t); n != 0 {
		t.Fatalf("%d points after a delete, want 0", n)
	}
}

func TestUndecodableEmbedJobGoesToTheDLQ(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.rt.RunBatch(ctx, "embedder", f.e) }()
	defer func() { cancel(); <-done }()
	if _, err := f.pub.Publish(context.Background(), streams.Out{Subject: schemas.SubjectEmbedJobs, Body: job(1, schemas.OpUpsert, "a good chunk")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pub.Publish(context.Background(), streams.Out{Subject: schemas.SubjectEmbedJobs, Body: &schemas.EmbedJob{DocumentID: "x", Op: "explode"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		letters, err := f.dlq.List(context.Background(), "embedder")
		if err != nil {
			t.Fatal(err)
		}
		if len(letters) == 1 {
			if letters[0].Letter.Reason != schemas.ReasonInvalid {
				t.Fatalf("dead letter %+v, want reason invalid", letters[0].Letter)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dead letters after 10s, want 1", len(letters))
		}
		time.Sleep(10 * time.Millisecond)
	}
	for f.count(t) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the good job was not indexed beside the bad one")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConcurrentBatchesOfOneDocumentKeepTheNewestRevision(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Two workers get two revisions of one document at once, many times
	// over: whatever the interleaving, the newest must be all that is left.
	for rev := int64(1); rev <= 40; rev += 2 {
		older := job(rev, schemas.OpUpsert, "older text one", "older text two", "older text three")
		newer := job(rev+1, schemas.OpUpsert, "newer text")
		done := make(chan struct{})
		go func() { defer close(done); f.handle(t, older) }()
		f.handle(t, newer)
		<-done
		hits, err := f.store.Search(context.Background(), vectors.Query{Sparse: embed.NewBM25().Query("text"), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 1 || hits[0].Payload.Text != "newer text" {
			texts := []string{}
			for _, h := range hits {
				texts = append(texts, h.Payload.Text)
			}
			t.Fatalf("revisions %d and %d indexed at once left %q, want only the newer", rev, rev+1, texts)
		}
	}
}

func TestKVRevisionsBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := streamstest.Start(t)
	revs, err := embedder.OpenKVRevisions(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := revs.Get(ctx, []string{"a", "b"}); err != nil || len(got) != 0 {
		t.Fatalf("empty bucket: %v, %v", got, err)
	}
	if got, err := revs.Get(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("no ids: %v, %v", got, err)
	}
	// More ids than one multi-get answers, ids that need escaping, and a
	// key written twice (the last write counts).
	want := map[string]int64{}
	var ids []string
	for i := range 2500 {
		id := fmt.Sprintf("https://example.com/p/%d?q=a b", i)
		ids = append(ids, id)
		if i%3 != 0 {
			want[id] = int64(i + 1)
		}
	}
	if err := revs.Put(ctx, map[string]int64{ids[1]: 99}); err != nil {
		t.Fatal(err)
	}
	if err := revs.Put(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := revs.Get(ctx, append(ids, ids[1], "never-indexed"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d revisions, want %d", len(got), len(want))
	}
	for id, rev := range want {
		if got[id] != rev {
			t.Fatalf("%s: revision %d, want %d", id, got[id], rev)
		}
	}
	// The bucket lists its documents by id, for pruning those the
	// warehouse does not hold.
	listed, err := revs.IDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(listed, want) {
		t.Fatalf("IDs listed %d documents, want the %d indexed", len(listed), len(want))
	}
}
