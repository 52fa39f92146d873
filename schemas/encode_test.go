package schemas

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/twin-llm/twin/schemas/internal/codec"
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

// TestEncodeIsJSONMarshal checks every message, by value and by pointer;
// package codec tests and fuzzes its encoder on many more values.
func TestEncodeIsJSONMarshal(t *testing.T) {
	t.Parallel()
	for _, m := range fullMessages() {
		checkEncode(t, m)
		p := reflect.New(reflect.TypeOf(m))
		p.Elem().Set(reflect.ValueOf(m))
		checkEncode(t, p.Interface().(Message))
	}
}

// slowPaths are the message types that take a general path on purpose:
// for each, why it has no fast decoder and why no fast encoder ("" for the
// fast path it has). They are off the feature pipeline, where no message
// may take a general path: a type that loses a fast path (a field of a new
// kind, a schema keyword package codec does not check) fails
// TestEveryMessageHasTheFastPaths instead of slowing down unnoticed.
var slowPaths = map[string]struct{ decode, encode string }{
	"crawled_document/v1": {decode: "anyOf (an id or a URL)"},
	"feedback/v1":         {decode: "an integer enum"},
	"reply_done/v1":       {encode: "a float (the score)"},
	"trace/v1":            {encode: "floats (latencies)"},
	"training_trigger/v1": {decode: "a map of numbers", encode: "a map of floats"},
	"training_status/v1":  {decode: "a map of numbers", encode: "a map of floats"},
	"model_registered/v1": {decode: "a map of numbers", encode: "a map of floats"},
	"dead_letter/v1":      {decode: "a map of lists and base64 bytes", encode: "a map of lists and bytes"},
}

func TestEveryMessageHasTheFastPaths(t *testing.T) {
	t.Parallel()
	for _, m := range messages() {
		name := m.Schema()
		e, err := registry.entry(name)
		if err != nil {
			t.Fatal(err)
		}
		slow := slowPaths[name]
		for _, p := range []struct {
			path, why string
			fast      bool
		}{
			{"decoder", slow.decode, e.fast != nil},
			{"encoder", slow.encode, codec.Encodes(reflect.TypeOf(m))},
		} {
			switch {
			case !p.fast && p.why == "":
				t.Errorf("%s: no fast %s; its type or schema has something package codec does not cover", name, p.path)
			case p.fast && p.why != "":
				t.Errorf("%s has a fast %s now: take %q off slowPaths", name, p.path, p.why)
			}
		}
	}
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
