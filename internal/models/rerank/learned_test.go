package rerank

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNDCG(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		j     Judged
		order []int
		k     int
		want  float64
	}{
		{"ideal", Judged{Grades: []int{1, 0, 0}}, []int{0, 1, 2}, 10, 1},
		{"second", Judged{Grades: []int{0, 1, 0}}, []int{0, 1, 2}, 10, 1 / math.Log2(3)},
		{"below k", Judged{Grades: []int{0, 0, 1}}, []int{0, 1, 2}, 2, 0},
		{"nothing relevant", Judged{Grades: []int{0, 0}}, []int{0, 1}, 10, 0},
		{"graded", Judged{Grades: []int{1, 2}}, []int{0, 1}, 10, (1 + 2/math.Log2(3)) / (2 + 1/math.Log2(3))},
		{"missed relevant counts in the ideal", Judged{Grades: []int{1, 0}, Ideal: []int{1, 1}}, []int{0, 1}, 10, 1 / (1 + 1/math.Log2(3))},
		{"a document's second chunk does not count", Judged{Grades: []int{1, 1, 0}, Docs: []string{"a", "a", "b"}}, []int{0, 1, 2}, 10, 1},
		{"chunks of one document take one rank", Judged{Grades: []int{0, 0, 1}, Docs: []string{"a", "a", "b"}}, []int{0, 1, 2}, 10, 1 / math.Log2(3)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.j.Texts = make([]string, len(tc.j.Grades))
			if got := NDCG(tc.j, tc.order, tc.k); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("NDCG = %v, want %v", got, tc.want)
			}
		})
	}
}

// synthetic builds judged queries in which retrieval put the relevant
// passage low and the passages above it repeat one query word: the
// reranker has to learn that covering the query beats repeating it.
func synthetic(n int, seed uint64) []Judged {
	rng := rand.New(rand.NewPCG(seed, 42))
	topics := []string{"engine", "rotor", "turbine", "compressor", "nozzle", "bearing", "valve", "piston",
		"gasket", "crankshaft", "camshaft", "injector", "manifold", "radiator", "alternator", "clutch"}
	filler := strings.Fields("the system was described in a report that covered several unrelated matters of the day and more")
	var out []Judged
	for q := range n {
		a, b := topics[rng.IntN(len(topics))], topics[rng.IntN(len(topics))]
		for b == a {
			b = topics[rng.IntN(len(topics))]
		}
		j := Judged{Query: fmt.Sprintf("how does the %s drive the %s", a, b)}
		rel := 3 + rng.IntN(5)
		for i := range 10 {
			words := slices.Clone(filler)
			rng.Shuffle(len(words), func(x, y int) { words[x], words[y] = words[y], words[x] })
			var text string
			if i == rel {
				text = fmt.Sprintf("The %s drives the %s directly. %s", a, b, strings.Join(words, " "))
				j.Grades = append(j.Grades, 1+q%2)
			} else {
				text = fmt.Sprintf("%s %s %s. %s", a, a, a, strings.Join(words, " "))
				j.Grades = append(j.Grades, 0)
			}
			j.Texts = append(j.Texts, text)
			j.Scores = append(j.Scores, float64(10-i))
		}
		out = append(out, j)
	}
	return out
}

func TestFitLearnsFromJudgments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ex := NewExtractor()
	train, test := synthetic(60, 1), synthetic(30, 2)
	cases := []struct {
		name string
		opts FitOptions
	}{
		{"default", FitOptions{}},
		{"with retrieval scores", FitOptions{Features: AllFeatures()}},
		{"two features", FitOptions{Features: []string{FeatCover, FeatRankPrior}, Epochs: 50}},
		{"linear", FitOptions{Trees: -1}},
		{"trees only", FitOptions{Epochs: 1, LearningRate: 1e-9, Trees: 30, MinLeaf: 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := Fit(ctx, ex, train, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			l, err := NewLearned(m)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := Evaluate(ctx, l, test, 10)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Retrieval > 0.6 || ev.Reranked < 0.95 {
				t.Errorf("nDCG@10 %.3f in retrieval order, %.3f reranked: want below 0.6 and above 0.95", ev.Retrieval, ev.Reranked)
			}
			objective := "lambdamart"
			if tc.opts.Trees < 0 {
				objective = "lambdarank"
			}
			if m.Training.Queries != len(train) || m.Training.Pairs != 9*len(train) || m.Training.Objective != objective {
				t.Errorf("training summary %+v", m.Training)
			}
		})
	}
}

func TestFitIsDeterministic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := synthetic(40, 3)
	a, err := Fit(ctx, NewExtractor(), data, FitOptions{Epochs: 30})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fit(ctx, NewExtractor(), data, FitOptions{Epochs: 30})
	if err != nil {
		t.Fatal(err)
	}
	fa, _ := a.Marshal()
	fb, _ := b.Marshal()
	if string(fa) != string(fb) || a.ID() != b.ID() {
		t.Errorf("two fits of the same data differ:\n%s\n%s", fa, fb)
	}
}

func TestFitRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	flat := synthetic(5, 4)
	for i := range flat {
		clear(flat[i].Grades)
	}
	cases := []struct {
		name string
		data []Judged
		opts FitOptions
		want error
	}{
		{"no data", nil, FitOptions{}, ErrNoPairs},
		{"nothing relevant", flat, FitOptions{}, ErrNoPairs},
		{"unknown feature", synthetic(3, 5), FitOptions{Features: []string{"bm25", "pagerank"}}, ErrConfig},
		{"grades do not line up", []Judged{{Query: "q", Texts: []string{"a", "b"}, Grades: []int{1}}}, FitOptions{}, ErrJudged},
		{"scores do not line up", []Judged{{Query: "q", Texts: []string{"a"}, Grades: []int{1}, Scores: []float64{1, 2}}}, FitOptions{}, ErrJudged},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Fit(ctx, NewExtractor(), tc.data, tc.opts); !errors.Is(err, tc.want) {
				t.Errorf("Fit: %v, want %v", err, tc.want)
			}
		})
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Fit(cctx, NewExtractor(), synthetic(3, 6), FitOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Fit with a cancelled context: %v", err)
	}
}

func TestLearnedScores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, err := Fit(ctx, NewExtractor(), synthetic(30, 7), FitOptions{Epochs: 50})
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLearned(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(l.Name(), "learned/v1/") || len(l.Name()) != len("learned/v1/")+12 {
		t.Errorf("Name() = %q", l.Name())
	}
	texts := []string{"rotor rotor rotor", "The valve drives the rotor.", "", "nothing to see"}
	for _, q := range []string{"how does the valve drive the rotor", "", "the of and"} {
		a, err := l.Score(ctx, q, texts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := l.Score(ctx, q, texts)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != len(texts) || !slices.Equal(a, b) {
			t.Errorf("query %q: scores %v then %v", q, a, b)
		}
		for _, s := range a {
			if !isFinite(s) {
				t.Errorf("query %q: score %v", q, s)
			}
		}
	}
	if s, err := l.Score(ctx, "valve rotor", nil); err != nil || len(s) != 0 {
		t.Errorf("no texts: %v, %v", s, err)
	}
	if _, err := l.ScoreRetrieved(ctx, "valve", texts, []float64{1}); err == nil {
		t.Error("ScoreRetrieved accepted one score for four texts")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Score(cctx, "valve", texts); !errors.Is(err, context.Canceled) {
		t.Errorf("Score with a cancelled context: %v", err)
	}
	if _, err := NewLearned(nil); !errors.Is(err, ErrModel) {
		t.Errorf("NewLearned(nil): %v", err)
	}
}

func TestFeatures(t *testing.T) {
	t.Parallel()
	ex := NewExtractor()
	texts := []string{
		"Vaccines reduce measles.\nA long abstract about measles vaccines in children and adults.",
		"Unrelated text about the weather in spring and rain.",
		"Measles outbreaks and vaccine coverage: vaccines reduce measles cases.",
	}
	rows, err := ex.Features(context.Background(), "Do vaccines reduce measles?", texts, []float64{3, 2, 1})
	if err != nil {
		t.Fatal(err)
	}
	col := featureIndex()
	get := func(i int, f string) float64 { return rows[i][col[f]] }
	checks := []struct {
		name string
		ok   bool
	}{
		{"a title with every query word has the whole head share", math.Abs(get(0, FeatHead)-1) < 1e-9},
		{"an unrelated passage has no head share", get(1, FeatHead) == 0},
		{"an unrelated passage covers nothing", get(1, FeatCover) == 0 && get(1, FeatBM25) == 0},
		{"full coverage", get(0, FeatCover) == 1 && math.Abs(get(0, FeatIDFCover)-1) < 1e-9},
		{"pairs in order", get(0, FeatPairs) > 0.99 && get(2, FeatPairs) > 0.99},
		{"rank prior", get(0, FeatRankPrior) == 1 && get(2, FeatLogRank) == math.Log(3)},
		{"retrieval ratio", get(0, FeatRetrieval) == 1 && math.Abs(get(2, FeatRetrieval)-1.0/3) < 1e-12},
		{"retrieval z centred", math.Abs(get(0, FeatRetrievalZ)+get(2, FeatRetrievalZ)) < 1e-12 && get(1, FeatRetrievalZ) == 0},
		{"on-topic passages resemble each other more than the unrelated one", get(0, FeatPRFRank) > get(1, FeatPRFRank) && get(2, FeatPRFLex) > get(1, FeatPRFLex)},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: rows %v", c.name, rows)
		}
	}
	if rows, err := ex.Features(context.Background(), "Do vaccines reduce measles?", texts, nil); err != nil || rows[0][col[FeatRetrieval]] != 0 {
		t.Errorf("without scores: %v, %v", rows, err)
	}
}

func TestHead(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"Title\nbody":                    "Title",
		"  \nTitle\nbody":                "Title",
		"First sentence. Second one.":    "First sentence.",
		"Is it? Yes. No":                 "Is it?",
		strings.Repeat("word ", 100):     strings.Repeat("word ", 60),
		"":                               "",
		"no end":                         "no end",
		"e.g. this. Then":                "e.g.", // a naive cut: abbreviations end it
		strings.Repeat("x", 400) + "\nb": strings.Repeat("x", 300),
	}
	for in, want := range cases {
		if got := head(in); got != want {
			t.Errorf("head(%.40q) = %.40q, want %.40q", in, got, want)
		}
	}
}

func TestParseModel(t *testing.T) {
	t.Parallel()
	m, err := Fit(context.Background(), NewExtractor(), synthetic(10, 8), FitOptions{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	m.Training.CreatedAt = time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	good, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseModel(good)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID() != m.ID() || !back.Training.CreatedAt.Equal(m.Training.CreatedAt) || back.Training.Queries != 10 {
		t.Errorf("round trip changed the model: %+v", back)
	}
	valid := `{"format":"twin-rerank/v1","features":["bm25","cover"],"mean":[0.1,0.2],"scale":[1,2],"weights":[1,-1],"training":{}}`
	if _, err := ParseModel([]byte(valid)); err != nil {
		t.Fatalf("valid model: %v", err)
	}
	tree := func(nodes string) string {
		return strings.Replace(valid, `"training":{}`, `"trees":[{"nodes":`+nodes+`}],"training":{}`, 1)
	}
	if _, err := ParseModel([]byte(tree(`[{"f":1,"t":0.5,"l":1,"r":2},{"f":-1,"v":0.1},{"f":-1,"v":-0.1}]`))); err != nil {
		t.Fatalf("valid model with a tree: %v", err)
	}
	bad := map[string]string{
		"empty":                 ``,
		"not json":              `model`,
		"array":                 `[]`,
		"other format":          strings.Replace(valid, "rerank/v1", "rerank/v9", 1),
		"no format":             strings.Replace(valid, `"format":"twin-rerank/v1",`, "", 1),
		"unknown feature":       strings.Replace(valid, `"cover"`, `"pagerank"`, 1),
		"feature twice":         strings.Replace(valid, `"cover"`, `"bm25"`, 1),
		"no features":           `{"format":"twin-rerank/v1","features":[],"mean":[],"scale":[],"weights":[]}`,
		"short weights":         strings.Replace(valid, `[1,-1]`, `[1]`, 1),
		"short mean":            strings.Replace(valid, `[0.1,0.2]`, `[0.1]`, 1),
		"zero scale":            strings.Replace(valid, `[1,2]`, `[1,0]`, 1),
		"negative scale":        strings.Replace(valid, `[1,2]`, `[1,-2]`, 1),
		"huge weight":           strings.Replace(valid, `[1,-1]`, `[1,1e999]`, 1),
		"string weight":         strings.Replace(valid, `[1,-1]`, `[1,"x"]`, 1),
		"unknown field":         strings.Replace(valid, `"training":{}`, `"bias":3`, 1),
		"trailing data":         valid + `{}`,
		"null":                  `null`,
		"too large":             `{"format":"` + strings.Repeat("x", maxModelBytes) + `"}`,
		"tree: no nodes":        tree(`[]`),
		"tree: child before":    tree(`[{"f":1,"t":0.5,"l":0,"r":2},{"f":-1},{"f":-1}]`),
		"tree: child missing":   tree(`[{"f":1,"t":0.5,"l":1,"r":3},{"f":-1},{"f":-1}]`),
		"tree: feature outside": tree(`[{"f":2,"t":0.5,"l":1,"r":2},{"f":-1},{"f":-1}]`),
		"tree: feature -2":      tree(`[{"f":-2}]`),
		"tree: huge threshold":  tree(`[{"f":0,"t":1e999,"l":1,"r":2},{"f":-1},{"f":-1}]`),
		"tree: too many nodes":  tree(`[` + strings.Repeat(`{"f":-1},`, maxTreeNodes) + `{"f":-1}]`),
		"bad training date":     strings.Replace(valid, `"training":{}`, `"training":{"created_at":"yesterday"}`, 1),
	}
	for name, text := range bad {
		if m, err := ParseModel([]byte(text)); !errors.Is(err, ErrModel) {
			t.Errorf("%s: ParseModel = %v, %v; want ErrModel", name, m, err)
		}
	}
}

func FuzzParseModel(f *testing.F) {
	f.Add([]byte(`{"format":"twin-rerank/v1","features":["bm25","cover"],"mean":[0.1,0.2],"scale":[1,2],"weights":[1,-1],"training":{"queries":3}}`))
	f.Add([]byte(`{"format":"twin-rerank/v1","features":["prf_lex"],"mean":[0],"scale":[0],"weights":[1]}`))
	f.Add([]byte(`{"format":"twin-rerank/v1","features":["cover"],"mean":[0],"scale":[1],"weights":[1],"trees":[{"nodes":[{"f":0,"t":0.5,"l":1,"r":2},{"f":-1,"v":0.1},{"f":-1,"v":-0.1}]}]}`))
	f.Add([]byte(`{"features":null}`))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseModel(data)
		if err != nil {
			if !errors.Is(err, ErrModel) {
				t.Fatalf("error %v is not ErrModel", err)
			}
			return
		}
		l, err := NewLearned(m)
		if err != nil {
			t.Fatalf("a parsed model is not served: %v", err)
		}
		scores, err := l.Score(context.Background(), "engine rotor", []string{"the engine", "a rotor and an engine"})
		if err != nil || len(scores) != 2 {
			t.Fatalf("Score: %v, %v", scores, err)
		}
		again, err := m.Marshal()
		if err != nil {
			t.Fatalf("a parsed model does not marshal: %v", err)
		}
		if m2, err := ParseModel(again); err != nil || m2.ID() != m.ID() {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// BenchmarkFit1000 fits the default model on 1,000 judged queries of 50
// candidates of about 200 words each, features included.
func BenchmarkFit1000(b *testing.B) {
	data := benchJudged(1000, 50)
	ctx := context.Background()
	ex := NewExtractor()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Fit(ctx, ex, data, FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFitSelected1000 is BenchmarkFit1000 with the number of trees
// chosen by 3-fold cross-validation, as the rerank trainer fits.
func BenchmarkFitSelected1000(b *testing.B) {
	data := benchJudged(1000, 50)
	ctx := context.Background()
	ex := NewExtractor()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := FitSelected(ctx, ex, data, FitOptions{}, 3); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLearned50 reranks 50 candidates of about 200 words, as a
// search at the default depth hands them (chunks of documents three at a
// time, with their fused scores, through ScoreDocuments as the pipeline
// calls it), and reports the 99th percentile of the calls' latency as
// p99-ms.
func BenchmarkLearned50(b *testing.B) {
	data := benchJudged(1, 50)
	docs, scores := make([]string, 50), make([]float64, 50)
	for i := range docs {
		docs[i], scores[i] = strconv.Itoa(i/3), 1/float64(61+i)
	}
	m, err := Fit(context.Background(), NewExtractor(), benchJudged(20, 50), FitOptions{Epochs: 20})
	if err != nil {
		b.Fatal(err)
	}
	l, err := NewLearned(m)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var lat []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if _, err := l.ScoreDocuments(ctx, data[0].Query, data[0].Texts, scores, docs); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// benchJudged makes n judged queries of depth candidates from the
// benchmark prose, one relevant candidate each.
func benchJudged(n, depth int) []Judged {
	passages := benchPassages(depth*4, 200)
	queries := []string{"How does the reranker score passages for a hybrid search in Qdrant?",
		"What did the author measure on BEIR SciFact?", "Why must the reranker be deterministic?"}
	out := make([]Judged, n)
	for i := range out {
		j := Judged{Query: queries[i%len(queries)]}
		for c := range depth {
			j.Texts = append(j.Texts, passages[(i*7+c)%len(passages)])
			j.Grades = append(j.Grades, 0)
		}
		j.Grades[(i*3)%depth] = 1
		out[i] = j
	}
	return out
}

func TestLoadModel(t *testing.T) {
	t.Parallel()
	m, err := Fit(context.Background(), NewExtractor(), synthetic(10, 9), FitOptions{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "model.json")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{good, "file://" + good} {
		got, err := LoadModel(path)
		if err != nil || got.ID() != m.ID() {
			t.Errorf("LoadModel(%s) = %v, %v", path, got, err)
		}
	}
	if _, err := LoadModel(bad); !errors.Is(err, ErrModel) {
		t.Errorf("a cut file: %v", err)
	}
	if _, err := LoadModel(filepath.Join(dir, "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}
