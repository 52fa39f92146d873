package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/schemas/internal/codec"
)

// at returns a fixed UTC time with nanoseconds, which survives JSON exactly.
func at(minute int) time.Time {
	return time.Date(2025, 3, 14, 15, minute, 26, 535897932, time.UTC)
}

// fullMessages returns one value of every message type with every field set,
// so a round trip exercises every field and every schema property.
func fullMessages() []Message {
	return []Message{
		CrawlRequest{URL: "https://example.com/post", Author: "Ada", Source: "cli", RequestedAt: at(1)},
		CrawledDocument{
			ID: "doc-1", Kind: KindRepository, URL: "https://github.com/ada/engine", Platform: "github",
			Author: "Ada", Title: "engine", Content: "An analytical engine.", Description: "The engine",
			Language: "en", SiteName: "GitHub", PublishedAt: at(2), CrawledAt: at(3), ContentHash: "sha256:abc",
			Files:    []RepositoryFile{{Path: "README.md", Content: "# engine", Size: 8}},
			Metadata: map[string]string{"stars": "42"},
		},
		CDCEvent{
			Collection: "documents", Op: OpUpdate, DocumentID: "doc-1", Revision: 7, Token: "82650A",
			Document: &Document{ID: "doc-1", Collection: "documents", Title: "engine", Content: "An analytical engine.",
				ContentHash: "sha256:abc", Revision: 7, UpdatedAt: at(4)},
			ChangedAt: at(4),
		},
		Document{
			ID: "doc-1", Collection: "articles", AuthorID: "u-1", Author: "Ada", Platform: "medium",
			Link: "https://medium.com/@ada/x", Title: "Notes", Content: "An engine computes.", Language: "en",
			PublishedAt: at(2), Metadata: map[string]string{"claps": "7"}, ContentHash: "sha256:abc", Revision: 7,
			Deleted: true, UpdatedAt: at(3),
		},
		EmbedJob{
			DocumentID: "doc-1", Op: OpUpsert, Revision: 7, AuthorID: "u-1", Author: "Ada",
			Category: KindArticle, Platform: "medium", Link: "https://medium.com/@ada/x", Title: "Notes",
			Chunks:     []Chunk{{Index: 0, Text: "first", Tokens: 1}, {Index: 1, Text: "second", Tokens: 1}},
			Chunking:   Chunking{Strategy: "tokens", Tokenizer: "cl100k_base", Size: 256, Overlap: 32},
			OriginTime: at(5),
		},
		IndexEvent{DocumentID: "doc-1", Op: OpUpsert, Revision: 7, Chunks: 2, OriginTime: at(5), IndexedAt: at(6)},
		ChatRequest{ID: "req-1", Query: "What is an engine?", Author: "Ada", Category: KindArticle, CreatedAt: at(7)},
		ReplyToken{Type: ReplyTypeToken, ID: "req-1", Seq: 1, Text: "An"},
		ReplyDone{
			Type: ReplyTypeDone, ID: "req-1", Query: "What is an engine?", Answer: "An engine computes.",
			Sources: []Source{{DocumentID: "doc-1", Title: "Notes", Link: "https://medium.com/@ada/x", Score: 0.87}},
			TraceID: "tr-1", Error: &ReplyError{Code: "timeout", Message: "the model took too long"},
		},
		Feedback{RequestID: "req-1", Rating: RatingDown, Comment: "too short", TraceID: "tr-1", CreatedAt: at(8)},
		Judgment{ID: "j-1", Query: "What is an engine?", DocumentID: "doc-1", Grade: GradeRelevant, Source: JudgmentUser,
			RequestID: "req-1", TraceID: "tr-1", CreatedAt: at(8)},
		Trace{
			TraceID: "tr-1", RequestID: "req-1", Query: "What is an engine?", Author: "Ada",
			Steps: []TraceStep{{
				Name: "generate", Input: "prompt", Output: json.RawMessage(`{"text":"An engine computes."}`),
				StartedAt: at(9), LatencyMS: 12.5, TokensIn: 100, TokensOut: 20, Model: "twin-7b", Error: "none",
			}},
			Events:       []TraceEvent{{Step: "generate", Kind: "redaction", Detail: "an e-mail address"}},
			FirstTokenMS: 12.5, TotalMS: 40.25, CreatedAt: at(9),
		},
		TrainingTrigger{
			ID: "sft-2025-03-14", Kind: TrainingSFT, Cause: CauseDocuments, Reason: "new documents", Dataset: Dataset{URI: "s3://b/ds/", Examples: 1200},
			WindowStart: at(10), WindowEnd: at(11), Metrics: map[string]float64{"new_docs": 120}, CreatedAt: at(12),
		},
		TrainingStatus{
			TriggerID: "sft-2025-03-14", JobID: "job-1", Kind: TrainingSFT, Executor: "sagemaker", State: StateSucceeded, Message: "done",
			ModelURI: "s3://b/model.tar.gz", Metrics: map[string]float64{"loss": 0.42}, UpdatedAt: at(13),
		},
		ModelRegistered{
			Name: "llm", Version: "3", Kind: TrainingDPO, State: ModelCandidate, Parent: "2", Datasets: []string{"ds-1"}, ArtifactURI: "s3://b/model.tar.gz", JobID: "job-1",
			TriggerID: "sft-2025-03-14", Metrics: map[string]float64{"win_rate": 0.6}, Endpoint: "twin-endpoint",
			RegisteredAt: at(14),
		},
		DeadLetter{
			Consumer: "featurizer", Reason: ReasonInvalid, Error: "cdc_event/v1: not JSON", Stream: "CDC", Sequence: 99,
			Subject: "twin.cdc.documents.insert", Deliveries: 1, FailedAt: at(15),
			Headers: map[string][]string{HeaderMsgID: {"doc-1:7"}}, Body: []byte{0xff, 0x00, '{'},
		},
	}
}

// newMessage returns a pointer to a new zero value of m's type.
func newMessage(m Message) Message {
	return reflect.New(reflect.TypeOf(m)).Interface().(Message)
}

func TestFullMessagesCoverEveryTypeAndField(t *testing.T) {
	t.Parallel()
	var names []string
	for _, m := range fullMessages() {
		names = append(names, m.Schema())
		v := reflect.ValueOf(m)
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).IsZero() {
				t.Errorf("%s: field %s is not set in fullMessages", m.Schema(), v.Type().Field(i).Name)
			}
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, Names()) {
		t.Errorf("fullMessages covers %v, want every schema %v", names, Names())
	}
}

func TestEveryMessageRoundTrips(t *testing.T) {
	t.Parallel()
	for _, want := range fullMessages() {
		t.Run(want.Schema(), func(t *testing.T) {
			t.Parallel()
			data, err := Encode(want)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got := newMessage(want)
			if err := Decode(data, got); err != nil {
				t.Fatalf("Decode(%s): %v", data, err)
			}
			if g := reflect.ValueOf(got).Elem().Interface(); !reflect.DeepEqual(g, want) {
				t.Errorf("round trip changed the value:\n got %#v\nwant %#v", g, want)
			}
		})
	}
}

func TestDecodeAcceptsMinimalAndUnknownFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg  Message
		body string
	}{
		{&CrawlRequest{}, `{"url":"https://example.com"}`},
		{&CrawlRequest{}, `{"url":"https://example.com","added_in_v1_1":{"x":[1,2]}}`},
		{&CrawledDocument{}, `{"kind":"post","url":"https://example.com"}`},
		{&CDCEvent{}, `{"collection":"documents","op":"delete","document_id":"d"}`},
		{&EmbedJob{}, `{"document_id":"d","op":"delete"}`},
		{&IndexEvent{}, `{"document_id":"d"}`},
		{&ChatRequest{}, `  {"id":"a","query":"why?"}` + "\n"},
		{&ReplyToken{}, `{"type":"token","id":"a","seq":1}`},
		{&ReplyDone{}, `{"type":"done","id":"a"}`},
		{&Feedback{}, `{"request_id":"a","rating":1}`},
		{&Trace{}, `{"trace_id":"t","steps":[{"name":"search","output":null}]}`},
		{&TrainingTrigger{}, `{"id":"x","kind":"dpo","reason":"feedback"}`},
		{&TrainingStatus{}, `{"trigger_id":"x","state":"pending"}`},
		{&ModelRegistered{}, `{"name":"twin","version":"1"}`},
		{&DeadLetter{}, `{"consumer":"rag","reason":"max_deliveries","subject":"twin.chat.requests"}`},
		{&ChatRequest{}, `{"id":"a","query":"q","created_at":"2025-03-14T15:09:26+01:00"}`},
		{&ChatRequest{}, `{"id":"a","query":"q","created_at":"2024-02-29T23:59:59.1234567890Z"}`},
	}
	for _, tt := range tests {
		if err := Decode([]byte(tt.body), tt.msg); err != nil {
			t.Errorf("Decode(%s) into %s: %v, want success", tt.body, tt.msg.Schema(), err)
		}
	}
}

func TestDecodeRejectsInvalidBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		msg   Message
		body  string
		field string // the field the error must name
		msg2  string // a part of the message
	}{
		{"empty body", &CrawlRequest{}, "", "", "empty body"},
		{"blank body", &CrawlRequest{}, " \n\t", "", "empty body"},
		{"not JSON", &CrawlRequest{}, "url=https://example.com", "", "not JSON"},
		{"truncated", &CrawlRequest{}, `{"url":"https://exa`, "", "not JSON"},
		{"trailing garbage", &CrawlRequest{}, `{"url":"https://example.com"} x`, "", "not JSON"},
		{"two values", &CrawlRequest{}, `{"url":"a"}{"url":"b"}`, "", "not JSON"},
		{"array", &CrawlRequest{}, `[{"url":"https://example.com"}]`, "", "must be object, got array"},
		{"null", &CrawlRequest{}, `null`, "", "must be object, got null"},
		{"string", &ChatRequest{}, `"hello"`, "", "must be object, got string"},

		{"crawl missing url", &CrawlRequest{}, `{"author":"Ada"}`, "url", "missing required property"},
		{"crawl empty url", &CrawlRequest{}, `{"url":""}`, "url", "must not be empty"},
		{"crawl bad time", &CrawlRequest{}, `{"url":"u","requested_at":"yesterday"}`, "requested_at", "date-time"},

		{"document bad kind", &CrawledDocument{}, `{"kind":"video","url":"u"}`, "kind", `must be one of ["article" "post" "repository"]`},
		{"document file without path", &CrawledDocument{}, `{"kind":"repository","url":"u","files":[{"path":"a"},{"size":3}]}`, "files/1/path", "missing required property"},
		{"document metadata not strings", &CrawledDocument{}, `{"kind":"post","url":"u","metadata":{"a/b":1}}`, "metadata/a~1b", "must be string, got number"},
		{"document case twin of kind", &CrawledDocument{}, `{"kind":"post","KIND":"video","url":"u"}`, "KIND", `differs from "kind" only in case`},
		{"document nested case twin", &CrawledDocument{}, `{"kind":"post","url":"u","files":[{"path":"a","Path":"b"}]}`, "files/0/Path", `differs from "path" only in case`},

		{"cdc bad op", &CDCEvent{}, `{"collection":"docs","op":"upsert","document_id":"d"}`, "op", "must be one of"},
		{"cdc collection not a token", &CDCEvent{}, `{"collection":"docs.x","op":"insert","document_id":"d"}`, "collection", "pattern"},
		{"cdc document not object", &CDCEvent{}, `{"collection":"docs","op":"insert","document_id":"d","document":[1]}`, "document", "must be object, got array"},
		{"cdc negative revision", &CDCEvent{}, `{"collection":"docs","op":"insert","document_id":"d","revision":-1}`, "revision", "must be at least 0"},
		{"cdc revision beyond int64", &CDCEvent{}, `{"collection":"docs","op":"insert","document_id":"d","revision":99999999999999999999}`, "revision", "cannot hold"},

		{"embed missing op", &EmbedJob{}, `{"document_id":"d"}`, "op", "missing required property"},
		{"embed empty chunk text", &EmbedJob{}, `{"document_id":"d","op":"upsert","chunks":[{"index":0,"text":"a"},{"index":1,"text":""}]}`, "chunks/1/text", "must not be empty"},
		{"embed fractional index", &EmbedJob{}, `{"document_id":"d","op":"upsert","chunks":[{"index":0.5,"text":"a"}]}`, "chunks/0/index", "must be integer, got number"},
		{"embed chunking not object", &EmbedJob{}, `{"document_id":"d","op":"upsert","chunking":"tokens"}`, "chunking", "must be object, got string"},

		{"index bad op", &IndexEvent{}, `{"document_id":"d","op":"insert"}`, "op", "must be one of"},
		{"index chunks as string", &IndexEvent{}, `{"document_id":"d","chunks":"2"}`, "chunks", "must be integer, got string"},

		{"chat missing query", &ChatRequest{}, `{"id":"a"}`, "query", "missing required property"},
		{"chat blank query", &ChatRequest{}, `{"id":"a","query":"   "}`, "query", "pattern"},
		{"chat id not a token", &ChatRequest{}, `{"id":"a.b","query":"q"}`, "id", "pattern"},
		{"chat id a wildcard", &ChatRequest{}, `{"id":">","query":"q"}`, "id", "pattern"},
		{"chat id too long", &ChatRequest{}, `{"id":"` + strings.Repeat("a", 129) + `","query":"q"}`, "id", "at most 128"},
		{"chat id number", &ChatRequest{}, `{"id":7,"query":"q"}`, "id", "must be string, got number"},
		{"chat lower-case t", &ChatRequest{}, `{"id":"a","query":"q","created_at":"2025-03-14t15:09:26Z"}`, "created_at", "date-time"},
		{"chat leap second", &ChatRequest{}, `{"id":"a","query":"q","created_at":"2016-12-31T23:59:60Z"}`, "created_at", "date-time"},
		{"chat offset 24h", &ChatRequest{}, `{"id":"a","query":"q","created_at":"2025-03-14T15:09:26+24:00"}`, "created_at", "date-time"},
		{"chat February 30", &ChatRequest{}, `{"id":"a","query":"q","created_at":"2025-02-30T15:09:26Z"}`, "created_at", "out of range"},
		{"chat date only", &ChatRequest{}, `{"id":"a","query":"q","created_at":"2025-03-14"}`, "created_at", "date-time"},

		{"token wrong type value", &ReplyToken{}, `{"type":"done","id":"a","seq":1}`, "type", `must be "token"`},
		{"token seq zero", &ReplyToken{}, `{"type":"token","id":"a","seq":0}`, "seq", "must be at least 1"},
		{"token missing seq", &ReplyToken{}, `{"type":"token","id":"a"}`, "seq", "missing required property"},

		{"done missing type", &ReplyDone{}, `{"id":"a"}`, "type", "missing required property"},
		{"done error without code", &ReplyDone{}, `{"type":"done","id":"a","error":{"message":"m"}}`, "error/code", "missing required property"},
		{"done score as string", &ReplyDone{}, `{"type":"done","id":"a","sources":[{"document_id":"d","score":"high"}]}`, "sources/0/score", "must be number, got string"},

		{"feedback bad rating", &Feedback{}, `{"request_id":"a","rating":5}`, "rating", "must be one of [1 -1]"},
		{"feedback missing rating", &Feedback{}, `{"request_id":"a"}`, "rating", "missing required property"},

		{"trace step without name", &Trace{}, `{"trace_id":"t","steps":[{"latency_ms":3}]}`, "steps/0/name", "missing required property"},
		{"trace negative latency", &Trace{}, `{"trace_id":"t","steps":[{"name":"s","latency_ms":-3}]}`, "steps/0/latency_ms", "must be at least 0"},
		{"trace event without kind", &Trace{}, `{"trace_id":"t","events":[{"step":"s"}]}`, "events/0/kind", "missing required property"},

		{"trigger bad kind", &TrainingTrigger{}, `{"id":"x","kind":"rlhf","reason":"r"}`, "kind", `must be one of ["rerank" "sft" "dpo"]`},
		{"trigger metric not number", &TrainingTrigger{}, `{"id":"x","kind":"sft","reason":"r","metrics":{"loss":"low"}}`, "metrics/loss", "must be number, got string"},

		{"status bad state", &TrainingStatus{}, `{"trigger_id":"x","state":"done"}`, "state", "must be one of"},
		{"model missing version", &ModelRegistered{}, `{"name":"twin"}`, "version", "missing required property"},

		{"dead letter missing subject", &DeadLetter{}, `{"consumer":"rag","reason":"invalid"}`, "subject", "missing required property"},
		{"dead letter reason not a word", &DeadLetter{}, `{"consumer":"rag","reason":"Gave Up","subject":"s"}`, "reason", "pattern"},
		{"dead letter body not base64", &DeadLetter{}, `{"consumer":"rag","reason":"invalid","subject":"s","body":"!!"}`, "body", "base64"},
		{"dead letter sequence negative", &DeadLetter{}, `{"consumer":"rag","reason":"invalid","subject":"s","sequence":-1}`, "sequence", "must be at least 0"},
		{"dead letter header values not list", &DeadLetter{}, `{"consumer":"rag","reason":"invalid","subject":"s","headers":{"A":"b"}}`, "headers/A", "must be array, got string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Decode([]byte(tt.body), tt.msg)
			if err == nil {
				t.Fatalf("Decode(%s) into %s succeeded, want an error naming field %q", tt.body, tt.msg.Schema(), tt.field)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
			}
			if verr.Schema != tt.msg.Schema() || verr.Field != tt.field || !strings.Contains(verr.Message, tt.msg2) {
				t.Errorf("error %q: got schema %q, field %q, message %q; want %q, %q, a message containing %q",
					err, verr.Schema, verr.Field, verr.Message, tt.msg.Schema(), tt.field, tt.msg2)
			}
		})
	}
}

func TestValidationErrorReadsAsFieldAndProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg  Message
		body string
		want string
	}{
		{&CrawlRequest{}, `{}`, `crawl_request/v1: field "url": missing required property`},
		{&Feedback{}, `{"request_id":"a","rating":0}`, `feedback/v1: field "rating": must be one of [1 -1]`},
		{&EmbedJob{}, `{"document_id":"d","op":"upsert","chunks":[{"index":0}]}`, `embed_job/v1: field "chunks/0/text": missing required property`},
		{&ChatRequest{}, `[]`, `chat_request/v1: must be object, got array`},
	}
	for _, tt := range tests {
		err := Decode([]byte(tt.body), tt.msg)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Decode(%s) = %v, want %s", tt.body, err, tt.want)
		}
	}
}

func TestErrorNamesTheSameFieldEveryTime(t *testing.T) {
	t.Parallel()
	// Three problems at once; the validator finds them in map order.
	body := []byte(`{"kind":"video","url":"","crawled_at":"now"}`)
	first := Decode(body, &CrawledDocument{})
	for range 50 {
		if err := Decode(body, &CrawledDocument{}); err.Error() != first.Error() {
			t.Fatalf("Decode gave %q, then %q", first, err)
		}
	}
}

func TestDecodeDoesNotKeepTheInput(t *testing.T) {
	t.Parallel()
	// A NATS client may reuse a message's buffer once the handler returns.
	body := []byte(`{"collection":"documents","op":"insert","document_id":"d","document":{"id":"d","collection":"documents","content":"a","metadata":{"k":"v"},"content_hash":"h","revision":1,"updated_at":"2025-03-14T15:09:26Z"}}`)
	var ev CDCEvent
	if err := Decode(body, &ev); err != nil {
		t.Fatal(err)
	}
	clear(body)
	if ev.Document == nil || ev.Document.Content != "a" || ev.Document.Metadata["k"] != "v" || ev.DocumentID != "d" {
		t.Errorf("after the input was overwritten the event holds %+v, %q", ev.Document, ev.DocumentID)
	}
}

func TestDecodeIntoReusedValueForgetsEarlierFields(t *testing.T) {
	t.Parallel()
	var done ReplyDone
	if err := Decode([]byte(`{"type":"done","id":"a","error":{"code":"timeout"}}`), &done); err != nil {
		t.Fatal(err)
	}
	if err := Decode([]byte(`{"type":"done","id":"b","answer":"yes"}`), &done); err != nil {
		t.Fatal(err)
	}
	if want := (ReplyDone{Type: ReplyTypeDone, ID: "b", Answer: "yes"}); !reflect.DeepEqual(done, want) {
		t.Errorf("second Decode left %+v, want %+v", done, want)
	}
	if err := Decode([]byte(`{"type":"done"}`), &done); err == nil || done.ID != "b" {
		t.Errorf("an invalid body changed the value: err %v, value %+v", err, done)
	}
}

type unknownMessage struct{}

func (unknownMessage) Schema() string { return "unknown/v1" }

func TestDecodeRejectsMisuseWithoutBlamingTheBody(t *testing.T) {
	t.Parallel()
	body := []byte(`{"url":"https://example.com"}`)
	var nilReq *CrawlRequest
	for name, v := range map[string]Message{
		"nil":         nil,
		"non-pointer": CrawlRequest{},
		"nil pointer": nilReq,
	} {
		if err := Decode(body, v); err == nil || errors.Is(err, ErrInvalid) {
			t.Errorf("Decode into %s = %v, want an error that is not ErrInvalid", name, err)
		}
	}
	if err := Decode(body, &unknownMessage{}); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("Decode into a type with an unknown schema = %v, want ErrUnknownSchema", err)
	}
	if _, err := Encode(nil); err == nil {
		t.Error("Encode(nil) succeeded")
	}
	if _, err := Encode(nilReq); err == nil {
		t.Error("Encode of a nil *CrawlRequest succeeded")
	}
}

// TestSchemasMatchStructs keeps the schema files and the Go types from
// drifting: every JSON field of a struct is a property of its schema with
// the matching type, every property is a field, and a property is required
// exactly when the field is not omitted when empty.
func TestSchemasMatchStructs(t *testing.T) {
	t.Parallel()
	for _, m := range messages() {
		name := m.Schema()
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, ok := SchemaFor(name)
			if !ok {
				t.Fatalf("SchemaFor(%q) found nothing", name)
			}
			var sch map[string]any
			if err := json.Unmarshal(raw, &sch); err != nil {
				t.Fatalf("schema file: %v", err)
			}
			wantID := "https://twin.dev/schemas/" + strings.Replace(name, "/", ".", 1) + ".schema.json"
			if sch["$id"] != wantID || sch["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$id %v, $schema %v; want %s and draft 2020-12", sch["$id"], sch["$schema"], wantID)
			}
			if sch["title"] == nil || sch["description"] == nil {
				t.Error("schema has no title or description")
			}
			matchType(t, "", reflect.TypeOf(m), sch)
		})
	}
}

func matchType(t *testing.T, path string, typ reflect.Type, sch map[string]any) {
	t.Helper()
	if ref, ok := sch["$ref"].(string); ok {
		// Another schema file of this package, e.g. "document.v1.schema.json".
		raw, ok := SchemaFor(strings.Replace(strings.TrimSuffix(ref, ".schema.json"), ".", "/", 1))
		if !ok {
			t.Errorf("%s: $ref %q names no schema of this package", path, ref)
			return
		}
		sch = nil
		if err := json.Unmarshal(raw, &sch); err != nil {
			t.Fatalf("%s: $ref %q: %v", path, ref, err)
		}
	}
	want := func(jsonType string) {
		t.Helper()
		if sch["type"] != jsonType {
			t.Errorf("%s: schema type %v, want %s for Go %s", path, sch["type"], jsonType, typ)
		}
	}
	switch {
	case typ == reflect.TypeFor[time.Time]():
		want("string")
		if sch["format"] != "date-time" {
			t.Errorf("%s: format %v, want date-time", path, sch["format"])
		}
		return
	case typ == reflect.TypeFor[json.RawMessage]():
		if sch["type"] != nil && sch["type"] != "object" {
			t.Errorf("%s: raw JSON field has type %v", path, sch["type"])
		}
		return
	case typ == reflect.TypeFor[[]byte]():
		want("string")
		if sch["contentEncoding"] != "base64" {
			t.Errorf("%s: contentEncoding %v, want base64", path, sch["contentEncoding"])
		}
		return
	}
	switch typ.Kind() {
	case reflect.String:
		want("string")
	case reflect.Int, reflect.Int64:
		want("integer")
	case reflect.Uint64:
		want("integer")
		if min, ok := sch["minimum"].(float64); !ok || min < 0 {
			t.Errorf("%s: unsigned field needs a minimum of at least 0, has %v", path, sch["minimum"])
		}
	case reflect.Float64:
		want("number")
	case reflect.Bool:
		want("boolean")
	case reflect.Pointer:
		matchType(t, path, typ.Elem(), sch)
	case reflect.Slice:
		want("array")
		items, _ := sch["items"].(map[string]any)
		matchType(t, path+"/0", typ.Elem(), items)
	case reflect.Map:
		want("object")
		values, _ := sch["additionalProperties"].(map[string]any)
		matchType(t, path+"/*", typ.Elem(), values)
	case reflect.Struct:
		want("object")
		matchStruct(t, path, typ, sch)
	default:
		t.Errorf("%s: Go type %s has no JSON Schema mapping in this test", path, typ)
	}
}

func matchStruct(t *testing.T, path string, typ reflect.Type, sch map[string]any) {
	t.Helper()
	props, _ := sch["properties"].(map[string]any)
	var required []string
	if r, ok := sch["required"].([]any); ok {
		for _, s := range r {
			required = append(required, s.(string))
		}
	}
	if ap, ok := sch["additionalProperties"]; ok && ap == false {
		t.Errorf("%s: additionalProperties false breaks forward compatibility", path)
	}
	seen := map[string]bool{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, ok := codec.JSONName(f)
		if !ok {
			continue
		}
		seen[name] = true
		fieldPath := strings.TrimPrefix(path+"/"+name, "/")
		prop, ok := props[name].(map[string]any)
		if !ok {
			t.Errorf("%s: field %s.%s is not a schema property", fieldPath, typ.Name(), f.Name)
			continue
		}
		optional := strings.Contains(f.Tag.Get("json"), ",omit")
		if isRequired := slices.Contains(required, name); isRequired == optional {
			t.Errorf("%s: required in schema %v, omitted when empty in Go %v; want exactly one", fieldPath, isRequired, optional)
		} else if isRequired && f.Type.Kind() == reflect.String && prop["minLength"] == nil && prop["enum"] == nil && prop["const"] == nil {
			t.Errorf("%s: required string that may be empty", fieldPath)
		}
		if prop["description"] == nil {
			t.Errorf("%s: no description", fieldPath)
		}
		matchType(t, fieldPath, f.Type, prop)
	}
	for name := range props {
		if !seen[name] {
			t.Errorf("%s: schema property %q has no field in %s", path, name, typ)
		}
	}
	for _, name := range required {
		if !seen[name] {
			t.Errorf("%s: required property %q has no field in %s", path, name, typ)
		}
	}
}

func TestNamesListEverySchemaFile(t *testing.T) {
	t.Parallel()
	names := Names()
	if len(names) != 16 || !slices.IsSorted(names) {
		t.Errorf("Names() = %v, want 16 sorted names", names)
	}
	files, err := schemaFiles.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(names) {
		t.Errorf("%d schema files for %d schema names", len(files), len(names))
	}
	for _, name := range names {
		if _, ok := SchemaFor(name); !ok {
			t.Errorf("SchemaFor(%q) found nothing", name)
		}
	}
	for _, name := range []string{"", "nope/v1", "../decode.go", "chat_request/v2"} {
		if _, ok := SchemaFor(name); ok {
			t.Errorf("SchemaFor(%q) found a schema", name)
		}
	}
}

func TestValidToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		want bool
	}{
		{"a", true},
		{"req-01HV6_Z", true},
		{"0123456789", true},
		{strings.Repeat("x", 128), true},
		{strings.Repeat("x", 129), false},
		{"", false},
		{"a.b", false},
		{"*", false},
		{">", false},
		{"a b", false},
		{"a\tb", false},
		{"a\nb", false},
		{"ü", false},
		{"a/b", false},
		{"$JS", false},
	}
	for _, tt := range tests {
		if got := ValidToken(tt.s); got != tt.want {
			t.Errorf("ValidToken(%q) = %v, want %v", tt.s, got, tt.want)
		}
		// The schemas' token pattern must agree, or a request id the gateway
		// accepts could be refused downstream (or the reverse).
		body, _ := json.Marshal(ChatRequest{ID: tt.s, Query: "q"})
		if err := Decode(body, &ChatRequest{}); (err == nil) != tt.want {
			t.Errorf("chat_request/v1 with id %q: Decode error %v, ValidToken %v", tt.s, err, tt.want)
		}
	}
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct{ got, want, within string }{
		{SubjectCrawlRequests, "twin.crawl.requests", ""},
		{DocsCrawled(KindArticle), "twin.docs.crawled.article", SubjectDocsCrawledAll},
		{DocsCrawled(KindRepository), "twin.docs.crawled.repository", SubjectDocsCrawledAll},
		{CDC("documents", OpReplace), "twin.cdc.documents.replace", SubjectCDCAll},
		{SubjectEmbedJobs, "twin.embed.jobs", ""},
		{SubjectIndexEvents, "twin.index.events", ""},
		{SubjectChatRequests, "twin.chat.requests", ""},
		{ChatReplies("req-1"), "twin.chat.replies.req-1", SubjectChatRepliesAll},
		{FeedbackSubject("rating"), "twin.feedback.rating", SubjectFeedbackAll},
		{SubjectMonitorTraces, "twin.monitor.traces", ""},
		{SubjectTrainingTriggers, "twin.training.triggers", SubjectTrainingAll},
		{SubjectTrainingStatus, "twin.training.status", SubjectTrainingAll},
		{SubjectTrainingModels, "twin.training.models", SubjectTrainingAll},
		{DLQ("featurizer"), "twin.dlq.featurizer", SubjectDLQAll},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("subject %q, want %q", tt.got, tt.want)
		}
		if tt.within != "" && !strings.HasPrefix(tt.got, strings.TrimSuffix(tt.within, ">")) {
			t.Errorf("subject %q is not matched by %q", tt.got, tt.within)
		}
	}
}

func TestDecodeIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	msgs := fullMessages()
	done := make(chan error)
	for i := range 8 {
		go func() {
			var err error
			for j := range 50 {
				m := msgs[(i+j)%len(msgs)]
				data, _ := Encode(m)
				if e := Decode(data, newMessage(m)); e != nil && err == nil {
					err = fmt.Errorf("%s: %w", m.Schema(), e)
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// seedMessages seeds a fuzz target of (message kind, body) with every
// message fully filled in, encoded; it returns the kinds, and each
// schema's index among them.
func seedMessages(f *testing.F) ([]Message, map[string]uint8) {
	msgs := messages()
	index := map[string]uint8{}
	for i, m := range msgs {
		index[m.Schema()] = uint8(i)
	}
	for _, m := range fullMessages() {
		data, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(index[m.Schema()], data)
	}
	return msgs, index
}

func FuzzDecode(f *testing.F) {
	msgs, index := seedMessages(f)
	for _, seed := range []struct {
		schema string
		body   string
	}{
		{"crawl_request/v1", `{"url":"u","URL":"v"}`},
		{"crawl_request/v1", `{"author":"a"}`},
		{"crawled_document/v1", `{"kind":"post","KIND":"video","url":"u"}`},
		{"cdc_event/v1", `{"collection":"c","op":"insert","document_id":"d","document":{ "a" : [1, 2.5e3] }}`},
		{"cdc_event/v1", `{"collection":"c","op":"insert","document_id":"d","revision":1.0}`},
		{"embed_job/v1", `{"document_id":"d","op":"upsert","chunks":[{"index":0,"text":"t"}]}`},
		{"chat_request/v1", `{"id":"a","query":"q","created_at":"2025-03-14T15:09:26.5+05:30"}`},
		{"chat_request/v1", `[]`},
		{"chat_request/v1", ``},
		{"chat_request/v1", `{"id":"a","query":"q"} trailing`},
		{"reply_token/v1", `{"type":"token","id":"a","seq":18446744073709551616}`},
		{"feedback/v1", `{"request_id":"a","rating":-1.0}`},
		{"trace/v1", `{"trace_id":"t","steps":[{"name":"n","output":null,"latency_ms":1e308}]}`},
		{"dead_letter/v1", `{"consumer":"c","reason":"invalid","subject":"s","body":"AAE=","headers":{"A":["1"]}}`},
	} {
		f.Add(index[seed.schema], []byte(seed.body))
	}

	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		proto := msgs[int(which)%len(msgs)]
		v := newMessage(proto)
		if err := Decode(data, v); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode(%q) into %s: %v does not match ErrInvalid", data, proto.Schema(), err)
			}
			return
		}
		// What Decode accepts, Encode must write back in a form Decode
		// accepts again, and the second trip must change nothing.
		first, err := Encode(v)
		if err != nil {
			t.Fatalf("Decode(%q) succeeded but Encode failed: %v", data, err)
		}
		again := newMessage(proto)
		if err := Decode(first, again); err != nil {
			t.Fatalf("Decode(%q) succeeded, but its re-encoding %s fails: %v", data, first, err)
		}
		second, err := Encode(again)
		if err != nil {
			t.Fatalf("second Encode of %s: %v", first, err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("round trip not stable:\n first %s\nsecond %s", first, second)
		}
	})
}

func BenchmarkDecodeChatRequest(b *testing.B) {
	body := []byte(`{"id":"01HV6Z4K9TQ3","query":"How did you structure the crawler's rate limiting, and why?","author":"Ada Lovelace","category":"article","created_at":"2025-03-14T15:09:26.535897932Z"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var req ChatRequest
		if err := Decode(body, &req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEmbedJob(b *testing.B) {
	job := EmbedJob{DocumentID: "doc-1", Op: OpUpsert, Revision: 3, Author: "Ada", Category: KindArticle,
		Link: "https://example.com/a", Title: "A", OriginTime: at(1),
		Chunking: Chunking{Strategy: "tokens", Tokenizer: "cl100k_base", Size: 256, Overlap: 32}}
	for i := range 32 {
		job.Chunks = append(job.Chunks, Chunk{Index: i, Text: strings.Repeat("word ", 200), Tokens: 200})
	}
	body, err := Encode(job)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var got EmbedJob
		if err := Decode(body, &got); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCrawledDocumentNeedsURLOrID(t *testing.T) {
	t.Parallel()
	for body, ok := range map[string]bool{
		`{"kind":"article","url":"https://example.com/a"}`: true,
		`{"kind":"post","id":"scifact-4983"}`:              true,
		`{"kind":"post","title":"no identity"}`:            false,
	} {
		var d CrawledDocument
		err := Decode([]byte(body), &d)
		if (err == nil) != ok {
			t.Errorf("Decode(%s) = %v, want ok=%v", body, err, ok)
		}
	}
}
