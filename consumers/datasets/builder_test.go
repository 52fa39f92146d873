package datasets

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/store/warehouse"
)

const til = "Simon Willison"

// openStore is a real SQLite warehouse in a temporary directory.
func openStore(t *testing.T) *warehouse.SQLiteStore {
	t.Helper()
	s, err := warehouse.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// importTIL writes the sample posts of testdata/simonw-til into s and
// returns their ids.
func importTIL(t *testing.T, s warehouse.Store) []string {
	t.Helper()
	f, err := os.Open("../../testdata/simonw-til/til-sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []warehouse.Document
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var p struct {
			ID, Title, Text, URL string
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, warehouse.Document{ID: p.ID, Collection: warehouse.Posts, Author: til, Title: p.Title,
			Content: p.Text, Link: p.URL, Platform: "til"})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Upsert(t.Context(), docs); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids
}

func newBuilder(t testing.TB, cfg Config) *Builder {
	t.Helper()
	cfg.Log = zerolog.Nop()
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readLines reads a JSONL file into maps.
func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for i, line := range bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s line %d: %v", path, i+1, err)
		}
		out = append(out, m)
	}
	return out
}

// readSplits reads train.jsonl and test.jsonl of dir and checks their
// sizes against rec.
func readSplits(t *testing.T, dir string, rec warehouse.DatasetRecord) []map[string]any {
	t.Helper()
	train, test := readLines(t, filepath.Join(dir, TrainFile)), readLines(t, filepath.Join(dir, TestFile))
	if len(train) != rec.Train || len(test) != rec.Test || rec.Train+rec.Test != rec.Kept {
		t.Fatalf("files hold %d train and %d test lines; record says train %d, test %d, kept %d", len(train), len(test), rec.Train, rec.Test, rec.Kept)
	}
	var manifest warehouse.DatasetRecord
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.ID != rec.ID || manifest.Kept != rec.Kept || manifest.URI != rec.URI {
		t.Errorf("manifest %+v does not match the record %+v", manifest, rec)
	}
	return append(train, test...)
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func TestInstructPairsFromDocumentsPassTheFilters(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	ids := importTIL(t, store)
	b := newBuilder(t, Config{Docs: store, Records: store})
	for _, format := range []string{FormatAlpaca, FormatChat} {
		t.Run(format, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			rec, err := b.Build(t.Context(), Request{Kind: KindInstruct, Author: til, Dir: dir, Seed: 1, Format: format})
			if err != nil {
				t.Fatal(err)
			}
			if rec.Kept < 10 || rec.Test == 0 {
				t.Fatalf("kept %d pairs (test %d) from %d posts; want at least 10 and a test split", rec.Kept, rec.Test, len(ids))
			}
			for i, l := range readSplits(t, dir, rec) {
				instr, out := str(l, "instruction"), str(l, "output")
				if format == FormatChat {
					msgs, _ := l["messages"].([]any)
					if len(msgs) != 2 {
						t.Fatalf("line %d: messages %v, want a user and an assistant turn", i, l["messages"])
					}
					u, a := msgs[0].(map[string]any), msgs[1].(map[string]any)
					if str(u, "role") != "user" || str(a, "role") != "assistant" {
						t.Fatalf("line %d: roles %v", i, msgs)
					}
					instr, out = str(u, "content"), str(a, "content")
				}
				if len(instr) < DefaultMinInstructionChars || len(out) < DefaultMinOutputChars || len(out) > MaxExtractChars {
					t.Errorf("line %d: instruction %q, output of %d bytes: outside the filters", i, instr, len(out))
				}
				if m := str(l, "method"); m != MethodHeading && m != MethodTitleLead {
					t.Errorf("line %d: method %q, want heading or title_lead", i, m)
				}
			}
			stored, err := store.GetDataset(t.Context(), rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Kept != rec.Kept || stored.Format != format || stored.Model != "" || len(stored.DocumentIDs) == 0 {
				t.Errorf("stored record %+v, want the build's, without a model, with its documents", stored)
			}
			for _, id := range stored.DocumentIDs {
				if !slices.Contains(ids, id) {
					t.Errorf("lineage names document %q, which was not imported", id)
				}
			}
		})
	}
}

func TestPreferenceTriplesFromDocumentsPassTheFilters(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	importTIL(t, store)
	b := newBuilder(t, Config{Docs: store, Traces: store, Records: store})
	dir := t.TempDir()
	rec, err := b.Build(t.Context(), Request{Kind: KindPreference, Author: til, Dir: dir, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Kept < 5 || rec.Model != "extractive" || rec.PromptVersion != PromptVersion {
		t.Fatalf("record %+v: want at least 5 triples, rejected by the extractive answerer", rec)
	}
	for i, l := range readSplits(t, dir, rec) {
		p, c, r := str(l, "prompt"), str(l, "chosen"), str(l, "rejected")
		if len(p) < DefaultMinInstructionChars || len(c) < DefaultMinOutputChars || !sentenceShaped(c) {
			t.Errorf("line %d: prompt %q, chosen %q: outside the filters", i, p, c)
		}
		if r == "" || r == c {
			t.Errorf("line %d: rejected %q is empty or the chosen text", i, r)
		}
		if str(l, "method") != MethodExtractiveBaseline {
			t.Errorf("line %d: method %q", i, str(l, "method"))
		}
	}
}

func TestSplitIsDeterministicBySeed(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	importTIL(t, store)
	b := newBuilder(t, Config{Docs: store})
	build := func(seed int64) (train, test []byte) {
		t.Helper()
		dir := t.TempDir()
		if _, err := b.Build(t.Context(), Request{Kind: KindInstruct, Dir: dir, Seed: seed, TestShare: 0.3}); err != nil {
			t.Fatal(err)
		}
		train, err := os.ReadFile(filepath.Join(dir, TrainFile))
		if err != nil {
			t.Fatal(err)
		}
		test, err = os.ReadFile(filepath.Join(dir, TestFile))
		if err != nil {
			t.Fatal(err)
		}
		return train, test
	}
	train1, test1 := build(7)
	train2, test2 := build(7)
	if !bytes.Equal(train1, train2) || !bytes.Equal(test1, test2) {
		t.Fatal("two builds with seed 7 wrote different files")
	}
	if len(test1) == 0 {
		t.Fatal("test split is empty at a share of 0.3")
	}
	differ := false
	for seed := int64(8); seed < 12 && !differ; seed++ {
		_, test := build(seed)
		differ = !bytes.Equal(test, test1)
	}
	if !differ {
		t.Error("seeds 8 to 11 all gave seed 7's test split: the seed does not decide the split")
	}
}

func TestSplitKeepsAGroupOnOneSide(t *testing.T) {
	t.Parallel()
	var in []Example
	for g := range 20 {
		for i := range g%3 + 1 {
			in = append(in, Example{Group: fmt.Sprint("g", g), Output: fmt.Sprint(g, "-", i)})
		}
	}
	for _, share := range []float64{0.1, 0.25, 0.5} {
		train, test := split(in, 42, share)
		if len(train)+len(test) != len(in) || len(train) == 0 || len(test) == 0 {
			t.Fatalf("share %v: train %d + test %d of %d", share, len(train), len(test), len(in))
		}
		inTrain := map[string]bool{}
		for _, e := range train {
			inTrain[e.Group] = true
		}
		for _, e := range test {
			if inTrain[e.Group] {
				t.Errorf("share %v: group %s is on both sides", share, e.Group)
			}
		}
		if want := share * float64(len(in)); float64(len(test)) < want || float64(len(test)) > want+3 {
			t.Errorf("share %v: %d test examples of %d, want about %.0f", share, len(test), len(in), want)
		}
	}
}

// rated is a trace of a chat answer with one rating.
func rated(t *testing.T, store *warehouse.SQLiteStore, id, query, answer string, rating int, cited ...string) string {
	t.Helper()
	hits := make([]map[string]any, len(cited))
	for i, d := range cited {
		hits[i] = map[string]any{"id": fmt.Sprint(d, "#0"), "document_id": d, "score": 1}
	}
	answerJSON, _ := json.Marshal(answer)
	hitsJSON, _ := json.Marshal(hits)
	body := fmt.Sprintf(`{"trace_id":%q,"request_id":%q,"query":%q,"steps":[{"name":"rerank","output":%s},{"name":"generate","output":%s}]}`,
		id, "req-"+id, query, hitsJSON, answerJSON)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if _, err := store.PutTraces(t.Context(), []warehouse.TraceRecord{{TraceID: id, RequestID: "req-" + id, Author: til,
		CreatedAt: at, Trace: json.RawMessage(body)}}); err != nil {
		t.Fatal(err)
	}
	fb := warehouse.FeedbackRecord{RequestID: "req-" + id, TraceID: id, Rating: rating, CreatedAt: at.Add(time.Minute)}
	if _, err := store.AddFeedback(t.Context(), fb); err != nil {
		t.Fatal(err)
	}
	return fb.RequestID + "#" + warehouse.FeedbackKey(fb)
}

func TestRatingsGiveTriples(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	importTIL(t, store)
	good := "Apache Bench counts a response as a length error when its size differs from the first page it received. " +
		"Pages with timings or other dynamic content always differ, so pass the -l option and it accepts responses of any length."
	down1 := rated(t, store, "t1", "Why does ab report length errors?", "I don't know.", -1, "ab/apache-bench-length-errors")
	up := rated(t, store, "t2", "why does AB report  length errors?", good, 1, "ab/apache-bench-length-errors")
	down2 := rated(t, store, "t3", "How do I avoid length errors with Apache Bench?", "Use curl instead.", -1, "ab/apache-bench-length-errors")
	rated(t, store, "t4", "What is Datasette?", "A tool.", 1)
	rated(t, store, "t5", "What is nothing?", "Nothing.", -1) // no better answer, no source: dropped

	b := newBuilder(t, Config{Traces: store, Docs: store, Records: store})
	dir := t.TempDir()
	rec, err := b.Build(t.Context(), Request{Kind: KindPreference, Author: til, Dir: dir, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	lines := readSplits(t, dir, rec)
	t.Logf("dropped %v methods %v", rec.Dropped, rec.Methods)
	byMethod := map[string][]map[string]any{}
	for _, l := range lines {
		byMethod[str(l, "method")] = append(byMethod[str(l, "method")], l)
	}
	if len(byMethod[MethodRatingPair]) != 1 || len(byMethod[MethodRatingSource]) != 1 {
		t.Fatalf("lines by method %v: want one rating_pair and one rating_source", byMethod)
	}
	pair, source := byMethod[MethodRatingPair][0], byMethod[MethodRatingSource][0]
	if str(pair, "chosen") != good || str(pair, "rejected") != "I don't know." {
		t.Errorf("rating pair %v: want the up-rated answer over the down-rated one", pair)
	}
	if str(source, "rejected") != "Use curl instead." || !strings.Contains(str(source, "chosen"), "Apache Bench") {
		t.Errorf("rating source %v: want the cited post's passage over the down-rated answer", source)
	}
	if rec.Dropped[DropNoChosen] != 1 {
		t.Errorf("dropped %v: want one no_chosen", rec.Dropped)
	}
	for _, id := range []string{down1, up, down2} {
		if !slices.Contains(rec.FeedbackIDs, id) {
			t.Errorf("lineage %v lacks rating %s", rec.FeedbackIDs, id)
		}
	}
}
