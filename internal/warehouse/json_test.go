package warehouse

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func checkDocumentEncoding(t testing.TB, d Document) {
	t.Helper()
	want, wantErr := json.Marshal(&d)
	got, err := MarshalDocument(&d)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("MarshalDocument wrote\n%s (%v)\njson.Marshal\n%s (%v)", got, err, want, wantErr)
	}
}

func TestEncodeDocumentIsJSONMarshal(t *testing.T) {
	t.Parallel()
	if !documentShapeKnown {
		t.Fatal("Document changed: update MarshalDocument and documentShape (json.Marshal is used meanwhile)")
	}
	at := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("x", 5400))
	strs := []string{"", "plain", "a\"b\\c/d", "<script>&amp;", "line\nbreak\ttab\r\b\f\x00\x1f\x7f", "é 日本 \U0001F600",
		"\u2028\u2029", "bad \xff utf8 \xe2\x80"}
	for i, s := range strs {
		d := Document{ID: s, Collection: s, AuthorID: s, Author: s, Platform: s, Link: s, Title: s, Content: s,
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
	checkDocumentEncoding(t, Document{})
	checkDocumentEncoding(t, Document{UpdatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}) // json.Marshal refuses
}

func FuzzEncodeDocument(f *testing.F) {
	f.Add("id", "content <&>\n", "k", int64(7), true, int64(1741964966))
	f.Fuzz(func(t *testing.T, id, content, key string, rev int64, deleted bool, unix int64) {
		d := Document{ID: id, Collection: "articles", Content: content, Metadata: map[string]string{key: content},
			Revision: rev, Deleted: deleted, UpdatedAt: time.Unix(unix%(1<<34), rev%1e9).UTC()}
		checkDocumentEncoding(t, d)
	})
}

// checkDocument fails unless UnmarshalDocument reads data as json.Unmarshal does.
func checkDocument(t testing.TB, data []byte) {
	t.Helper()
	var want, got Document
	wantErr := json.Unmarshal(data, &want)
	err := UnmarshalDocument(data, &got)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: UnmarshalDocument error %v, json.Unmarshal error %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: UnmarshalDocument read\n%#v\njson.Unmarshal\n%#v", data, got, want)
	}
}

func sampleDocuments() []Document {
	at := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	return []Document{
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
		if !readDocument(data, &Document{}) && !strings.Contains(string(data), `\ufffd`) {
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
