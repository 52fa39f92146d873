package featurizer

import (
	"context"
	"errors"
	"fmt"

	"github.com/twin-llm/twin/internal/models/tokenizer"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Getter reads the warehouse: a document the CDC event did not carry, and
// the highest revision it has issued.
type Getter interface {
	Get(ctx context.Context, collection, id string) (warehouse.Document, error)
	LastRevision(ctx context.Context) (int64, error)
}

// Featurizer is the consumer: a warehouse change in, an embed job out.
type Featurizer struct {
	tok    *tokenizer.Tokenizer
	pub    *streams.Publisher
	store  Getter // may be nil: then events without a document are deletes
	clean  CleanOptions
	params map[string]ChunkParams
	// issued spares the warehouse a question for a change at or below the
	// highest revision it is known to have issued.
	issued warehouse.Issued
}

// Config assembles a featurizer.
type Config struct {
	Tokenizer *tokenizer.Tokenizer
	Publisher *streams.Publisher
	Store     Getter
	Clean     CleanOptions
	// Params overrides the chunking of a category (DefaultParams otherwise).
	Params map[string]ChunkParams
}

// New returns a featurizer.
func New(cfg Config) *Featurizer {
	params := map[string]ChunkParams{}
	for _, c := range warehouse.Collections() {
		params[c] = DefaultParams(c)
	}
	for c, p := range cfg.Params {
		params[c] = p
	}
	return &Featurizer{tok: cfg.Tokenizer, pub: cfg.Publisher, store: cfg.Store, clean: cfg.Clean, params: params}
}

// Handler is the featurizer as a streams handler.
func (f *Featurizer) Handler() streams.Handler {
	return streams.Decoded(func(ctx context.Context, m *streams.Msg, ev *schemas.CDCEvent) error {
		return f.handle(ctx, m.Header.Get(schemas.HeaderMsgID), ev)
	})
}

// Handle turns one change into one embed job: the document's new chunks,
// replacing all it had, or the removal of every chunk.
func (f *Featurizer) Handle(ctx context.Context, ev *schemas.CDCEvent) error {
	return f.handle(ctx, "", ev)
}

// handle is Handle for the CDC message whose Nats-Msg-Id is source.
func (f *Featurizer) handle(ctx context.Context, source string, ev *schemas.CDCEvent) error {
	doc, deleted, err := f.document(ctx, ev)
	if err != nil {
		return err
	}
	if err := f.checkIssued(ctx, ev.DocumentID, max(ev.Revision, doc.Revision)); err != nil {
		return err
	}
	origin := ev.ChangedAt
	job := &schemas.EmbedJob{DocumentID: ev.DocumentID, Op: schemas.OpDelete, Revision: ev.Revision, OriginTime: origin}
	if !deleted {
		p, ok := f.params[doc.Collection]
		if !ok {
			return streams.Permanent(fmt.Errorf("no chunking for collection %q", doc.Collection))
		}
		text := Clean(doc.Content, doc.Collection, f.clean)
		chunks := ChunkText(text, f.tok, p)
		job.Op = schemas.OpUpsert
		job.Revision = max(job.Revision, doc.Revision)
		job.AuthorID, job.Author, job.Category = doc.AuthorID, doc.Author, doc.Collection
		job.Platform, job.Link, job.Title = doc.Platform, doc.Link, doc.Title
		job.Chunking = p.Chunking()
		job.Chunks = make([]schemas.Chunk, len(chunks))
		for i, c := range chunks {
			job.Chunks[i] = schemas.Chunk{Index: c.Index, Text: c.Text, Tokens: c.Tokens}
		}
	}
	op := job.Op
	// The job's id follows its change's: a replay of the change is
	// deduplicated, but a reindex (a new message about the same revision)
	// must reach the embedder, whatever it did with that revision before.
	id := fmt.Sprintf("embed:%s:%d:%s", ev.DocumentID, job.Revision, op)
	if source != "" {
		id = "embed:" + op + ":" + source
	}
	_, err = f.pub.Publish(ctx, streams.Out{
		Subject: schemas.SubjectEmbedJobs,
		MsgID:   id,
		Body:    job,
	})
	return err
}

// checkIssued refuses, permanently, a change whose revision is above the
// warehouse's highest. The warehouse is asked only when the revision is
// above the highest seen so far.
func (f *Featurizer) checkIssued(ctx context.Context, id string, rev int64) error {
	if f.store == nil {
		return nil
	}
	last, err := f.issued.Covering(ctx, f.store.LastRevision, rev)
	if err != nil {
		return err
	}
	if rev > last {
		return streams.Permanent(fmt.Errorf("%w: document %s at revision %d, the warehouse's highest is %d",
			warehouse.ErrUnissuedRevision, id, rev, last))
	}
	return nil
}

// document is the document an event is about: the one it carries, or else
// the warehouse's, mapped to the contract; deleted when it is a tombstone or
// gone.
func (f *Featurizer) document(ctx context.Context, ev *schemas.CDCEvent) (*schemas.Document, bool, error) {
	if ev.Op == schemas.OpDelete {
		return &schemas.Document{}, true, nil
	}
	if ev.Document != nil {
		return ev.Document, ev.Document.Deleted, nil
	}
	if f.store == nil {
		return &schemas.Document{}, true, nil
	}
	d, err := f.store.Get(ctx, ev.Collection, ev.DocumentID)
	if errors.Is(err, warehouse.ErrNotFound) {
		return &schemas.Document{}, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	doc := warehouse.ToContract(&d)
	return &doc, doc.Deleted, nil
}
