package datasets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/twin-llm/twin/internal/models/llm"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

// memJudgments is an in-memory JudgmentStore reader for the builder's
// logic: judgments in Seq order, paged as the real stores page.
type memJudgments []warehouse.JudgmentRecord

func (m memJudgments) ListJudgments(_ context.Context, opts warehouse.JudgmentListOptions) ([]warehouse.JudgmentRecord, error) {
	var out []warehouse.JudgmentRecord
	for _, j := range m {
		if j.Seq > opts.After && (opts.Limit <= 0 || len(out) < opts.Limit) {
			out = append(out, j)
		}
	}
	return out, nil
}

func TestRelevanceFromJudgments(t *testing.T) {
	t.Parallel()
	var js memJudgments
	add := func(q, doc string, grade int) {
		js = append(js, warehouse.JudgmentRecord{ID: fmt.Sprint("j", len(js)+1), Query: q, DocumentID: doc, Grade: grade,
			Source: "import", Seq: int64(len(js) + 1)})
	}
	add("What causes length errors?", "d1", 0)
	for i := range 30 {
		add(fmt.Sprintf("query number %d", i), fmt.Sprint("d", i), i%3)
		add(fmt.Sprintf("query number %d", i), fmt.Sprint("e", i), 0)
	}
	add("what causes  LENGTH errors?", "d1", 2) // the same judgment, later: it wins
	add("no", "d1", 1)                          // too short a query
	b := newBuilder(t, Config{Judgments: js})
	dir := t.TempDir()
	rec, err := b.Build(t.Context(), Request{Kind: KindRelevance, Dir: dir, Seed: 5, TestShare: 0.2, Author: "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Kept != 61 || rec.Dropped[DropSuperseded] != 1 || rec.Dropped[DropShortQuery] != 1 {
		t.Errorf("kept %d, dropped %v; want 61 kept, one superseded, one short query", rec.Kept, rec.Dropped)
	}
	if rec.JudgmentSeqFirst != 1 || rec.JudgmentSeqLast != int64(len(js)) || rec.Author != "" {
		t.Errorf("record %+v: want judgments 1 to %d and no author", rec, len(js))
	}
	train, test := readLines(t, filepath.Join(dir, TrainFile)), readLines(t, filepath.Join(dir, TestFile))
	queries := map[string]bool{}
	for _, l := range train {
		queries[normalizeQuery(str(l, "query"))] = true
		if str(l, "query") == "What causes length errors?" {
			t.Errorf("the superseded judgment was kept: %v", l)
		}
	}
	for _, l := range test {
		if queries[normalizeQuery(str(l, "query"))] {
			t.Errorf("query %q is in both splits", str(l, "query"))
		}
	}
	if len(test) < 10 || len(test) > 14 {
		t.Errorf("%d test lines of 61 at a share of 0.2", len(test))
	}
}

func TestFiltersDropByReason(t *testing.T) {
	t.Parallel()
	long := "The consumer acknowledges a message only after its effect is durable, so a crash never loses one. " +
		"Redelivery is safe because every effect is idempotent, keyed by the source's own id, and a retry waits longer each time."
	other := "Backpressure comes from the pull consumer: a worker fetches only what it can handle, and the server keeps the rest. " +
		"Nothing is pushed to a slow worker, so its memory stays bounded under load, whatever the publishers do upstream."
	cases := []struct {
		name string
		kind string
		e    Example
		want string
	}{
		{"short instruction", KindInstruct, Example{Instruction: "Why?", Output: long}, DropShortInstruction},
		{"short output", KindInstruct, Example{Instruction: "Explain acknowledgements.", Output: "Because."}, DropShortOutput},
		{"email", KindInstruct, Example{Instruction: "Who to write to?", Output: long + " Write to ada@example.com today."}, DropPersonalData},
		{"api key", KindInstruct, Example{Instruction: "Which key did you use?", Output: long + " I used api_key=abcdef123456 there."}, DropPersonalData},
		{"not sentences", KindPreference, Example{Prompt: "Explain acknowledgements.", Chosen: "```\n" + long + "\n```", Rejected: "No."}, DropNotSentences},
		{"rejected is the chosen", KindPreference, Example{Prompt: "Explain acknowledgements.", Chosen: long, Rejected: long}, DropRejectedLike},
		{"empty rejected", KindPreference, Example{Prompt: "Explain acknowledgements.", Chosen: long, Rejected: " "}, DropRejectedLike},
		{"short query", KindRelevance, Example{Query: "ab", DocumentID: "d"}, DropShortQuery},
		{"passes", KindPreference, Example{Prompt: "Explain acknowledgements.", Chosen: long, Rejected: other}, ""},
	}
	b := newBuilder(t, Config{})
	for _, c := range cases {
		if got := b.cfg.Filters.check(c.kind, c.e, b.guard); got != c.want {
			t.Errorf("%s: check = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestNearDuplicatesAreDroppedOnce(t *testing.T) {
	t.Parallel()
	base := "A durable queue keeps every message until a consumer acknowledges it after the effect is stored. " +
		"Retries wait longer each time, and a poison message goes to the dead letter queue with its reason. " +
		"The runtime owns the acknowledgements, so a handler only returns an error and never touches the message itself. " +
		"Lag is exported for every consumer, which tells an operator when a stage falls behind the others."
	almost := strings.Replace(base, "each time", "every time", 1)
	distinct := "Search fuses the dense and the sparse results with reciprocal rank fusion, then the reranker orders the best fifty by relevance to the question."
	in := []Example{
		{Instruction: "Explain the queue.", Output: base},
		{Instruction: "Explain the queue.", Output: almost},
		{Instruction: "Explain the search.", Output: distinct + " " + distinct},
	}
	dropped := map[string]int{}
	out := Filters{}.filter(KindInstruct, in, newBuilder(t, Config{}).guard, dropped)
	if len(out) != 2 || out[0].Output != base || dropped[DropNearDuplicate] != 1 {
		t.Errorf("kept %d (first %q), dropped %v; want the first and the distinct one, one near-duplicate", len(out), out[0].Output[:20], dropped)
	}
}

func TestBuildRefusesBadRequests(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	busy := t.TempDir()
	if err := os.WriteFile(filepath.Join(busy, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := newBuilder(t, Config{Docs: store})
	cases := []struct {
		name string
		req  Request
		want error
	}{
		{"unknown kind", Request{Kind: "sft", Dir: t.TempDir()}, ErrInvalid},
		{"wrong format", Request{Kind: KindPreference, Format: FormatChat, Dir: t.TempDir()}, ErrInvalid},
		{"no directory", Request{Kind: KindInstruct}, ErrInvalid},
		{"test share of one", Request{Kind: KindInstruct, Dir: t.TempDir(), TestShare: 1}, ErrInvalid},
		{"negative test share", Request{Kind: KindInstruct, Dir: t.TempDir(), TestShare: -0.1}, ErrInvalid},
		{"directory with other files", Request{Kind: KindInstruct, Dir: busy}, ErrInvalid},
		{"relevance without judgments", Request{Kind: KindRelevance, Dir: t.TempDir()}, ErrUnavailable},
		{"no documents", Request{Kind: KindInstruct, Dir: t.TempDir()}, ErrEmpty},
	}
	for _, c := range cases {
		if _, err := b.Build(t.Context(), c.req); !errors.Is(err, c.want) {
			t.Errorf("%s: Build = %v, want %v", c.name, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(busy); len(entries) != 1 {
		t.Errorf("a refused build wrote into %s: %v", busy, entries)
	}
}

// fakeLLM is an OpenAI-compatible chat completions server (streamed, as
// the client asks). It answers the instruction prompt by the section named
// in the user's message: "Broken" always gets prose instead of JSON,
// "Flaky" gets it once and then JSON; the rejected-answer prompt gets a
// short generic answer. It proves the requests the builder sends and how
// it reads the replies, not what a real model would write.
type fakeLLM struct {
	mu    sync.Mutex
	calls []string // the system prompt of each request
	seen  map[string]int
}

func (f *fakeLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body struct {
		Model    string        `json:"model"`
		Messages []llm.Message `json:"messages"`
		Stream   bool          `json:"stream"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || len(body.Messages) != 2 || !body.Stream {
		http.Error(w, `{"error":{"message":"want a streamed request with a system and a user message"}}`, http.StatusBadRequest)
		return
	}
	system, user := body.Messages[0].Content, body.Messages[1].Content
	f.mu.Lock()
	f.calls = append(f.calls, system)
	section := ""
	for _, line := range strings.Split(user, "\n") {
		if s, ok := strings.CutPrefix(line, "Section: "); ok {
			section = s
		}
	}
	f.seen[section]++
	n := f.seen[section]
	f.mu.Unlock()
	var reply string
	switch {
	case system == rejectedSystem:
		reply = "It depends on your setup; check the documentation of your tools for details."
	case section == "Broken" || (section == "Flaky" && n == 1):
		reply = "Sure! Here are some pairs about this text, hope it helps."
	default:
		var pairs []Pair
		for i := range 3 {
			pairs = append(pairs, Pair{
				Instruction: fmt.Sprintf("Question %d about %s: how does it work?", i, section),
				Answer:      fmt.Sprintf("In %s, answer %d: %s", section, i, answers[i]),
			})
		}
		b, _ := json.Marshal(map[string]any{"pairs": pairs})
		reply = "```json\n" + string(b) + "\n```"
	}
	w.Header().Set("Content-Type", "text/event-stream")
	content, _ := json.Marshal(reply)
	fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":%s},\"finish_reason\":null}]}\n\n", body.Model, content)
	fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":20,\"total_tokens\":30}}\n\n", body.Model)
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// answers are three unlike answers, so that the pairs of one extract are
// not near-duplicates of each other.
var answers = []string{
	"I keep every message until the consumer says it is done, because losing one would be worse than seeing it twice. Redelivery is safe since each effect is idempotent. I learned that the hard way, on a night when a queue lost a week of orders.",
	"Backpressure comes from pulling: a worker fetches what it can handle and the server holds the rest, so a slow worker never drowns in pushed messages. It is the quiet reason my consumers never run out of memory.",
	"A poison message is retried with growing delays and then parked in the dead letter queue with its reason, where an operator can read it and send it back. Nothing loops forever, and nothing is lost without a trace.",
}

// sectioned is a document of three headed sections of about 1,500 bytes
// each, so that each is one extract.
func sectioned() string {
	var b strings.Builder
	for _, h := range []string{"Working", "Broken", "Flaky"} {
		fmt.Fprintf(&b, "## %s\n\n", h)
		for i := range 16 {
			fmt.Fprintf(&b, "In the %s part, sentence %d says something new about queue number %d and its consumers. ", strings.ToLower(h), i, i*7+len(h))
		}
		b.WriteString("\n\n")
	}
	return b.String()
}

func TestLLMPairsAreParsedRetriedOnceAndDropped(t *testing.T) {
	t.Parallel()
	fake := &fakeLLM{seen: map[string]int{}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	model, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "twin-writer", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	store := openStore(t)
	if _, err := store.Upsert(t.Context(), []warehouse.Document{{ID: "doc-1", Collection: warehouse.Articles, Author: "Ada",
		Title: "Queues", Content: sectioned()}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := Extracts("doc-1", "Queues", sectioned(), 200); len(got) != 3 {
		t.Fatalf("the document gives %d extracts, want 3", len(got))
	}
	b := newBuilder(t, Config{Docs: store, LLM: model, Records: store})

	dir := t.TempDir()
	rec, err := b.Build(t.Context(), Request{Kind: KindInstruct, Author: "Ada", Dir: dir})
	if err != nil {
		t.Fatalf("%v: %+v", err, rec)
	}
	if rec.Kept != 6 || rec.Dropped[DropLLMInvalid] != 1 || rec.Methods[MethodLLM] != 6 {
		t.Errorf("kept %d, dropped %v, methods %v; want 6 pairs (Working, Flaky after a retry), Broken dropped once", rec.Kept, rec.Dropped, rec.Methods)
	}
	if rec.Model != "twin-writer" || rec.PromptVersion != PromptVersion {
		t.Errorf("record names model %q, prompt %q", rec.Model, rec.PromptVersion)
	}
	fake.mu.Lock()
	calls, broken := len(fake.calls), fake.seen["Broken"]
	wantStyle := strings.Contains(fake.calls[0], "Ada") && strings.Contains(fake.calls[0], "3 instruction-answer pairs")
	fake.mu.Unlock()
	if calls != 5 || broken != 2 || !wantStyle {
		t.Errorf("%d requests (Broken asked %d times, style prompt %v); want 5: Working once, Broken twice, Flaky twice", calls, broken, wantStyle)
	}
	for _, l := range readSplits(t, dir, rec) {
		if !strings.HasPrefix(str(l, "instruction"), "Question ") || str(l, "method") != MethodLLM {
			t.Errorf("line %v is not one of the LLM's pairs", l)
		}
	}

	dir = t.TempDir()
	rec, err = b.Build(t.Context(), Request{Kind: KindPreference, Author: "Ada", Dir: dir})
	if err != nil {
		t.Fatalf("%v: %+v", err, rec)
	}
	if rec.Methods[MethodGenerated] != 2 || rec.Model != "twin-writer" {
		t.Errorf("preference record %+v: want 2 generated triples (Broken dropped)", rec)
	}
	for _, l := range readSplits(t, dir, rec) {
		if !strings.HasPrefix(str(l, "rejected"), "It depends") || !strings.HasPrefix(str(l, "chosen"), "In the ") {
			t.Errorf("triple %v: want the author's text over the generic answer", l)
		}
	}
}

func FuzzParsePairs(f *testing.F) {
	f.Add(`{"pairs":[{"instruction":"a","answer":"b"}]}`)
	f.Add("```json\n[{\"instruction\":\"a\",\"answer\":\"b\"}]\n```")
	f.Add(`Sure: {"pairs":[{"instruction":"","answer":"b"}]} hope it helps`)
	f.Add(`{"pairs":null}`)
	f.Add(`[}`)
	f.Fuzz(func(t *testing.T, reply string) {
		pairs, err := ParsePairs(reply)
		if err != nil {
			if !errors.Is(err, errInvalidOutput) || pairs != nil {
				t.Fatalf("ParsePairs(%q) = %v, %v: an error must be errInvalidOutput with no pairs", reply, pairs, err)
			}
			return
		}
		if len(pairs) == 0 {
			t.Fatalf("ParsePairs(%q) returned no pairs and no error", reply)
		}
		for _, p := range pairs {
			if p.Instruction == "" || p.Answer == "" {
				t.Fatalf("ParsePairs(%q) returned an empty field: %+v", reply, p)
			}
		}
	})
}

// TestRelevanceFromTheSQLiteJudgmentStore builds a relevance set from the
// warehouse's own judgment store, paged as the store pages. It skips on a
// build whose SQLite store does not keep judgments yet.
func TestRelevanceFromTheSQLiteJudgmentStore(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	js, ok := any(store).(warehouse.JudgmentStore)
	if !ok {
		t.Skip("this build's SQLite warehouse does not implement warehouse.JudgmentStore")
	}
	var recs []warehouse.JudgmentRecord
	for i := range 40 {
		recs = append(recs, warehouse.JudgmentRecord{ID: fmt.Sprint("j", i), Query: fmt.Sprintf("what is claim %d?", i%20),
			DocumentID: fmt.Sprint("doc", i%20), Grade: i / 20, Source: "import"})
	}
	if _, err := js.PutJudgments(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	b := newBuilder(t, Config{Judgments: js, Records: store})
	dir := t.TempDir()
	rec, err := b.Build(t.Context(), Request{Kind: KindRelevance, Dir: dir, Seed: 2, TestShare: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Kept != 20 || rec.Dropped[DropSuperseded] != 20 || rec.JudgmentSeqLast <= rec.JudgmentSeqFirst {
		t.Errorf("record %+v: want 20 judgments kept (the later grade of each), 20 superseded, a seq range", rec)
	}
	for _, l := range readSplits(t, dir, rec) {
		if g, _ := l["grade"].(float64); g != 1 {
			t.Errorf("line %v: want the later grade, 1", l)
		}
	}
}
