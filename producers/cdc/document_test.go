package cdc

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/warehouse"
)

func checkDocumentEncoding(t testing.TB, d warehouse.Document) {
	t.Helper()
	want, wantErr := json.Marshal(&d)
	got, err := encodeDocument(&d)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("encodeDocument wrote\n%s (%v)\njson.Marshal\n%s (%v)", got, err, want, wantErr)
	}
}

func TestEncodeDocumentIsJSONMarshal(t *testing.T) {
	t.Parallel()
	if !documentShapeKnown {
		t.Fatal("warehouse.Document changed: update encodeDocument and documentShape (json.Marshal is used meanwhile)")
	}
	at := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("x", 5400))
	strs := []string{"", "plain", "a\"b\\c/d", "<script>&amp;", "line\nbreak\ttab\r\b\f\x00\x1f\x7f", "é 日本 \U0001F600",
		"\u2028\u2029", "bad \xff utf8 \xe2\x80"}
	for i, s := range strs {
		d := warehouse.Document{ID: s, Collection: s, AuthorID: s, Author: s, Platform: s, Link: s, Title: s, Content: s,
			Language: s, ContentHash: s, Revision: int64(i) * -1234567, Deleted: i%2 == 0, UpdatedAt: at.Add(time.Duration(i))}
		if i%3 == 0 {
			d.PublishedAt = at
			d.Metadata = map[string]string{s: s, "b": "x", "a": s + "y"}
		}
		if i%4 == 1 {
			d.Metadata = map[string]string{}
		}
		checkDocumentEncoding(t, d)
	}
	checkDocumentEncoding(t, warehouse.Document{})
	checkDocumentEncoding(t, warehouse.Document{UpdatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}) // json.Marshal refuses
}

func FuzzEncodeDocument(f *testing.F) {
	f.Add("id", "content <&>\n", "k", int64(7), true, int64(1741964966))
	f.Fuzz(func(t *testing.T, id, content, key string, rev int64, deleted bool, unix int64) {
		d := warehouse.Document{ID: id, Collection: "articles", Content: content, Metadata: map[string]string{key: content},
			Revision: rev, Deleted: deleted, UpdatedAt: time.Unix(unix%(1<<34), rev%1e9).UTC()}
		checkDocumentEncoding(t, d)
	})
}
