package embedder_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/embedder"
	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/vectors/embedded"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

type fixture struct {
	js    jetstream.JetStream
	revs  *embedder.KVRevisions
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
	return &fixture{js: js, revs: revs, e: e, store: store, pub: pub, rt: streams.NewRuntime(js, streamstest.Topology(), nil, zerolog.Nop()), dlq: streams.NewDLQ(js)}
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
	go func() { defer close(done); _ = f.rt.RunBatch(ctx, streams.ConsumerEmbedder, f.e) }()
	defer func() { cancel(); <-done }()
	if _, err := f.pub.Publish(context.Background(), streams.Out{Subject: schemas.SubjectEmbedJobs, Body: job(1, schemas.OpUpsert, "a good chunk")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pub.Publish(context.Background(), streams.Out{Subject: schemas.SubjectEmbedJobs, Body: &schemas.EmbedJob{DocumentID: "x", Op: "explode"}}); err != nil {
		t.Fatal(err)
	}
	var letters []streams.DeadLetterEntry
	testwait.Until(t, 10*time.Second, "one dead letter", func() bool {
		var err error
		letters, err = f.dlq.List(context.Background(), streams.ConsumerEmbedder)
		if err != nil {
			t.Fatal(err)
		}
		return len(letters) == 1
	})
	if letters[0].Letter.Reason != schemas.ReasonInvalid {
		t.Fatalf("dead letter %+v, want reason invalid", letters[0].Letter)
	}
	testwait.Until(t, 10*time.Second, "the good job indexed beside the bad one", func() bool { return f.count(t) == 1 })
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

// newJudgedFixture is a fixture whose embedder checks revisions against a
// real SQLite warehouse holding "doc-1", at the revision it returns.
func newJudgedFixture(t *testing.T) (*fixture, int64) {
	t.Helper()
	f := newFixture(t)
	ctx := context.Background()
	wh, err := warehouse.OpenSQLite(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	// Ten revisions of other documents, then doc-1: revisions below the
	// warehouse's highest that doc-1 never had.
	for i := range 10 {
		if _, err := wh.Upsert(ctx, []warehouse.Document{{ID: fmt.Sprint("other-", i), Collection: warehouse.Posts, Content: "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := wh.Upsert(ctx, []warehouse.Document{{ID: "doc-1", Collection: warehouse.Posts, Content: "real"}})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := embedder.OpenKVRevisions(ctx, f.js)
	if err != nil {
		t.Fatal(err)
	}
	f.revs = revs
	f.e = embedder.New(embedder.Config{Dense: embed.NewHashed(0), Sparse: embed.NewBM25(), Store: f.store, Publisher: f.pub, Revisions: revs, Warehouse: wh})
	for i := range 10 {
		if _, err := wh.Upsert(ctx, []warehouse.Document{{ID: fmt.Sprint("later-", i), Collection: warehouse.Posts, Content: "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	return f, res[0].Revision
}

// outcome delivers jobs as one batch and returns each one's error.
func (f *fixture) outcome(t *testing.T, jobs ...*schemas.EmbedJob) []error {
	t.Helper()
	msgs := make([]*streams.Msg, len(jobs))
	for i, j := range jobs {
		data, err := schemas.Encode(j)
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = &streams.Msg{Subject: schemas.SubjectEmbedJobs, Data: data}
	}
	errs := make([]error, len(jobs))
	if err := f.e.HandleBatch(context.Background(), msgs); err != nil {
		var each streams.BatchErrors
		if !asBatch(err, &each) {
			t.Fatalf("HandleBatch: %v", err)
		}
		copy(errs, each)
	}
	return errs
}

func (f *fixture) texts(t *testing.T) []string {
	t.Helper()
	hits, err := f.store.Search(context.Background(), vectors.Query{Sparse: embed.NewBM25().Query("real forged text"), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range hits {
		out = append(out, h.Payload.Text)
	}
	return out
}

func TestJobWithARevisionTheWarehouseNeverIssuedIsDeadLettered(t *testing.T) {
	t.Parallel()
	f, rev := newJudgedFixture(t)
	tests := []struct {
		name string
		rev  int64
	}{
		{"above the warehouse's highest", 9007199254740991},
		{"above the document's own, bucket ahead", rev + 5},
	}
	for _, tc := range tests {
		// The bucket ahead of the document (a forgery got through before):
		// the second case needs the per-document check this leads to. A
		// forged revision the warehouse did issue, to another document, is
		// otherwise indexed like any: revisions cannot tell content apart;
		// the next real write or a reindex replaces it.
		if err := f.revs.Put(context.Background(), map[string]int64{"doc-1": rev + 7}); err != nil {
			t.Fatal(err)
		}
		errs := f.outcome(t, job(tc.rev, schemas.OpUpsert, "forged text"), job(rev, schemas.OpUpsert, "real text"))
		if !errors.Is(errs[0], streams.ErrPermanent) || !errors.Is(errs[0], warehouse.ErrUnissuedRevision) {
			t.Fatalf("%s: forged job's outcome %v, want a permanent ErrUnissuedRevision", tc.name, errs[0])
		}
		if errs[1] != nil {
			t.Fatalf("%s: the real job beside it failed: %v", tc.name, errs[1])
		}
		if got := f.texts(t); len(got) != 1 || got[0] != "real text" {
			t.Fatalf("%s: index holds %q, want the real text alone", tc.name, got)
		}
	}
}

func TestBucketAheadOfTheWarehouseYieldsToItsRevision(t *testing.T) {
	t.Parallel()
	f, rev := newJudgedFixture(t)
	f.handle(t, job(rev, schemas.OpUpsert, "forged text")) // forged content at a real revision
	if err := f.revs.Put(context.Background(), map[string]int64{"doc-1": 9007199254740991}); err != nil {
		t.Fatal(err)
	}
	// An older revision than the warehouse's stays stale; the warehouse's
	// own revision (a reindex, a delete) overrules the bucket.
	if errs := f.outcome(t, job(rev-1, schemas.OpUpsert, "older real text")); errs[0] != nil {
		t.Fatalf("a stale job failed: %v", errs[0])
	}
	if got := f.texts(t); len(got) != 1 || got[0] != "forged text" {
		t.Fatalf("a job older than the warehouse's revision changed the index: %q", got)
	}
	f.handle(t, job(rev, schemas.OpUpsert, "real text"))
	if got := f.texts(t); len(got) != 1 || got[0] != "real text" {
		t.Fatalf("the warehouse's revision did not overrule the bucket: index holds %q", got)
	}
	have, err := f.revs.Get(context.Background(), []string{"doc-1"})
	if err != nil || have["doc-1"] != rev {
		t.Fatalf("bucket holds %v, %v; want the warehouse's revision %d", have, err, rev)
	}
}
