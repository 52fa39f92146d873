package featurizer

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/warehouse"
)

// checkDocument fails unless decodeDocument reads data as json.Unmarshal does.
func checkDocument(t testing.TB, data []byte) {
	t.Helper()
	var want, got warehouse.Document
	wantErr := json.Unmarshal(data, &want)
	err := decodeDocument(data, &got)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: decodeDocument error %v, json.Unmarshal error %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decodeDocument read\n%#v\njson.Unmarshal\n%#v", data, got, want)
	}
}

func sampleDocuments() []warehouse.Document {
	at := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	return []warehouse.Document{
		{},
		{ID: "d1", Collection: "articles", AuthorID: "u1", Author: "Ada", Platform: "medium", Link: "https://x/a?b=1&c=<2>",
			Title: "T \"q\" \\ é 日本 \U0001F600 \u2028", Content: "line\nbreak\ttab\r\x00\x1f ok\n\nbad \xff utf8",
			Language: "en", PublishedAt: at, Metadata: map[string]string{"stars": "42", "k\n": "<v>"},
			ContentHash: "sha256:ab", Revision: 123456789, Deleted: true, UpdatedAt: at.In(time.FixedZone("x", 3600))},
		{ID: "d2", Metadata: map[string]string{}, Revision: -7},
	}
}

func TestDecodeDocumentIsJSONUnmarshal(t *testing.T) {
	t.Parallel()
	for _, d := range sampleDocuments() {
		data, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		checkDocument(t, data)
		if !readDocument(data, &warehouse.Document{}) && !strings.Contains(string(data), `\ufffd`) {
			t.Errorf("the fast path gave up on json.Marshal's %s", data)
		}
		for i := range data {
			checkDocument(t, data[:i])
			for _, c := range []byte{'"', '\\', '{', '}', ',', ':', '0', '-', 'a', 'A', ' ', 'u', 0xff} {
				mutated := append([]byte(nil), data...)
				mutated[i] = c
				checkDocument(t, mutated)
			}
		}
	}
	for _, body := range []string{
		`{"id":"a","id":"b"}`, `{"ID":"a"}`, `{"revision":1.0}`, `{"revision":-0}`, `{"revision":01}`,
		`{"revision":99999999999999999999}`, `{"metadata":null}`, `{"title":null}`, `{"deleted":null}`,
		`{"title":"\ud83d\ude00"}`, `{"title":"\ud83d"}`, `{"title":"\u00e9\u003c"}`, ` {"id":"a"}`, `{"id":"a"} `,
		`{"updated_at":"2025-03-14T15:09:26\u002eZ"}`, `{"updated_at":"yesterday"}`, `{"extra":1}`, `{}`, `[]`, `null`,
	} {
		checkDocument(t, []byte(body))
	}
}

func FuzzDecodeDocument(f *testing.F) {
	for _, d := range sampleDocuments() {
		data, _ := json.Marshal(d)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkDocument(t, data) })
}
