package codec_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/schemas/internal/codec"
)

// checkEncode fails unless codec.Encode writes exactly what json.Marshal
// does, or gives up where json.Marshal fails.
func checkEncode(t testing.TB, m schemas.Message) {
	t.Helper()
	want, wantErr := json.Marshal(m)
	got, ok := codec.Encode(m)
	if ok && wantErr != nil {
		t.Fatalf("%T: Encode wrote %s where json.Marshal fails: %v", m, got, wantErr)
	}
	if ok && !bytes.Equal(got, want) {
		t.Fatalf("%T: Encode wrote\n%s\njson.Marshal\n%s", m, got, want)
	}
}

// rawHolder holds a raw message, which no message type of the hot path
// has any more; the fast encoder still covers it.
type rawHolder struct {
	Name string          `json:"name"`
	Raw  json.RawMessage `json:"raw,omitempty"`
}

func (rawHolder) Schema() string { return "raw_holder/v0" }

// encodeVariants builds the hot messages around s and raw.
func encodeVariants(s string, n int64, raw []byte) []schemas.Message {
	tm := time.Unix(n, n%1e9).UTC()
	if n%3 == 0 {
		tm = time.Time{}
	}
	job := schemas.EmbedJob{DocumentID: s, Op: s, Revision: n, AuthorID: s, Author: s, Category: s, Platform: s, Link: s, Title: s,
		Chunks:   []schemas.Chunk{{Index: int(n), Text: s, Tokens: int(n % 7)}, {Text: s + s}},
		Chunking: schemas.Chunking{Strategy: s, Size: int(n % 5)}, OriginTime: tm}
	if n%2 == 0 {
		job.Chunks, job.Chunking = nil, schemas.Chunking{}
	}
	if n%5 == 0 {
		job.Chunks = []schemas.Chunk{}
	}
	doc := &schemas.Document{ID: s, Collection: s, AuthorID: s, Author: s, Platform: s, Link: s, Title: s, Content: s, Language: s,
		PublishedAt: tm, Metadata: map[string]string{s: s, "k": s + s, "<": s}, ContentHash: s, Revision: n,
		Deleted: n%2 == 0, UpdatedAt: tm}
	switch n % 4 {
	case 0:
		doc = nil
	case 1:
		doc.Metadata = map[string]string{}
	case 2:
		doc.Metadata = nil
	}
	return []schemas.Message{
		job, &job,
		schemas.CDCEvent{Collection: s, Op: s, DocumentID: s, Revision: n, Token: s, Document: doc, ChangedAt: tm},
		rawHolder{Name: s, Raw: raw},
		schemas.IndexEvent{DocumentID: s, Op: s, Revision: -n, Chunks: int(n), OriginTime: tm, IndexedAt: tm},
		schemas.CrawlRequest{URL: s, Author: s, RequestedAt: tm},
		schemas.ReplyToken{Type: s, ID: s, Seq: int(n), Text: s},
	}
}

var encodeStrings = []string{"", "plain", "a\"b\\c/d", "<script>&amp;</script>", "line\nbreak\ttab\rret\b\f\x00\x1f\x7f",
	"é ü 日本 \U0001F600", "\u2028\u2029", "bad \xff utf8 \xe2\x80", strings.Repeat("0123456789abcdef", 20) + "<"}

var encodeRaws = [][]byte{nil, []byte(`{}`), []byte(`{"a":[1,2.5e3,true,null],"b":{"c":"d"}}`), []byte(`{ "a" : 1 }`),
	[]byte(`{"a":"<b>&"}`), []byte("{\"a\":\"\u2028\"}"), []byte(`{"a":"\u003c"}`), []byte(`[1]`), []byte(`"s"`),
	[]byte(`{"a":}`), []byte{}, []byte("{\"a\":\"\xff\"}")}

func TestEncodeIsJSONMarshal(t *testing.T) {
	t.Parallel()
	for i, s := range encodeStrings {
		for j, raw := range encodeRaws {
			for _, m := range encodeVariants(s, int64(i*len(encodeRaws)+j)*1234567891, raw) {
				checkEncode(t, m)
				if reflect.TypeOf(m).Kind() != reflect.Pointer {
					p := reflect.New(reflect.TypeOf(m))
					p.Elem().Set(reflect.ValueOf(m))
					checkEncode(t, p.Interface().(schemas.Message))
				}
			}
		}
	}
	// Every type here is one the fast path covers; a value it gives up on
	// (a raw message with spaces, say) is json.Marshal's to write.
	for _, m := range encodeVariants("", 1, nil) {
		if !codec.Encodes(reflect.TypeOf(m)) {
			t.Errorf("%T takes json.Marshal", m)
		}
	}
}

func FuzzEncode(f *testing.F) {
	for i, s := range encodeStrings {
		f.Add(s, int64(i), encodeRaws[i%len(encodeRaws)])
	}
	f.Fuzz(func(t *testing.T, s string, n int64, raw []byte) {
		for _, m := range encodeVariants(s, n, raw) {
			checkEncode(t, m)
		}
	})
}
