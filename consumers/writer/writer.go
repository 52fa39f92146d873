// Package writer is the warehouse writer: it takes crawled documents
// from twin.docs.crawled.> in batches and upserts them into the warehouse
// store in one bulk each. Unchanged content is a no-op in the store, so a
// redelivered or re-crawled document costs a read, never a new revision.
package writer

import (
	"context"
	"fmt"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Writer is the consumer.
type Writer struct {
	store warehouse.Store
	batch streams.BatchHandler
}

// New returns a writer into store.
func New(store warehouse.Store) *Writer {
	w := &Writer{store: store}
	w.batch = streams.DecodedBatch(w.write)
	return w
}

// HandleBatch implements streams.BatchHandler: every valid document of the
// batch is written in one bulk, and acked only once the bulk committed; an
// invalid one is dead-lettered on its own.
func (w *Writer) HandleBatch(ctx context.Context, msgs []*streams.Msg) error {
	return w.batch.HandleBatch(ctx, msgs)
}

func (w *Writer) write(ctx context.Context, msgs []*streams.Msg, crawled []*schemas.CrawledDocument) error {
	errs := make(streams.BatchErrors, len(crawled))
	docs := make([]warehouse.Document, 0, len(crawled))
	for i, d := range crawled {
		doc, err := Document(d)
		if err != nil {
			errs[i] = streams.Permanent(err)
			continue
		}
		// The stream's order is the order of the versions: a message
		// redelivered after a later one of the same document was written
		// (this writer killed before its ack) must not bring the older
		// version back, and the store refuses it by this.
		doc.SourceSeq = msgs[i].Sequence
		docs = append(docs, doc)
	}
	if len(docs) > 0 {
		if _, err := w.store.Upsert(ctx, docs); err != nil {
			// The store refused the whole bulk: every valid message retries.
			for i := range errs {
				if errs[i] == nil {
					errs[i] = fmt.Errorf("warehouse upsert of %d documents: %w", len(docs), err)
				}
			}
		}
	}
	return errs.Err()
}

// Document maps a crawled document to the warehouse's. Its id is the one
// it came with (imports keep theirs), else the store derives it from the
// normalized URL.
func Document(d *schemas.CrawledDocument) (warehouse.Document, error) {
	coll, err := warehouse.CollectionForKind(d.Kind)
	if err != nil {
		return warehouse.Document{}, err
	}
	// Metadata is part of the content hash: nothing that changes on every
	// crawl (the crawl time) goes in, or an unchanged page would be
	// rewritten each time.
	meta := make(map[string]string, len(d.Metadata)+3)
	for k, v := range d.Metadata {
		meta[k] = v
	}
	for k, v := range map[string]string{"description": d.Description, "site_name": d.SiteName} {
		if v != "" {
			meta[k] = v
		}
	}
	return warehouse.Document{
		ID:          d.ID,
		Collection:  coll,
		Author:      d.Author,
		Platform:    d.Platform,
		Link:        d.URL,
		Title:       d.Title,
		Content:     d.Content,
		Language:    d.Language,
		PublishedAt: d.PublishedAt,
		Metadata:    meta,
	}, nil
}
