package cdc

import (
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
)

// benchDocument is a 4 KB document as the warehouse hands it to the tail.
func benchDocument() warehouse.Document {
	return warehouse.Document{ID: "doc-1", Collection: warehouse.Articles, AuthorID: "u-1", Author: "Ada",
		Platform: "blog", Link: "https://example.com/a", Title: "Generated", Language: "en",
		Content:     strings.Repeat("stream consumer message queue durable replica. ", 85) + "\n\nend",
		ContentHash: "sha256:0123456789abcdef", Revision: 7, UpdatedAt: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)}
}

// BenchmarkEventHop is the codec's share of a change's hop from the tail
// to the featurizer: the event built and encoded, then decoded to the
// document the featurizer reads.
func BenchmarkEventHop(b *testing.B) {
	d := benchDocument()
	out := Event(&d)
	body, err := schemas.Encode(out.Body)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			out := Event(&d)
			if _, err := schemas.Encode(out.Body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var ev schemas.CDCEvent
			if err := schemas.Decode(body, &ev); err != nil || ev.Document.Content != d.Content {
				b.Fatal(err)
			}
		}
	})
}
