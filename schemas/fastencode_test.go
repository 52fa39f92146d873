package schemas

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// checkEncode fails unless Encode writes exactly what json.Marshal does.
func checkEncode(t testing.TB, m Message) {
	t.Helper()
	want, wantErr := json.Marshal(m)
	got, err := Encode(m)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%T: Encode error %v, json.Marshal error %v", m, err, wantErr)
	}
	if err == nil && !bytes.Equal(got, want) {
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
func encodeVariants(s string, n int64, raw []byte) []Message {
	tm := time.Unix(n, n%1e9).UTC()
	if n%3 == 0 {
		tm = time.Time{}
	}
	job := EmbedJob{DocumentID: s, Op: s, Revision: n, AuthorID: s, Author: s, Category: s, Platform: s, Link: s, Title: s,
		Chunks:   []Chunk{{Index: int(n), Text: s, Tokens: int(n % 7)}, {Text: s + s}},
		Chunking: Chunking{Strategy: s, Size: int(n % 5)}, OriginTime: tm}
	if n%2 == 0 {
		job.Chunks, job.Chunking = nil, Chunking{}
	}
	if n%5 == 0 {
		job.Chunks = []Chunk{}
	}
	doc := &Document{ID: s, Collection: s, AuthorID: s, Author: s, Platform: s, Link: s, Title: s, Content: s, Language: s,
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
	return []Message{
		job, &job,
		CDCEvent{Collection: s, Op: s, DocumentID: s, Revision: n, Token: s, Document: doc, ChangedAt: tm},
		rawHolder{Name: s, Raw: raw},
		IndexEvent{DocumentID: s, Op: s, Revision: -n, Chunks: int(n), OriginTime: tm, IndexedAt: tm},
		CrawlRequest{URL: s, Author: s, RequestedAt: tm},
		ReplyToken{Type: s, ID: s, Seq: int(n), Text: s},
	}
}

var encodeStrings = []string{"", "plain", "a\"b\\c/d", "<script>&amp;</script>", "line\nbreak\ttab\rret\b\f\x00\x1f\x7f",
	"é ü 日本 \U0001F600", "\u2028\u2029", "bad \xff utf8 \xe2\x80", strings.Repeat("0123456789abcdef", 20) + "<"}

var encodeRaws = [][]byte{nil, []byte(`{}`), []byte(`{"a":[1,2.5e3,true,null],"b":{"c":"d"}}`), []byte(`{ "a" : 1 }`),
	[]byte(`{"a":"<b>&"}`), []byte("{\"a\":\"\u2028\"}"), []byte(`{"a":"\u003c"}`), []byte(`[1]`), []byte(`"s"`),
	[]byte(`{"a":}`), []byte{}, []byte("{\"a\":\"\xff\"}")}

func TestFastEncodeIsJSONMarshal(t *testing.T) {
	t.Parallel()
	for _, m := range fullMessages() {
		checkEncode(t, m)
		p := reflect.New(reflect.TypeOf(m))
		p.Elem().Set(reflect.ValueOf(m))
		checkEncode(t, p.Interface().(Message))
	}
	for i, s := range encodeStrings {
		for j, raw := range encodeRaws {
			for _, m := range encodeVariants(s, int64(i*len(encodeRaws)+j)*1234567891, raw) {
				checkEncode(t, m)
			}
		}
	}
	// The hot messages take the fast path.
	for _, m := range []Message{EmbedJob{}, CDCEvent{}, Document{}, IndexEvent{}, rawHolder{}} {
		if encoderFor(reflect.TypeOf(m)) == nil {
			t.Errorf("%T takes json.Marshal", m)
		}
	}
}

func FuzzFastEncode(f *testing.F) {
	for i, s := range encodeStrings {
		f.Add(s, int64(i), encodeRaws[i%len(encodeRaws)])
	}
	f.Fuzz(func(t *testing.T, s string, n int64, raw []byte) {
		for _, m := range encodeVariants(s, n, raw) {
			checkEncode(t, m)
		}
	})
}

func BenchmarkEncodeEmbedJob(b *testing.B) {
	job := EmbedJob{DocumentID: "doc-1", Op: OpUpsert, Revision: 3, Author: "Ada", Category: KindArticle,
		Link: "https://example.com/a", Title: "A", OriginTime: at(1),
		Chunking: Chunking{Strategy: "tokens", Tokenizer: "cl100k_base", Size: 256, Overlap: 32}}
	for i := range 4 {
		job.Chunks = append(job.Chunks, Chunk{Index: i, Text: strings.Repeat("word stream. ", 100) + "\n\n", Tokens: 200})
	}
	for _, path := range []string{"fast", "json"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if path == "fast" {
					_, err = Encode(&job)
				} else {
					_, err = json.Marshal(&job)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
