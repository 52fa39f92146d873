package cdc

import (
	"context"
	"sort"
	"time"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/streams"
)

// Pages reads documents in revision order, a page at a time: the
// warehouse's Changes.
type Pages interface {
	Changes(ctx context.Context, afterRevision int64, limit int) ([]warehouse.Document, error)
}

// Held is a Pages over documents already in hand, for republishing a few
// without reading the warehouse again.
type Held []warehouse.Document

// Changes implements Pages.
func (h Held) Changes(_ context.Context, afterRevision int64, limit int) ([]warehouse.Document, error) {
	docs := make([]warehouse.Document, 0, len(h))
	for _, d := range h {
		if d.Revision > afterRevision {
			docs = append(docs, d)
		}
	}
	sort.SliceStable(docs, func(i, j int) bool { return docs[i].Revision < docs[j].Revision })
	if limit > 0 && len(docs) > limit {
		docs = docs[:limit]
	}
	return docs, nil
}

// RepublishOptions says why documents are published again and which.
type RepublishOptions struct {
	// Reason and At make the events' ids new ("reason:at:..."): a
	// republish is a new request on purpose, and the old events' ids would
	// be deduplicated away within the CDC dedup window (or, after a
	// warehouse was restored from an older copy, drop a document the
	// stream carried at the same revision with other content). At defaults
	// to now.
	Reason string
	At     time.Time
	// UpTo stops at this revision (a later write is the tail's to
	// publish); zero publishes every page.
	UpTo int64
	// Only keeps the documents it accepts; nil keeps every one.
	Only func(*warehouse.Document) bool
	// OriginNow measures the events' latency from now (a request) rather
	// than from the documents' own change.
	OriginNow bool
	// Page is how many documents are read and published at a time;
	// default 512. The warehouse is never held in memory whole.
	Page int
}

// Republish publishes the documents of pages (tombstones included, as
// deletes) as CDC events at their current revision, a page at a time, and
// returns how many it published. Whatever the index holds or believes it
// holds, each document's chunks end up as the warehouse has it: the
// embedder lets the warehouse's revision overrule its own record.
func Republish(ctx context.Context, pub *streams.Publisher, pages Pages, opts RepublishOptions) (int, error) {
	if opts.Page <= 0 {
		opts.Page = 512
	}
	if opts.At.IsZero() {
		opts.At = time.Now()
	}
	nonce := opts.Reason + ":" + opts.At.UTC().Format(time.RFC3339Nano) + ":"
	n := 0
	for after := int64(0); opts.UpTo == 0 || after < opts.UpTo; {
		page, err := pages.Changes(ctx, after, opts.Page)
		if err != nil {
			return n, err
		}
		if len(page) == 0 {
			return n, nil
		}
		outs := make([]streams.Out, 0, len(page))
		past := false
		for i := range page {
			if opts.UpTo > 0 && page[i].Revision > opts.UpTo {
				past = true
				break
			}
			if opts.Only != nil && !opts.Only(&page[i]) {
				continue
			}
			out := Event(&page[i])
			out.MsgID = nonce + out.MsgID
			if opts.OriginNow {
				out.OriginTime = time.Now()
			}
			outs = append(outs, out)
		}
		if len(outs) > 0 {
			if _, err := pub.PublishBatch(ctx, outs); err != nil {
				return n, err
			}
		}
		n += len(outs)
		if past {
			return n, nil
		}
		after = page[len(page)-1].Revision
	}
	return n, nil
}
