// Package embedder is the embedder consumer: it takes embed jobs from
// twin.embed.jobs in batches, embeds every chunk of the batch together
// (dense model and BM25 sparse vectors), upserts the points into the vector
// store, removes each document's stale points, and announces on
// twin.index.events that the documents are searchable.
package embedder

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/synadia-io/orbit.go/jetstreamext"
	"golang.org/x/sync/errgroup"

	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// pointNamespace is the UUIDv5 namespace of point ids.
var pointNamespace = uuid.MustParse("6f1f1c1e-2b7a-5d1e-9c55-74776e2d7074")

// PointID is the deterministic id of a chunk: the same chunk of the same
// document version is always the same point, so a redelivered job
// overwrites instead of duplicating.
func PointID(documentID string, index int, text string) string {
	return uuid.NewSHA1(pointNamespace, []byte(documentID+"\x00"+strconv.Itoa(index)+"\x00"+text)).String()
}

// Revisions remembers the last revision indexed per document, so a job
// for an older revision that arrives late (a redelivery, a replay) never
// overwrites a newer one. The JetStream KV bucket is the real one. Both
// calls take a batch's documents at once: one round trip each, not one
// per document.
type Revisions interface {
	// Get returns the indexed revision of each of ids that has one.
	Get(ctx context.Context, ids []string) (map[string]int64, error)
	// Put records the revisions, id → revision.
	Put(ctx context.Context, revisions map[string]int64) error
}

// Warehouse is what the embedder asks the warehouse, the only source of
// revisions: the bucket of indexed revisions and the jobs only repeat what
// it issued, and either can be wrong (a forged message, a warehouse
// restored from an older copy). warehouse.Store implements it.
type Warehouse interface {
	// LastRevision is the highest revision the warehouse has issued.
	LastRevision(ctx context.Context) (int64, error)
	// DocumentRevisions is the current revision of each of ids it holds.
	DocumentRevisions(ctx context.Context, ids []string) (map[string]int64, error)
}

// Embedder is the consumer.
type Embedder struct {
	dense     embed.Dense
	sparse    embed.Sparse
	store     vectors.Store
	pub       *streams.Publisher
	revisions Revisions
	warehouse Warehouse
	// issued spares the warehouse a question for a job at or below the
	// highest revision it is known to have issued.
	issued    warehouse.Issued
	maxBatch  int
	freshness prometheus.Observer
	// indexing keeps concurrent batches (the runtime may run several
	// workers) off each other's documents.
	indexing inFlight
	batch    streams.BatchHandler
}

// Config assembles an embedder.
type Config struct {
	Dense     embed.Dense
	Sparse    embed.Sparse
	Store     vectors.Store
	Publisher *streams.Publisher
	Revisions Revisions
	// Warehouse checks the jobs' revisions; nil trusts them (tests of the
	// indexing alone).
	Warehouse Warehouse
	// ModelBatch is the most texts sent to the dense model at once.
	ModelBatch int
	// Registerer gets twin_freshness_seconds; nil leaves it unregistered.
	Registerer prometheus.Registerer
}

// New returns an embedder.
func New(cfg Config) *Embedder {
	if cfg.ModelBatch <= 0 {
		cfg.ModelBatch = 256
	}
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "twin_freshness_seconds",
		Help:    "From a document's change in the warehouse (Twin-Origin-Time) to its chunks being searchable.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(h)
	}
	e := &Embedder{dense: cfg.Dense, sparse: cfg.Sparse, store: cfg.Store, pub: cfg.Publisher,
		revisions: cfg.Revisions, warehouse: cfg.Warehouse, maxBatch: cfg.ModelBatch, freshness: h}
	e.batch = streams.DecodedBatch(e.handle)
	return e
}

// job is one decoded message of a batch.
type job struct {
	i    int // index in the batch
	body *schemas.EmbedJob
	ids  []string // point ids of its chunks
}

// HandleBatch implements streams.BatchHandler.
func (e *Embedder) HandleBatch(ctx context.Context, msgs []*streams.Msg) error {
	return e.batch.HandleBatch(ctx, msgs)
}

// handle indexes a batch of decoded jobs.
func (e *Embedder) handle(ctx context.Context, msgs []*streams.Msg, bodies []*schemas.EmbedJob) error {
	errs := make(streams.BatchErrors, len(msgs))
	var jobs []*job
	decoded := make([]*job, len(bodies))
	for i, b := range bodies {
		decoded[i] = &job{i: i, body: b}
	}
	// Before the newest of each document is picked: a forged revision must
	// not shadow the real ones beside it in the batch.
	if err := e.dropUnissued(ctx, decoded, errs); err != nil {
		for _, j := range decoded {
			if j != nil {
				errs[j.i] = err
			}
		}
		return errs
	}
	latest := map[string]*job{} // per document, the newest revision in the batch
	for _, j := range decoded {
		if j == nil {
			continue
		}
		if prev, ok := latest[j.body.DocumentID]; ok && prev.body.Revision > j.body.Revision {
			continue // an older version in the same batch: superseded
		}
		latest[j.body.DocumentID] = j
	}
	// From the revision check to the last write, a document belongs to
	// this batch alone: with two batches at once, both could pass the
	// check and each prune the other's points.
	docs := make([]string, 0, len(latest))
	for id := range latest {
		docs = append(docs, id)
	}
	release, err := e.indexing.acquire(ctx, docs)
	if err != nil {
		for _, j := range latest {
			errs[j.i] = err
		}
		return errs
	}
	defer release()
	have, err := e.indexed(ctx, docs)
	if err != nil {
		for _, j := range latest {
			errs[j.i] = err
		}
		return errs
	}
	var doubtful []*job
	for _, j := range latest {
		if j.body.Revision == 0 || have[j.body.DocumentID] <= j.body.Revision {
			jobs = append(jobs, j)
		} else {
			doubtful = append(doubtful, j)
		}
	}
	if len(doubtful) > 0 {
		more, err := e.overrule(ctx, doubtful, have, errs)
		if err != nil {
			for _, j := range latest {
				errs[j.i] = err
			}
			return errs
		}
		jobs = append(jobs, more...)
	}
	if err := e.index(ctx, jobs); err != nil {
		for _, j := range jobs {
			errs[j.i] = err
		}
		return errs
	}
	now := time.Now()
	for _, j := range jobs {
		if t, ok := msgs[j.i].OriginTime(); ok {
			e.freshness.Observe(now.Sub(t).Seconds())
		}
	}
	return errs.Err()
}

// inFlight is the set of documents some batch is indexing.
//
// Invariant: a batch takes all of its documents at once or none, and waits
// with none held, so two batches can never wait for each other.
type inFlight struct {
	mu   sync.Mutex // guards docs
	docs map[string]chan struct{}
}

// acquire waits until none of ids is being indexed, takes them all, and
// returns the function that gives them back.
func (f *inFlight) acquire(ctx context.Context, ids []string) (func(), error) {
	for {
		f.mu.Lock()
		var busy chan struct{}
		for _, id := range ids {
			if ch, ok := f.docs[id]; ok {
				busy = ch
				break
			}
		}
		if busy == nil {
			if f.docs == nil {
				f.docs = make(map[string]chan struct{})
			}
			done := make(chan struct{})
			for _, id := range ids {
				f.docs[id] = done
			}
			f.mu.Unlock()
			return func() {
				f.mu.Lock()
				for _, id := range ids {
					delete(f.docs, id)
				}
				f.mu.Unlock()
				close(done)
			}, nil
		}
		f.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// dropUnissued dead-letters (and removes from decoded) every job whose
// revision is above the highest the warehouse has issued. The warehouse is
// asked only when a job is above the highest seen so far: once per batch
// while new writes stream in, never for a replay. The error is the
// warehouse's, when it cannot answer.
func (e *Embedder) dropUnissued(ctx context.Context, decoded []*job, errs streams.BatchErrors) error {
	if e.warehouse == nil {
		return nil
	}
	var top int64
	for _, j := range decoded {
		if j != nil {
			top = max(top, j.body.Revision)
		}
	}
	last, err := e.issued.Covering(ctx, e.warehouse.LastRevision, top)
	if err != nil {
		return err
	}
	for i, j := range decoded {
		if j != nil && j.body.Revision > last {
			errs[j.i] = streams.Permanent(fmt.Errorf("%w: document %s at revision %d, the warehouse's highest is %d",
				warehouse.ErrUnissuedRevision, j.body.DocumentID, j.body.Revision, last))
			decoded[i] = nil
		}
	}
	return nil
}

// overrule decides the jobs older than the revision the bucket holds for
// their document, with the warehouse as the judge. Usually the job is a
// late redelivery and is dropped. But when the bucket holds a revision the
// warehouse never issued for the document (a forged job got through, or
// the warehouse was restored from an older copy), the bucket is wrong:
// the job at the warehouse's revision is indexed and overwrites it, so
// reindex and delete converge to the warehouse whatever the bucket says.
// A job above the document's revision in the warehouse is dead-lettered.
func (e *Embedder) overrule(ctx context.Context, doubtful []*job, have map[string]int64, errs streams.BatchErrors) ([]*job, error) {
	if e.warehouse == nil {
		return nil, nil
	}
	ids := make([]string, len(doubtful))
	for i, j := range doubtful {
		ids[i] = j.body.DocumentID
	}
	current, err := e.warehouse.DocumentRevisions(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read the warehouse's revisions: %w", err)
	}
	var jobs []*job
	for _, j := range doubtful {
		id, rev := j.body.DocumentID, j.body.Revision
		cur, held := current[id]
		switch {
		case !held:
			errs[j.i] = streams.Permanent(fmt.Errorf("%w: document %s at revision %d is not in the warehouse",
				warehouse.ErrUnissuedRevision, id, rev))
		case rev > cur:
			errs[j.i] = streams.Permanent(fmt.Errorf("%w: document %s at revision %d, its revision in the warehouse is %d",
				warehouse.ErrUnissuedRevision, id, rev, cur))
		case have[id] > cur && rev == cur:
			jobs = append(jobs, j)
		}
	}
	return jobs, nil
}

// indexed is the revision indexed of each of docs that has one.
func (e *Embedder) indexed(ctx context.Context, docs []string) (map[string]int64, error) {
	if e.revisions == nil {
		return nil, nil
	}
	have, err := e.revisions.Get(ctx, docs)
	if err != nil {
		return nil, fmt.Errorf("read indexed revisions: %w", err)
	}
	return have, nil
}

// index embeds, upserts, prunes and announces the jobs. Every step is
// idempotent, so a failure anywhere retries the whole batch safely.
func (e *Embedder) index(ctx context.Context, jobs []*job) error {
	if len(jobs) == 0 {
		return nil
	}
	var texts []string
	for _, j := range jobs {
		if j.body.Op == schemas.OpDelete {
			continue
		}
		j.ids = make([]string, len(j.body.Chunks))
		for k, c := range j.body.Chunks {
			j.ids[k] = PointID(j.body.DocumentID, c.Index, c.Text)
			texts = append(texts, embedText(j.body, c.Text))
		}
	}
	dense, sparse, err := e.embed(ctx, texts)
	if err != nil {
		return err
	}
	points := make([]vectors.Point, 0, len(texts))
	denseModel, sparseModel := e.dense.Model(), e.sparse.Model()
	n := 0
	for _, j := range jobs {
		if j.body.Op == schemas.OpDelete {
			continue
		}
		for k, c := range j.body.Chunks {
			points = append(points, vectors.Point{
				ID:      j.ids[k],
				Dense:   dense[n],
				Sparse:  sparse[n],
				Payload: payload(j.body, c, denseModel, sparseModel),
			})
			n++
		}
	}
	if len(points) > 0 {
		if err := e.store.Upsert(ctx, points); err != nil {
			return fmt.Errorf("upsert %d points: %w", len(points), err)
		}
	}
	// After the upsert: the new version is searchable before the old one
	// disappears, so a search never finds the document missing. All at
	// once, so that a store can commit them together.
	var prunes errgroup.Group
	prunes.SetLimit(64)
	for _, j := range jobs {
		prunes.Go(func() error {
			if _, err := e.store.DeleteDocument(ctx, j.body.DocumentID, j.ids); err != nil {
				return fmt.Errorf("prune %s: %w", j.body.DocumentID, err)
			}
			return nil
		})
	}
	if err := prunes.Wait(); err != nil {
		return err
	}
	outs := make([]streams.Out, 0, len(jobs))
	for _, j := range jobs {
		op := schemas.OpUpsert
		if j.body.Op == schemas.OpDelete {
			op = schemas.OpDelete
		}
		outs = append(outs, streams.Out{
			Subject:    schemas.SubjectIndexEvents,
			MsgID:      fmt.Sprintf("index:%s:%d:%s", j.body.DocumentID, j.body.Revision, op),
			Body:       &schemas.IndexEvent{DocumentID: j.body.DocumentID, Op: op, Revision: j.body.Revision, Chunks: len(j.ids), OriginTime: j.body.OriginTime, IndexedAt: time.Now().UTC()},
			OriginTime: j.body.OriginTime,
		})
	}
	if e.revisions != nil {
		revs := make(map[string]int64, len(jobs))
		for _, j := range jobs {
			if j.body.Revision > 0 {
				revs[j.body.DocumentID] = j.body.Revision
			}
		}
		if err := e.revisions.Put(ctx, revs); err != nil {
			return fmt.Errorf("record indexed revisions: %w", err)
		}
	}
	if _, err := e.pub.PublishBatch(ctx, outs); err != nil {
		return fmt.Errorf("publish index events: %w", err)
	}
	return nil
}

// embed runs the models over texts in batches of maxBatch, several batches
// at once (one per core): the embedded model is CPU-bound, and a model
// server serves parallel requests. The sparse vectors are computed beside,
// in the same batches.
func (e *Embedder) embed(ctx context.Context, texts []string) ([][]float32, []vectors.Sparse, error) {
	dense := make([][]float32, len(texts))
	sparse := make([]vectors.Sparse, len(texts))
	procs := runtime.GOMAXPROCS(0)
	size := min(e.maxBatch, max(32, (len(texts)+procs-1)/procs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(procs)
	for start := 0; start < len(texts); start += size {
		end := min(start+size, len(texts))
		g.Go(func() error {
			// Both models at once: the embedded ones share their analysis
			// of each text.
			vs, sp, err := embed.Documents(gctx, e.dense, e.sparse, texts[start:end])
			if err != nil {
				return fmt.Errorf("embed %d texts with %s: %w", end-start, e.dense.Model(), err)
			}
			if len(vs) != end-start || len(sp) != end-start {
				return fmt.Errorf("embed: %d vectors for %d texts", len(vs), end-start)
			}
			copy(dense[start:end], vs)
			copy(sparse[start:end], sp)
			return nil
		})
	}
	return dense, sparse, g.Wait()
}

// embedText is what a chunk is embedded as: its document's title gives
// every chunk the context of what it is part of.
func embedText(j *schemas.EmbedJob, text string) string {
	if j.Title == "" {
		return text
	}
	return j.Title + "\n\n" + text
}

func payload(j *schemas.EmbedJob, c schemas.Chunk, denseModel, sparseModel string) vectors.Payload {
	return vectors.Payload{
		DocumentID: j.DocumentID,
		AuthorID:   j.AuthorID,
		Author:     j.Author,
		Category:   j.Category,
		Platform:   j.Platform,
		Link:       j.Link,
		Title:      j.Title,
		ChunkIndex: c.Index,
		Text:       c.Text,
		Extra: map[string]any{
			"revision":          float64(j.Revision),
			"tokens":            float64(c.Tokens),
			"chunking_strategy": j.Chunking.Strategy,
			"chunk_size":        float64(j.Chunking.Size),
			"chunk_overlap":     float64(j.Chunking.Overlap),
			"tokenizer":         j.Chunking.Tokenizer,
			"dense_model":       denseModel,
			"sparse_model":      sparseModel,
		},
	}
}

// KVRevisions keeps the last indexed revision of each document in a
// JetStream KV bucket.
type KVRevisions struct{ js jetstream.JetStream }

// revisionsBucket is the bucket's name; its stream is KV_ and the name.
const revisionsBucket = "twin_index"

// OpenKVRevisions opens (creating) the bucket.
func OpenKVRevisions(ctx context.Context, js jetstream.JetStream) (*KVRevisions, error) {
	_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      revisionsBucket,
		Description: "the last revision of each document in the vector store",
		History:     1,
		MaxBytes:    256 << 20,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("index revisions bucket: %w", err)
	}
	return &KVRevisions{js: js}, nil
}

// maxMultiGet is the most subjects a multi-last direct get may answer
// (nats-server's maxAllowedResponses).
const maxMultiGet = 1024

// Get implements Revisions: one multi-last direct get per 1,024 ids
// (nats-server 2.11 and later) instead of a request per key.
func (r *KVRevisions) Get(ctx context.Context, ids []string) (map[string]int64, error) {
	have := make(map[string]int64, len(ids))
	for start := 0; start < len(ids); start += maxMultiGet {
		part := ids[start:min(start+maxMultiGet, len(ids))]
		bySubject := make(map[string]string, len(part))
		subjects := make([]string, 0, len(part))
		for _, id := range part {
			subj := kvSubject(id)
			if _, dup := bySubject[subj]; !dup {
				bySubject[subj] = id
				subjects = append(subjects, subj)
			}
		}
		msgs, err := jetstreamext.GetLastMsgsFor(ctx, r.js, "KV_"+revisionsBucket, subjects, jetstreamext.GetLastMsgsBatchSize(len(subjects)))
		if err != nil {
			return nil, err
		}
		for m, err := range msgs {
			if errors.Is(err, jetstreamext.ErrNoMessages) {
				break // none of them indexed yet
			}
			if err != nil {
				return nil, err
			}
			id, ok := bySubject[m.Subject]
			if !ok || m.Header.Get(kvOperation) != "" {
				continue // a delete or purge marker: nothing indexed
			}
			rev, _, err := parseIndexed(m.Data)
			if err != nil {
				return nil, fmt.Errorf("indexed revision of %s: %w", id, err)
			}
			have[id] = rev
		}
	}
	return have, nil
}

// kvOperation is the header KV sets on delete and purge markers.
const kvOperation = "KV-Operation"

// Put implements Revisions: the puts are published at once, then their
// acks awaited.
func (r *KVRevisions) Put(ctx context.Context, revisions map[string]int64) error {
	acks := make([]jetstream.PubAckFuture, 0, len(revisions))
	for id, rev := range revisions {
		ack, err := r.js.PublishAsync(kvSubject(id), indexedValue(rev, id))
		if err != nil {
			return err
		}
		acks = append(acks, ack)
	}
	_, err := streams.AwaitAcks(ctx, acks)
	return err
}

// IDs lists every document the bucket holds a revision of, id → revision:
// one pass over the bucket's stream. Entries written before the values
// carried the id cannot be listed and are left out.
func (r *KVRevisions) IDs(ctx context.Context) (map[string]int64, error) {
	kv, err := r.js.KeyValue(ctx, revisionsBucket)
	if err != nil {
		return nil, fmt.Errorf("index revisions bucket: %w", err)
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list indexed documents: %w", err)
	}
	defer w.Stop()
	out := map[string]int64{}
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				return out, nil // every entry there was is read
			}
			rev, id, err := parseIndexed(e.Value())
			if err != nil {
				return nil, fmt.Errorf("indexed revision under %s: %w", e.Key(), err)
			}
			if id != "" {
				out[id] = rev
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// indexedValue is a bucket entry: the revision, then the document's id (the
// key is a hash of it), so that the bucket can be listed by document.
func indexedValue(rev int64, id string) []byte {
	return append(append(strconv.AppendInt(nil, rev, 10), ' '), id...)
}

// parseIndexed reads an entry of indexedValue, or a bare revision (the
// entries of earlier versions, whose id is then "").
func parseIndexed(v []byte) (int64, string, error) {
	num, id, _ := strings.Cut(string(v), " ")
	rev, err := strconv.ParseInt(num, 10, 64)
	return rev, id, err
}

// kvSubject is the bucket's subject of a document's key.
func kvSubject(id string) string { return "$KV." + revisionsBucket + "." + kvKey(id) }

// kvKey makes a document id a valid KV key (ids may hold "/" or ":").
func kvKey(id string) string { return uuid.NewSHA1(pointNamespace, []byte(id)).String() }
