package cdc

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
)

// pageCounter is a Pages that counts its reads and fails a read of more
// than page documents.
type pageCounter struct {
	t     *testing.T
	held  Held
	page  int
	reads int
}

func (p *pageCounter) Changes(ctx context.Context, after int64, limit int) ([]warehouse.Document, error) {
	p.reads++
	if limit <= 0 || limit > p.page {
		p.t.Errorf("read %d documents at once, want pages of at most %d", limit, p.page)
	}
	return p.held.Changes(ctx, after, limit)
}

func TestRepublishPagesThroughTheStoreAndKeepsOnlyWhatItIsAskedFor(t *testing.T) {
	t.Parallel()
	var held Held
	for i := range 9 {
		d := doc(fmt.Sprint("d", i), "x")
		d.Revision = int64(i + 1)
		d.AuthorID = "ann"
		if i%3 == 0 {
			d.AuthorID = "bob"
		}
		held = append(held, d)
	}
	held[4].Deleted = true
	tests := []struct {
		name  string
		opts  RepublishOptions
		want  []string // document ids, in order
		reads int      // most page reads
	}{
		{"every document, a page at a time", RepublishOptions{Page: 2}, []string{"d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"}, 6},
		{"up to a revision", RepublishOptions{Page: 2, UpTo: 5}, []string{"d0", "d1", "d2", "d3", "d4"}, 3},
		{"one author's", RepublishOptions{Page: 4, Only: func(d *warehouse.Document) bool { return d.AuthorID == "bob" }}, []string{"d0", "d3", "d6"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			pages := &pageCounter{t: t, held: held, page: tt.opts.Page}
			tt.opts.Reason = "test"
			tt.opts.At = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			n, err := Republish(context.Background(), e.pub, pages, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tt.want) {
				t.Errorf("Republish reported %d documents, want %d", n, len(tt.want))
			}
			evs := e.waitEvents(t, len(tt.want))
			var got []string
			for _, ev := range evs {
				got = append(got, ev.DocumentID)
				if (ev.DocumentID == "d4") != (ev.Op == schemas.OpDelete) {
					t.Errorf("event of %s has op %s: only the tombstone d4 is a delete", ev.DocumentID, ev.Op)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("published %v, want %v", got, tt.want)
			}
			if pages.reads > tt.reads {
				t.Errorf("%d page reads, want at most %d", pages.reads, tt.reads)
			}
		})
	}
}

func TestRepublishGivesItsEventsIdsOfTheirOwn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := doc("a", "x")
	d.Revision = 1
	// The change itself first: a republish of the same revision must not be
	// folded into it by the stream's dedup window.
	out := Event(&d)
	if _, err := e.pub.Publish(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	// Two reindexes of it: each a request of its own.
	first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, at := range []time.Time{first, first.Add(time.Second)} {
		if _, err := Republish(context.Background(), e.pub, Held{d}, RepublishOptions{Reason: "reindex", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	e.waitEvents(t, 3) // the change and both reindexes
}
