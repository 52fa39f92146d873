package schemas

// Decode's two paths, held to the same results: the fast one (package
// codec) only ever accepts what the general one accepts, with the same
// value. The tests are here, not in codec, because the general path and the
// message types are this package's.

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// fastAndGeneral decodes data into proto's type by both paths. fastOK says
// whether the fast path accepted; fast and general are the values each left.
func fastAndGeneral(t testing.TB, proto Message, data []byte) (fastOK bool, fast, general reflect.Value, generalErr error) {
	t.Helper()
	e, err := registry.entry(proto.Schema())
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeOf(proto)
	if e.fast != nil {
		fast = reflect.New(typ).Elem()
		fastOK = e.fast.Decode(data, fast)
	}
	gp := reflect.New(typ)
	generalErr = decodeGeneral(data, gp.Interface().(Message), gp, e)
	return fastOK, fast, gp.Elem(), generalErr
}

// checkAgreement fails if the fast path accepted data and the general path
// did not, or filled another value.
func checkAgreement(t testing.TB, proto Message, data []byte) {
	t.Helper()
	ok, fast, general, err := fastAndGeneral(t, proto, data)
	if !ok {
		return
	}
	if err != nil {
		t.Fatalf("%s: the fast path accepted %q, the general path refuses it: %v", proto.Schema(), data, err)
	}
	if !reflect.DeepEqual(fast.Interface(), general.Interface()) {
		t.Fatalf("%s: %q decodes to\n%#v by the fast path,\n%#v by the general path", proto.Schema(), data, fast.Interface(), general.Interface())
	}
}

// fastBodies are bodies near the edges of what the fast path takes.
func fastBodies() map[string][]string {
	long := strings.Repeat("word ", 300)
	return map[string][]string{
		"embed_job/v1": {
			`{"document_id":"d","op":"upsert","chunks":[{"index":0,"text":"` + long + `","tokens":300}]}`,
			`{"document_id":"d","op":"upsert","chunks":[]}`,
			`{"document_id":"d","op":"upsert","chunks":null}`,
			`{"document_id":"d","op":"upsert","chunks":[{"index":0,"text":"a\nb\u00e9\u2028\ud83d\ude00 \"q\" \\ \/ \b\f\r\t"}]}`,
			`{"document_id":"d","op":"upsert","chunks":[{"index":0,"text":"\ud83d"}]}`,
			`{"document_id":"d","op":"upsert","chunks":[{"index":0,"text":"\udc00"}]}`,
			`{"document_id":"d","op":"upsert","chunks":[{"index":0,"text":"é ü 日本"}]}`,
			"{\"document_id\":\"d\",\"op\":\"upsert\",\"chunks\":[{\"index\":0,\"text\":\"\xff\"}]}",
			`{"document_id":"d","op":"upsert","chunks":[{"index":-0,"text":"a"}]}`,
			`{"document_id":"d","op":"upsert","chunks":[{"index":1e2,"text":"a"}]}`,
			`{"document_id":"d","op":"upsert","chunks":[{"index":1.0,"text":"a"}]}`,
			`{"document_id":"d","op":"upsert","chunks":[{"index":01,"text":"a"}]}`,
			`{"document_id":"d","op":"upsert","revision":9223372036854775807}`,
			`{"document_id":"d","op":"upsert","revision":999999999999999999}`,
			`{"document_id":"d","op":"upsert","revision":-1}`,
			`{"document_id":"d","op":"upsert","revision":-0}`,
			`{"document_id":"d","op":"upsert","chunking":{"size":3,"size":4}}`,
			`{"document_id":"d","op":"upsert","chunking":{"size":3},"chunking":{"overlap":4}}`,
			`{"document_id":"d","op":"upsert","Op":"delete"}`,
			`{"document_id":"d","op":"upsert","chunks":[{"index":0,"text":"a","TEXT":"b"}]}`,
			`{"document_id":"d","op":"upsert","ſhunks":[]}`,
			`{"document_id":"d","op":"upsert","extra":{"deep":[[[[{"a":null}]]]],"n":-1.5e-3}}`,
			`{"document_id":"d","op":"upsert","origin_time":"2025-03-14T15:09:26.535897932Z"}`,
			`{"document_id":"d","op":"upsert","origin_time":"2025-03-14T15:09:26\u002e5Z"}`,
			`{"document_id":"d","op":"upsert","origin_time":"2025-02-30T15:09:26Z"}`,
			`{"document_id":"d","op":"upsert","origin_time":null}`,
			`{"document_id":"d","op":"upsert","title":null}`,
			`{"document_id":"d","op":"upsert"}  x`,
			`{"document_id":"d","op":"upsert"}{}`,
			` {"document_id" : "d" , "op" : "delete" } ` + "\n",
			`{"document_id":"d\u0000","op":"delete"}`,
			`{"document_\u0069d":"d","op":"delete"}`,
		},
		"cdc_event/v1": {
			`{"collection":"articles","op":"replace","document_id":"d","revision":3,"token":"3","document":{"id":"d","collection":"articles","content":"` + long + `","n":[1,2.5e3,-0.1,true,false,null],"o":{},"content_hash":"h","revision":3,"updated_at":"2025-03-14T15:09:26Z"},"changed_at":"2025-03-14T15:09:26Z"}`,
			`{"collection":"articles","op":"replace","document_id":"d","document":{ "a" : [ 1 , 2 ] } }`,
			`{"collection":"articles","op":"replace","document_id":"d","document":[1]}`,
			`{"collection":"articles","op":"replace","document_id":"d","document":null}`,
			`{"collection":"articles","op":"replace","document_id":"d","document":{"a":"\x"}}`,
			`{"collection":"articles","op":"replace","document_id":"d","document":{"a":"\u12"}}`,
			`{"collection":"articles","op":"replace","document_id":"d","document":{"a":1,}}`,
			`{"collection":"articles","op":"replace","document_id":"d","document":{"a" 1}}`,
			`{"collection":"art.icles","op":"replace","document_id":"d"}`,
			`{"collection":"` + strings.Repeat("a", 129) + `","op":"replace","document_id":"d"}`,
			`{"collection":"` + strings.Repeat("a", 128) + `","op":"replace","document_id":"d"}`,
			`{"collection":"articles","op":"upsert","document_id":"d"}`,
			`{"collection":"articles","op":"delete","document_id":""}`,
		},
		"document/v1": {
			`{"id":"d","collection":"articles","content":"x","metadata":{"a":"1","b":"\u00e9\n"},"content_hash":"h","revision":3,"deleted":true,"updated_at":"2025-03-14T15:09:26Z"}`,
			`{"id":"d","collection":"articles","content_hash":"h","revision":3,"updated_at":"2025-03-14T15:09:26Z","metadata":{}}`,
			`{"id":"d","collection":"articles","content_hash":"","revision":3,"updated_at":"2025-03-14T15:09:26Z"}`,
			`{"metadata":{}}`,
			`{"metadata":null}`,
			`{"metadata":{"a":"1","a":"2"}}`,
			`{"metadata":{"a":1}}`,
			`{"metadata":{"a":null}}`,
			`{"metadata":{"a\u0000":"x","":""}}`,
			`{"metadata":{"\xff":"x"}}`,
			`{"metadata":[]}`,
			`{"metadata":{"a":"1",}}`,
			`{"ID":"d"}`,
			`{"id":"d","Metadata":{}}`,
			`{"revision":-1}`,
			`{"deleted":null}`,
			`{"published_at":"2025-02-30T15:09:26Z"}`,
		},
		"index_event/v1": {
			`{"document_id":"d","op":"upsert","revision":7,"chunks":2,"origin_time":"2025-03-14T15:09:26+01:00","indexed_at":"2025-03-14T15:09:27Z"}`,
			`{"document_id":"d","chunks":"2"}`,
			`{"document_id":"d","chunks":true}`,
		},
		"chat_request/v1": {
			`{"id":"a","query":"   "}`,
			`{"id":"a","query":"why?","created_at":"2024-02-29T23:59:59.1234567890Z"}`,
		},
		"trace/v1": {
			`{"trace_id":"t","steps":[{"name":"search","output":[{"id":"p","score":0.5}]},{"name":"expand","output":["a","b"]}]}`,
			`{"trace_id":"t","steps":[{"name":"s","output":"text"},{"name":"n","output":-1.5e3},{"name":"b","output":true},{"name":"f","output":false}]}`,
			`{"trace_id":"t","steps":[{"name":"s","output":null}]}`,
			`{"trace_id":"t","steps":[{"name":"s","output": { "a" : [ 1 , {} ] } }]}`,
			`{"trace_id":"t","steps":[{"name":"s","output":nul}]}`,
			`{"trace_id":"t","steps":[{"name":"s","output":[1,]}]}`,
			`{"trace_id":"t","steps":[{"name":"s","output":"\x"}]}`,
			`{"trace_id":"t","steps":[{"name":"s","latency_ms":-1}]}`,
			`{"trace_id":"t","steps":[{"name":"","output":1}]}`,
		},
		"reply_token/v1": {
			`{"type":"token","id":"a","seq":1,"text":"x"}`,
			`{"type":"token","id":"a","seq":0}`,
			`{"type":"done","id":"a","seq":1}`,
			`{"type":"token","id":"a","seq":18446744073709551616}`,
		},
	}
}

func TestFastPathAgreesWithGeneralPath(t *testing.T) {
	t.Parallel()
	protos := map[string]Message{}
	for _, m := range messages() {
		protos[m.Schema()] = m
	}
	accepted := map[string]int{}
	check := func(proto Message, body []byte) {
		checkAgreement(t, proto, body)
		if ok, _, _, _ := fastAndGeneral(t, proto, body); ok {
			accepted[proto.Schema()]++
		}
	}
	for _, m := range fullMessages() {
		data, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		check(protos[m.Schema()], data)
		// Every prefix, and every single-byte change to a few bytes that
		// matter in JSON, must be refused by the fast path or agreed on.
		for i := range data {
			check(protos[m.Schema()], data[:i])
			for _, c := range []byte{'"', '\\', '{', '}', ',', ':', '0', '-', 'a', ' ', 0xff} {
				mutated := append([]byte(nil), data...)
				mutated[i] = c
				check(protos[m.Schema()], mutated)
			}
		}
	}
	for name, bodies := range fastBodies() {
		for _, b := range bodies {
			check(protos[name], []byte(b))
		}
	}
	// The hot messages must actually take the fast path in their usual form.
	for _, name := range []string{"cdc_event/v1", "embed_job/v1", "index_event/v1"} {
		if accepted[name] == 0 {
			t.Errorf("the fast path accepted no %s body", name)
		}
	}
}

func TestFastPathTakesTheHotMessages(t *testing.T) {
	t.Parallel()
	for _, m := range fullMessages() {
		switch m.(type) {
		case CDCEvent, Document, EmbedJob, IndexEvent, Trace:
		default:
			continue
		}
		data, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _, _, _ := fastAndGeneral(t, m, data); !ok {
			t.Errorf("%s: the fast path gave up on %s", m.Schema(), data)
		}
	}
}

func FuzzFastPathAgrees(f *testing.F) {
	msgs, index := seedMessages(f)
	for name, bodies := range fastBodies() {
		for _, b := range bodies {
			f.Add(index[name], []byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		checkAgreement(t, msgs[int(which)%len(msgs)], data)
	})
}

func BenchmarkDecodeCDCEvent(b *testing.B) {
	doc := &Document{ID: "doc-1", Collection: "articles", Title: "Generated",
		Content: strings.Repeat("stream consumer message queue durable replica. ", 85) + "\n\nend", Revision: 7}
	body, err := Encode(CDCEvent{Collection: "articles", Op: OpReplace, DocumentID: "doc-1", Revision: 7,
		Token: "7", Document: doc, ChangedAt: at(1)})
	if err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{"fast", "general"} {
		b.Run(path, func(b *testing.B) {
			e, _ := registry.entry("cdc_event/v1")
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var ev CDCEvent
				var err error
				if path == "fast" {
					err = Decode(body, &ev)
				} else {
					err = decodeGeneral(body, &ev, reflect.ValueOf(&ev), e)
				}
				if err != nil {
					b.Fatal(fmt.Errorf("%s: %w", path, err))
				}
			}
		})
	}
}
