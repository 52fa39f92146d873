package warehouse

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/twin-llm/twin/schemas"
)

// The codec of document/v1 itself (exactly json.Marshal's bytes, read
// exactly as json.Unmarshal reads them) is tested and fuzzed with the
// package schemas; these tests hold the store to keeping its rows in that
// form, so that rows written before stay readable and rows written now read
// the same in older versions.

func sampleDocuments() []Document {
	at := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	return []Document{
		{ID: "d0", Collection: "posts", ContentHash: "h", Revision: 1, UpdatedAt: at},
		{ID: "d1", Collection: "articles", AuthorID: "u1", Author: "Ada", Platform: "medium", Link: "https://x/a?b=1&c=<2>",
			Title: "T \"q\" \\ é 日本 \U0001F600 \u2028", Content: "line\nbreak\ttab\r\x00\x1f ok\n\nbad \xff utf8",
			Language: "en", PublishedAt: at, Metadata: map[string]string{"stars": "42", "k\n": "<v>"},
			ContentHash: "sha256:ab", Revision: 123456789, Deleted: true, UpdatedAt: at.In(time.FixedZone("x", 3600))},
		{ID: "d2", Collection: "repositories", Metadata: map[string]string{}, ContentHash: "h", Revision: 7, UpdatedAt: at},
	}
}

func TestStoredDocumentIsJSONMarshal(t *testing.T) {
	t.Parallel()
	for _, d := range sampleDocuments() {
		want, err := json.Marshal(&d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeDocument(&d)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("encodeDocument wrote\n%s (%v)\njson.Marshal\n%s", got, err, want)
		}
		var wantDoc Document
		if err := json.Unmarshal(want, &wantDoc); err != nil {
			t.Fatal(err)
		}
		// Also as a json.Encoder without HTML escaping writes it.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&d); err != nil {
			t.Fatal(err)
		}
		for _, body := range [][]byte{want, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))} {
			back, err := decodeDocument(body)
			if err != nil {
				t.Fatalf("decodeDocument(%s): %v", body, err)
			}
			if !reflect.DeepEqual(back, wantDoc) {
				t.Fatalf("decodeDocument read\n%#v\njson.Unmarshal\n%#v", back, wantDoc)
			}
		}
	}
}

func TestContractMappingKeepsEveryField(t *testing.T) {
	t.Parallel()
	for _, d := range sampleDocuments() {
		c := ToContract(&d)
		if back := FromContract(&c); !reflect.DeepEqual(back, d) {
			t.Errorf("FromContract(ToContract(d)) = %#v, want %#v", back, d)
		}
		a, _ := json.Marshal(&d)
		b, _ := json.Marshal(&c)
		if !bytes.Equal(a, b) {
			t.Errorf("the contract's JSON\n%s\ndiffers from the store's\n%s", b, a)
		}
	}
}

func TestUnreadableRowIsNotAnInvalidMessage(t *testing.T) {
	t.Parallel()
	_, err := decodeDocument([]byte(`{"id":1}`))
	if err == nil {
		t.Fatal("decodeDocument accepted a number for an id")
	}
	if errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("the error of an unreadable row, %v, would be taken for a poison message", err)
	}
}
