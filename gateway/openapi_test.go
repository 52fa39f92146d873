package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/datasets"
	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/models/registry"
	"github.com/twin-llm/twin/internal/models/rerank"
	"github.com/twin-llm/twin/internal/ops"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/vectors/embedded"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/producers/crawl"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

// loadOpenAPI loads the served description with kin-openapi and validates
// it as an OpenAPI 3.1 document.
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	data, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("the document is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	return doc
}

// operations maps "METHOD /path" to each operation of doc.
func operations(doc *openapi3.T) map[string]*openapi3.Operation {
	out := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			out[method+" "+path] = op
		}
	}
	return out
}

func TestOpenAPIDescribesEveryRegisteredRoute(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	g := New(Config{Log: zerolog.Nop()})
	g.Register(httpserver.New(nil, zerolog.Nop()))
	registered := map[string]bool{}
	for _, p := range g.Routes() {
		if _, path, _ := strings.Cut(p, " "); strings.HasPrefix(path, "/v1/") {
			registered[p] = true
		}
	}
	if len(registered) == 0 {
		t.Fatal("Register recorded no /v1 route")
	}
	documented := operations(doc)
	for _, r := range slices.Sorted(maps.Keys(registered)) {
		if documented[r] == nil {
			t.Errorf("route %s is registered but not in gateway/openapi.yaml", r)
		}
	}
	for _, r := range slices.Sorted(maps.Keys(documented)) {
		if !registered[r] {
			t.Errorf("gateway/openapi.yaml describes %s, which Register does not register", r)
		}
		if documented[r].OperationID == "" {
			t.Errorf("%s has no operationId", r)
		}
		// kin-openapi takes any key as a status; the description must say
		// real ones, and no default that would hide an undocumented one.
		for status := range documented[r].Responses.Map() {
			if n, err := strconv.Atoi(status); err != nil || n < 100 || n > 599 {
				t.Errorf("%s answers %q, which is not an HTTP status", r, status)
			}
		}
	}
}

// jsonFields lists the JSON names of t's fields as encoding/json writes
// them (embedded structs flattened), and those it always writes (no
// omitempty or omitzero).
func jsonFields(t reflect.Type) (all, always []string) {
	for f := range t.Fields() {
		tag, hasTag := f.Tag.Lookup("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" && opts == "" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && !hasTag && f.Type.Kind() == reflect.Struct {
			a, w := jsonFields(f.Type)
			all, always = append(all, a...), append(always, w...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			always = append(always, name)
		}
	}
	return all, always
}

// TestOpenAPISchemasHaveTheGoTypesFields holds every schema that mirrors a
// Go type to that type's JSON fields: a field added to the struct and not
// to the document (or the other way round) fails here, even when no
// response in the other tests happens to carry it. A response field the
// type always writes must be required, one it may leave out must not be.
func TestOpenAPISchemasHaveTheGoTypesFields(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	cases := []struct {
		schema   string
		of       any
		response bool
	}{
		{"Status", Status{}, true},
		{"Freshness", ops.Freshness{}, true},
		{"TrainingJob", ops.TrainingJob{}, true},
		{"TrainingTrigger", schemas.TrainingTrigger{}, true},
		{"TrainingDataset", schemas.Dataset{}, true},
		{"TrainingStatus", schemas.TrainingStatus{}, true},
		{"StreamStatus", streams.StreamStatus{}, true},
		{"ConsumerStatus", streams.ConsumerStatus{}, true},
		{"CrawlRequest", CrawlRequest{}, false},
		{"CrawlResult", crawl.Result{}, true},
		{"CrawlAccepted", crawl.Accepted{}, true},
		{"CrawlRejected", crawl.Rejected{}, true},
		{"DocSummary", DocSummary{}, true},
		{"Document", warehouse.Document{}, true},
		{"Hit", retrieval.Hit{}, true},
		{"ReindexRequest", ReindexRequest{}, false},
		{"FeedbackRequest", FeedbackRequest{}, false},
		{"FeedbackResponse", FeedbackResponse{}, true},
		{"Author", AuthorEntry{}, true},
		{"ModelRequest", ModelRequest{}, false},
		{"ModelRecord", warehouse.ModelRecord{}, true},
		{"TraceList", TraceList{}, true},
		{"TraceSummary", TraceSummary{}, true},
		{"TraceDetail", TraceDetail{}, true},
		{"Trace", schemas.Trace{}, true},
		{"TraceStep", schemas.TraceStep{}, true},
		{"TraceEvent", schemas.TraceEvent{}, true},
		{"FeedbackRecord", warehouse.FeedbackRecord{}, true},
		{"JudgmentRecord", warehouse.JudgmentRecord{}, true},
		{"DatasetRequest", DatasetRequest{}, false},
		{"DatasetResponse", DatasetResponse{}, true},
		{"DatasetRecord", warehouse.DatasetRecord{}, true},
	}
	for _, c := range cases {
		ref := doc.Components.Schemas[c.schema]
		if ref == nil || ref.Value == nil {
			t.Errorf("no schema %s in gateway/openapi.yaml", c.schema)
			continue
		}
		s := ref.Value
		typ := reflect.TypeOf(c.of)
		all, always := jsonFields(typ)
		slices.Sort(all)
		slices.Sort(always)
		documented := slices.Sorted(maps.Keys(s.Properties))
		if !slices.Equal(all, documented) {
			t.Errorf("schema %s has properties %v; %s has JSON fields %v", c.schema, documented, typ, all)
		}
		required := slices.Sorted(slices.Values(s.Required))
		if c.response && !slices.Equal(always, required) {
			t.Errorf("schema %s requires %v; %s always writes %v", c.schema, required, typ, always)
		}
		for _, r := range required {
			if !slices.Contains(all, r) {
				t.Errorf("schema %s requires %q, which %s has not", c.schema, r, typ)
			}
		}
		if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
			t.Errorf("schema %s must say additionalProperties: false, so that an undocumented field fails", c.schema)
		}
	}
}

// apiChecker sends requests to real gateways and validates each exchange
// against the description, recording which documented statuses it saw.
type apiChecker struct {
	t   *testing.T
	doc *openapi3.T
	// mux matches requests to the described operations as the gateway's
	// own mux does (kin-openapi's routers unescape the path first, so an
	// id holding "%2F" would not match).
	mux *http.ServeMux

	seen map[string]bool // "operationId status" of every exchange validated
}

func newAPIChecker(t *testing.T) *apiChecker {
	doc := loadOpenAPI(t)
	mux := http.NewServeMux()
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
				params := map[string]string{}
				for _, p := range append(item.Parameters, op.Parameters...) {
					if p.Value.In == openapi3.ParameterInPath {
						params[p.Value.Name] = r.PathValue(p.Value.Name)
					}
				}
				*r.Context().Value(routeKey{}).(*matched) = matched{route, params}
			})
		}
	}
	return &apiChecker{t: t, doc: doc, mux: mux, seen: map[string]bool{}}
}

type routeKey struct{}

type matched struct {
	route  *routers.Route
	params map[string]string
}

// findRoute is the described operation req calls, and its path parameters.
func (c *apiChecker) findRoute(req *http.Request) (*routers.Route, map[string]string, error) {
	var m matched
	c.mux.ServeHTTP(httptest.NewRecorder(), req.WithContext(context.WithValue(req.Context(), routeKey{}, &m)))
	if m.route == nil {
		return nil, nil, errors.New("no operation matches")
	}
	return m.route, m.params, nil
}

// call sends one request to base and checks the answer's status is want
// and the exchange matches the description; it returns the body.
func (c *apiChecker) call(base, method, path, body string, header http.Header, want int) []byte {
	t := c.t
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, header)
	if h := header.Get("Host"); h != "" {
		req.Host = h // net/http sends req.Host, not the header
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Errorf("%s %s %s = %d %s, want %d", method, clip(path), clip(body), resp.StatusCode, clip(string(data)), want)
	}
	c.validate(method, path, body, header, resp.StatusCode, resp.Header, data)
	return data
}

// validate checks one exchange against the description: the request, when
// the gateway took it (a request the handlers accept must be one the
// description allows), and always the response.
func (c *apiChecker) validate(method, path, body string, header http.Header, status int, respHeader http.Header, respBody []byte) {
	t := c.t
	t.Helper()
	req, err := http.NewRequest(method, "http://gateway"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, header)
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	route, params, err := c.findRoute(req)
	if err != nil {
		t.Errorf("%s %s is not in the description: %v", method, path, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if status < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s %s was answered %d, but the description does not allow the request: %v", method, clip(path), clip(body), status, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: respHeader,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s %s: the answer %d %s does not match the description: %v", method, clip(path), clip(body), status, clip(string(respBody)), err)
		return
	}
	c.seen[route.Operation.OperationID+" "+strconv.Itoa(status)] = true
}

// everyOperation calls every documented operation of base with a request
// that the routes' own checks would take, and wants the status want
// returns for its operation id.
func (c *apiChecker) everyOperation(base string, header http.Header, want func(opID string) int) {
	ops := operations(c.doc)
	for _, key := range slices.Sorted(maps.Keys(ops)) {
		method, path, _ := strings.Cut(key, " ")
		path = strings.ReplaceAll(path, "{id}", "x")
		body := ""
		if method == http.MethodPost {
			body = `{}`
		}
		c.call(base, method, path, body, header, want(ops[key].OperationID))
	}
}

// clip shortens s for a failure message.
func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// unexercised are documented statuses no test can bring about, with why.
var unexercised = map[string]string{
	"getOpenAPI 500": "the embedded document loads, as this very test shows",
}

// checkCoverage fails for every documented status no exchange showed.
func (c *apiChecker) checkCoverage() {
	t := c.t
	t.Helper()
	for key, op := range operations(c.doc) {
		for _, status := range slices.Sorted(maps.Keys(op.Responses.Map())) {
			k := op.OperationID + " " + status
			if !c.seen[k] && unexercised[k] == "" {
				t.Errorf("%s answers %s in the description, but no request in the test was answered so", key, status)
			}
		}
	}
}

// serve starts a gateway with cfg on loopback and returns its base URL.
func serve(t *testing.T, cfg Config) (string, *Gateway) {
	t.Helper()
	cfg.Log = zerolog.Nop()
	cfg.Chat = testChat(cfg.Chat)
	g := New(cfg)
	hs := httpserver.New(nil, zerolog.Nop())
	g.Register(hs)
	addr, err := hs.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
		_ = hs.Shutdown(ctx)
	})
	return "http://" + addr.String(), g
}

// tilDocuments are the posts of the repository's sample, as the importer
// stores them.
func tilDocuments(t *testing.T) []warehouse.Document {
	t.Helper()
	f, err := os.Open("../testdata/simonw-til/til-sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []warehouse.Document
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var p struct {
			ID, Title, URL, Text string
			Author               string `json:"first_author"`
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, warehouse.Document{ID: p.ID, Collection: warehouse.Posts, Author: p.Author, Platform: "til",
			Link: p.URL, Title: p.Title, Content: p.Text, Language: "en", Metadata: map[string]string{"topic": "til"},
			PublishedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)})
	}
	return docs
}

// indexed is a real retrieval over the embedded vector store holding docs
// cut into paragraphs, with the lexical reranker.
func indexed(t *testing.T, docs []warehouse.Document) *retrieval.Pipeline {
	t.Helper()
	dense, sparse := embed.NewHashed(64), embed.NewBM25()
	store, err := embedded.Open(t.TempDir(), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var points []vectors.Point
	for _, d := range docs {
		for i, para := range strings.Split(d.Content, "\n\n") {
			v, err := dense.Embed(t.Context(), []string{para})
			if err != nil {
				t.Fatal(err)
			}
			points = append(points, vectors.Point{ID: fmt.Sprintf("%08x-0000-5000-8000-%012d", len(points), i), Dense: v[0],
				Sparse: sparse.Document(para), Payload: vectors.Payload{DocumentID: d.ID, AuthorID: warehouse.AuthorID(d.Author),
					Author: d.Author, Category: d.Collection, Title: d.Title, Link: d.Link, ChunkIndex: i, Text: para}})
		}
	}
	if err := store.Upsert(t.Context(), points); err != nil {
		t.Fatal(err)
	}
	return &retrieval.Pipeline{Search: &retrieval.Searcher{Dense: dense, Sparse: sparse, Store: store, Mode: retrieval.Sparse},
		Rerank: rerank.NewLexical()}
}

// TestOpenAPIMatchesTheHandlers drives the real handlers, on real NATS,
// SQLite and vector stores, with valid and invalid requests, and validates
// every answer against the description with kin-openapi: an undocumented
// status, header or field fails, and so does a documented status that no
// request brought about.
func TestOpenAPIMatchesTheHandlers(t *testing.T) {
	c := newAPIChecker(t)
	ctx := t.Context()

	// The full system: every dependency there, a warehouse holding the
	// sample posts, traces and judgments, and a responder playing the rag
	// worker.
	js := streamstest.Start(t)
	pub := streams.NewPublisher(js)
	store, err := warehouse.OpenSQLite(ctx, filepath.Join(t.TempDir(), "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	docs := tilDocuments(t)
	if _, err := store.Upsert(ctx, docs); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	if _, err := store.PutTraces(ctx, []warehouse.TraceRecord{
		storedTrace("t1", "r1", "how do I test ASGI lifespan?", at, docs[2].ID),
		storedTrace("t2", "r2", "what is Apache Bench?", at.Add(time.Second), docs[0].ID),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddFeedback(ctx, warehouse.FeedbackRecord{RequestID: "r1", TraceID: "t1", Rating: -1, Comment: "vague", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutJudgments(ctx, []warehouse.JudgmentRecord{{ID: "j1", Query: "how do I test ASGI lifespan?",
		DocumentID: docs[2].ID, Grade: 1, Source: "user", RequestID: "r1", TraceID: "t1", CreatedAt: at}}); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(ctx, js, store, pub)
	if err != nil {
		t.Fatal(err)
	}
	uri, err := reg.PutArtifact(ctx, registry.Reranker, "job-1", []byte("model"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []schemas.ModelRegistered{
		{Name: registry.Reranker, Kind: schemas.TrainingRerank, ArtifactURI: uri, JobID: "job-1", Datasets: []string{"ds-1"},
			Metrics: map[string]float64{"ndcg@10": 0.71}, RegisteredAt: at},
		{Name: registry.Reranker, Kind: schemas.TrainingRerank, JobID: "job-2"}, // no artifact: cannot serve
	} {
		if _, err := reg.Register(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	builder, err := datasets.New(datasets.Config{Docs: store, Records: store, Judgments: store, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	st := &stack{js: js, pub: pub, reg: prometheus.NewRegistry()}
	full, g := serve(t, Config{JS: js, Publisher: pub, Crawl: crawl.NewPublisher(pub, false), Store: store,
		Search: indexed(t, docs), Models: reg, Traces: traceFinderOf{store}, TraceStore: store, Judgments: store,
		Datasets: builder, Metrics: st.reg})
	st.g, st.base = g, full
	st.respond(t, echoAnswer)

	// A finished chat request, for the feedback routes and the WebSocket's
	// own handshake.
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(dctx, st.wsURL(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	c.validate(http.MethodGet, "/v1/chat", "", http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}},
		resp.StatusCode, resp.Header, nil)
	send(t, ws, ClientMessage{Type: MsgAsk, ID: "q1", Query: "What is Apache Bench?"})
	if _, end := collect(t, ws, "q1"); end.Type != MsgDone {
		t.Fatalf("the ask ended with %+v", end)
	}

	plain := http.Header{}
	upgrade := func(h ...string) http.Header {
		out := http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"}}
		for i := 0; i+1 < len(h); i += 2 {
			out.Set(h[i], h[i+1])
		}
		return out
	}
	many := make([]string, crawl.MaxURLs+1)
	for i := range many {
		many[i] = fmt.Sprintf("https://example.com/%d", i)
	}
	manyURLs, _ := json.Marshal(map[string]any{"urls": many})
	out := t.TempDir()
	cases := []struct {
		method, path, body string
		header             http.Header
		want               int
	}{
		{"GET", "/v1/openapi.json", "", plain, 200},
		{"GET", "/v1/status", "", plain, 200},

		{"POST", "/v1/crawl", `{"urls":["https://example.com/a"],"author":"Ada","refresh":true}`, plain, 202},
		{"POST", "/v1/crawl", `{"urls":["https://example.com/a","ftp://example.com/b"]}`, plain, 202},
		{"POST", "/v1/crawl", `{"urls":["ftp://example.com/b"]}`, plain, 400},
		{"POST", "/v1/crawl", `{"urls":[]}`, plain, 400},
		{"POST", "/v1/crawl", `{"links":["https://example.com"]}`, plain, 400},
		{"POST", "/v1/crawl", string(manyURLs), plain, 413},

		{"GET", "/v1/docs", "", plain, 200},
		{"GET", "/v1/docs?limit=2&collection=posts", "", plain, 200},
		{"GET", "/v1/docs?author=Simon%20Willison", "", plain, 200},
		{"GET", "/v1/docs?limit=0", "", plain, 400},
		{"GET", "/v1/docs?collection=poems", "", plain, 400},
		{"GET", "/v1/docs/" + url.PathEscape(docs[1].ID), "", plain, 200},
		{"GET", "/v1/docs/no-such-doc", "", plain, 404},
		{"DELETE", "/v1/docs/" + url.PathEscape(docs[3].ID), "", plain, 200},
		{"DELETE", "/v1/docs/" + url.PathEscape(docs[3].ID), "", plain, 200}, // a tombstone goes through the pipeline again
		{"GET", "/v1/docs/" + url.PathEscape(docs[3].ID), "", plain, 200},
		{"DELETE", "/v1/docs/no-such-doc", "", plain, 404},

		{"GET", "/v1/search?q=apache+bench+length+errors", "", plain, 200},
		{"GET", "/v1/search?q=sqlite&k=3&rerank=false&category=posts", "", plain, 200},
		{"GET", "/v1/search?q=sqlite&author=Simon%20Willison", "", plain, 200},
		// An unknown author is named, with the authors there are.
		{"GET", "/v1/search?q=sqlite&author=Nobody", "", plain, 404},
		{"GET", "/v1/search?q=", "", plain, 400},
		{"GET", "/v1/search?q=sqlite&k=0", "", plain, 400},
		{"GET", "/v1/search?q=sqlite&rerank=maybe", "", plain, 400},
		{"GET", "/v1/search?q=" + strings.Repeat("a", 4097), "", plain, 400},

		{"POST", "/v1/reindex", "", plain, 202},
		{"POST", "/v1/reindex", `{"author":"Simon Willison"}`, plain, 202},
		{"POST", "/v1/reindex", `{"author":1}`, plain, 400},

		{"POST", "/v1/feedback", `{"request_id":"q1","rating":1,"comment":"clear"}`, plain, 202},
		{"POST", "/v1/feedback", `{"request_id":"q1","document_id":"doc-1","helpful":true}`, plain, 202},
		{"POST", "/v1/feedback", `{"request_id":"q1","document_id":"doc-9","helpful":false}`, plain, 400},
		{"POST", "/v1/feedback", `{"request_id":"q1","rating":5}`, plain, 400},
		{"POST", "/v1/feedback", `{"request_id":"no such id!","rating":1}`, plain, 400},
		{"POST", "/v1/feedback", `{"request_id":"unknown","rating":1}`, plain, 404},

		{"GET", "/v1/authors", "", plain, 200},

		{"GET", "/v1/models", "", plain, 200},
		{"GET", "/v1/models?name=reranker", "", plain, 200},
		{"GET", "/v1/models?name=bad%20name", "", plain, 400},
		{"POST", "/v1/models/rollback", `{"name":"reranker"}`, plain, 409},
		{"POST", "/v1/models/promote", `{"name":"reranker","version":"2"}`, plain, 409},
		{"POST", "/v1/models/promote", `{"name":"reranker","version":"9"}`, plain, 404},
		{"POST", "/v1/models/promote", `{"name":"reranker"}`, plain, 400},
		{"POST", "/v1/models/promote", `{"name":"reranker","version":"1"}`, plain, 200},
		{"GET", "/v1/models?name=reranker", "", plain, 200},
		{"POST", "/v1/models/rollback", `{"name":"reranker"}`, plain, 200},
		{"POST", "/v1/models/rollback", `{"name":"bad name"}`, plain, 400},

		{"GET", "/v1/traces", "", plain, 200},
		{"GET", "/v1/traces?limit=1&author=Ada", "", plain, 200},
		{"GET", "/v1/traces?limit=0", "", plain, 400},
		{"GET", "/v1/traces?before=yesterday", "", plain, 400},
		{"GET", "/v1/traces/t1", "", plain, 200},
		{"GET", "/v1/traces/r2", "", plain, 200},
		{"GET", "/v1/traces/no-such-trace", "", plain, 404},

		{"POST", "/v1/datasets", `{"kind":"instruct","out":"` + filepath.Join(out, "instruct") + `","seed":7,"test_share":0.2}`, plain, 201},
		{"POST", "/v1/datasets", `{"kind":"relevance","out":"` + filepath.Join(out, "relevance") + `"}`, plain, 201},
		{"POST", "/v1/datasets", `{"kind":"instruct","author":"Nobody","out":"` + filepath.Join(out, "none") + `"}`, plain, 422},
		{"POST", "/v1/datasets", `{"kind":"instruct","out":"relative"}`, plain, 400},
		{"GET", "/v1/datasets", "", plain, 200},
		{"GET", "/v1/datasets?kind=instruct&limit=1", "", plain, 200},
		{"GET", "/v1/datasets?limit=0", "", plain, 400},

		{"GET", "/v1/chat", "", plain, 426},
		{"GET", "/v1/chat", "", upgrade(), 400},
		{"GET", "/v1/chat", "", upgrade("Sec-Websocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Origin", "https://elsewhere.example"), 403},
	}
	for _, tc := range cases {
		c.call(full, tc.method, tc.path, tc.body, tc.header, tc.want)
	}

	// The same listing again, page by page, for a page that has a next.
	var page TraceList
	if err := json.Unmarshal(c.call(full, "GET", "/v1/traces?limit=1", "", plain, 200), &page); err != nil || page.Next == "" {
		t.Errorf("the first page of one trace has no next (%v)", err)
	} else {
		c.call(full, "GET", "/v1/traces?limit=1&before="+page.Next, "", plain, 200)
	}
	// The served description is the embedded one.
	want, _ := OpenAPI()
	if got := c.call(full, "GET", "/v1/openapi.json", "", plain, 200); !bytes.Equal(got, want) {
		t.Error("GET /v1/openapi.json does not serve OpenAPI()")
	}

	// A gateway with nothing configured but NATS: 503 on every route that
	// needs more.
	bare, _ := serve(t, Config{JS: js})
	c.everyOperation(bare, nil, func(op string) int {
		switch op {
		case "getOpenAPI", "getStatus", "getConnect":
			return 200
		}
		return 503
	})
	// The same, reached under a name that is not a loopback one (DNS
	// rebinding): 403 on every route but the public description.
	c.everyOperation(bare, http.Header{"Host": {"evil.example"}}, func(op string) int {
		if op == "getOpenAPI" {
			return 200
		}
		return 403
	})
	// A gateway that wants a token: 401 with a challenge, on every route
	// but the public description.
	guarded, _ := serve(t, Config{JS: js, Auth: AuthConfig{Tokens: []string{"a-token-of-twenty-bytes"}}})
	c.everyOperation(guarded, nil, func(op string) int {
		if op == "getOpenAPI" {
			return 200
		}
		return 401
	})
	// A gateway whose auth settings are not valid refuses every /v1 route
	// but the description.
	misconfigured, _ := serve(t, Config{JS: js, Auth: AuthConfig{Tokens: []string{"short"}}})
	c.everyOperation(misconfigured, nil, func(op string) int {
		if op == "getOpenAPI" {
			return 200
		}
		return 500
	})

	// A gateway holding all the chat connections it may: the handshake is
	// refused with a Retry-After.
	crowded, _ := serve(t, Config{JS: js, Publisher: pub, Chat: ChatConfig{MaxConns: 1}})
	first, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(crowded, "http")+"/v1/chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.CloseNow()
	if body := c.call(crowded, "GET", "/v1/chat", "", upgrade("Sec-Websocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), 503); !bytes.Contains(body, []byte("too many")) {
		t.Errorf("a handshake past the connection limit was answered %s", body)
	}

	// A gateway whose NATS connection and warehouse have gone away.
	lost := streamstest.Start(t)
	lost.Conn().Close()
	gone, err := warehouse.OpenSQLite(ctx, filepath.Join(t.TempDir(), "gone.db"))
	if err != nil {
		t.Fatal(err)
	}
	goneBuilder, err := datasets.New(datasets.Config{Docs: gone, Records: gone, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	broken, _ := serve(t, Config{JS: lost, Store: gone, Datasets: goneBuilder})
	c.call(broken, "GET", "/v1/status", "", plain, 503)
	c.call(broken, "GET", "/v1/docs", "", plain, 503)
	c.call(broken, "POST", "/v1/datasets", `{"kind":"instruct","out":"`+filepath.Join(out, "gone")+`"}`, plain, 500)

	c.checkCoverage()
}

// traceFinderOf finds traces in the warehouse, as cmd/twin's does.
type traceFinderOf struct{ store *warehouse.SQLiteStore }

func (f traceFinderOf) TraceByRequest(ctx context.Context, requestID string) (string, error) {
	rec, err := f.store.TraceByRequest(ctx, requestID)
	if errors.Is(err, warehouse.ErrNotFound) {
		return "", fmt.Errorf("%w: %w", ErrTraceNotFound, err)
	}
	if err != nil {
		return "", err
	}
	return rec.TraceID, nil
}

// TestWebSocketDocExampleMatchesTheProtocol reads the exchange recorded in
// docs/websocket.md: every gateway frame must decode, with no unknown
// field, into the type the gateway sends it as, and every client frame
// must be parsed as the recorded answer says (refused with the same code,
// or taken).
func TestWebSocketDocExampleMatchesTheProtocol(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../docs/websocket.md")
	if err != nil {
		t.Fatal(err)
	}
	strict := func(frame string, v any) error {
		dec := json.NewDecoder(strings.NewReader(frame))
		dec.DisallowUnknownFields()
		return dec.Decode(v)
	}
	lim := parseLimits{maxQueryChars: DefaultMaxQueryChars, maxCommentChars: DefaultMaxCommentChars}
	parseCodes := []string{CodeBadJSON, CodeBadRequest, CodeUnknownType, CodeTooLong}
	var sent string // the last client frame, until its first answer
	frames := 0
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\n")
		if frame, ok := strings.CutPrefix(line, "> "); ok {
			if sent != "" {
				if _, pe := parseClientMessage([]byte(sent), lim); pe != nil {
					t.Errorf("client frame %s is refused (%s) but the example shows no answer", sent, pe.code)
				}
			}
			sent = frame
			continue
		}
		frame, ok := strings.CutPrefix(line, "< ")
		if !ok {
			continue
		}
		frames++
		var head struct{ Type, Code string }
		if err := json.Unmarshal([]byte(frame), &head); err != nil {
			t.Errorf("gateway frame %s is not JSON: %v", frame, err)
			continue
		}
		switch head.Type {
		case MsgToken:
			err = strict(frame, &schemas.ReplyToken{})
		case MsgDone:
			err = strict(frame, &schemas.ReplyDone{})
		case MsgAccepted, MsgError:
			err = strict(frame, &ServerMessage{})
		default:
			err = fmt.Errorf("unknown type %q", head.Type)
		}
		if err != nil {
			t.Errorf("gateway frame %s: %v", frame, err)
		}
		if sent == "" {
			continue
		}
		_, pe := parseClientMessage([]byte(sent), lim)
		switch {
		case head.Type == MsgError && slices.Contains(parseCodes, head.Code):
			if pe == nil || pe.code != head.Code {
				t.Errorf("client frame %s: the example answers %s, the parser says %v", sent, head.Code, pe)
			}
		case pe != nil:
			t.Errorf("client frame %s: the example answers %s, the parser refuses it with %s", sent, frame, pe.code)
		}
		sent = ""
	}
	if frames < 10 {
		t.Errorf("docs/websocket.md shows %d gateway frames; want its recorded exchange", frames)
	}
}
