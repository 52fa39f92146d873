package writer

import (
	"path/filepath"
	"testing"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// TestRedeliveredOlderVersionDoesNotReplaceNewer: a writer killed before it
// acked a batch gets it redelivered after the ack wait, by which time a
// later version of the same document (a later message) may have been
// written. The chaos bench found warehouses left at the older version.
func TestRedeliveredOlderVersionDoesNotReplaceNewer(t *testing.T) {
	t.Parallel()
	store, err := warehouse.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	w := New(store)
	msg := func(seq uint64, content string) *streams.Msg {
		body, err := schemas.Encode(&schemas.CrawledDocument{ID: "doc-1", Kind: schemas.KindArticle, URL: "https://example.com/1",
			Title: "One", Author: "Ada", Content: content})
		if err != nil {
			t.Fatal(err)
		}
		return &streams.Msg{Subject: schemas.DocsCrawled(schemas.KindArticle), Data: body, Sequence: seq, Delivered: 1}
	}
	for _, c := range []struct {
		name string
		msgs []*streams.Msg
		want string
	}{
		{"in order", []*streams.Msg{msg(1, "first version")}, "first version"},
		{"the later version", []*streams.Msg{msg(2, "second version")}, "second version"},
		{"the first redelivered", []*streams.Msg{msg(1, "first version")}, "second version"},
	} {
		if err := w.HandleBatch(t.Context(), c.msgs); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := store.Get(t.Context(), warehouse.Articles, "doc-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Content != c.want {
			t.Fatalf("after %s: the warehouse holds %q, want %q", c.name, got.Content, c.want)
		}
	}
}
