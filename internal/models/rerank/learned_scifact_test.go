package rerank

import (
	"context"
	"hash/fnv"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/twin-llm/twin/internal/models/embed/scifacttest"
)

// sciFactJudged is SciFact's training claims as judged queries: each
// claim's BM25 top 50 with their retrieval scores, graded by the qrels,
// the ideal ranking over every relevant abstract (retrieved or not), as
// BEIR scores it.
type sciFactJudged struct {
	ids    []string // claim ids, parallel to judged
	judged []Judged
}

func loadSciFactJudged(t testing.TB) *sciFactJudged {
	t.Helper()
	if testing.Short() {
		t.Skip("SciFact training takes seconds; skipped under -short")
	}
	set := scifacttest.Load(t)
	ix := newBM25Index(set.Docs)
	scratch := make([]float64, len(set.Docs))
	out := &sciFactJudged{}
	for _, q := range set.Queries {
		top := ix.search(q.Text, sciFactDepth, scratch)
		j := Judged{Query: q.Text}
		for _, d := range top {
			j.Texts = append(j.Texts, set.Docs[d])
			j.Scores = append(j.Scores, scratch[d])
			j.Docs = append(j.Docs, set.DocIDs[d])
			j.Grades = append(j.Grades, q.Rel[set.DocIDs[d]])
		}
		for _, g := range q.Rel {
			j.Ideal = append(j.Ideal, g)
		}
		out.ids = append(out.ids, q.ID)
		out.judged = append(out.judged, j)
	}
	return out
}

// fold puts a claim in one of k folds by a seeded hash of its id, as the
// rerank executor splits queries.
func fold(seed uint64, id string, k int) int {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatUint(seed, 10)))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return int(h.Sum64() % uint64(k))
}

// split returns the claims of fold f and the rest.
func (s *sciFactJudged) split(seed uint64, f, k int) (train, test []Judged) {
	for i, j := range s.judged {
		if fold(seed, s.ids[i], k) == f {
			test = append(test, j)
		} else {
			train = append(train, j)
		}
	}
	return train, test
}

// cvResult is the mean over k folds of the held-out nDCG@10.
type cvResult struct {
	bm25, lexical, learned float64
	folds                  []float64 // learned, per fold
	foldsLex               []float64 // lexical, per fold
}

// sciFactFeatures are every claim's candidates as feature rows, computed
// once for all folds and variants, and Lexical's nDCG@10 of each claim.
type sciFactFeatures struct {
	data    []featured
	bm25    []float64
	lexical []float64
}

func featurizeSciFact(t testing.TB, s *sciFactJudged) *sciFactFeatures {
	t.Helper()
	ctx := context.Background()
	data, err := featurize(ctx, NewExtractor(), s.judged, 10)
	if err != nil {
		t.Fatal(err)
	}
	f := &sciFactFeatures{data: data}
	lex := NewLexical()
	for _, j := range s.judged {
		scores, err := lex.Score(ctx, j.Query, j.Texts)
		if err != nil {
			t.Fatal(err)
		}
		f.bm25 = append(f.bm25, NDCG(j, Identity(len(j.Texts)), 10))
		f.lexical = append(f.lexical, NDCG(j, Order(scores), 10))
	}
	return f
}

// crossValidate fits on k−1 folds and measures the held-out fold, k times.
func crossValidate(t testing.TB, s *sciFactJudged, f *sciFactFeatures, seed uint64, k int, opts FitOptions) cvResult {
	t.Helper()
	opts = opts.withDefaults()
	idx := featureIndex()
	col := make([]int, len(opts.Features))
	for i, name := range opts.Features {
		col[i] = idx[name]
	}
	var res cvResult
	for fo := range k {
		var train []featured
		var test []int
		for i := range s.judged {
			if fold(seed, s.ids[i], k) == fo {
				test = append(test, i)
			} else {
				train = append(train, f.data[i])
			}
		}
		m, err := fitFeatured(context.Background(), train, opts, col)
		if err != nil {
			t.Fatal(err)
		}
		var got, bm25, lex float64
		for _, i := range test {
			scores := make([]float64, len(f.data[i].rows))
			for r, row := range f.data[i].rows {
				scores[r] = m.score(row, col)
			}
			got += NDCG(s.judged[i], Order(scores), 10)
			bm25 += f.bm25[i]
			lex += f.lexical[i]
		}
		n := float64(len(test))
		res.bm25 += bm25 / n / float64(k)
		res.lexical += lex / n / float64(k)
		res.learned += got / n / float64(k)
		res.folds = append(res.folds, got/n)
		res.foldsLex = append(res.foldsLex, lex/n)
	}
	return res
}

// TestSciFactLearnedVariants prints the cross-validated nDCG@10 of the
// fitting choices (README.md has the table). It takes minutes; set
// TWIN_RERANK_VARIANTS=1 to run it, or to a part of the variants' names to
// run those.
func TestSciFactLearnedVariants(t *testing.T) {
	if os.Getenv("TWIN_RERANK_VARIANTS") == "" {
		t.Skip("set TWIN_RERANK_VARIANTS=1 to measure the learned reranker's variants")
	}
	if raceEnabled {
		t.Skip("too slow under -race")
	}
	s := loadSciFactJudged(t)
	feats := featurizeSciFact(t, s)
	without := func(drop ...string) []string {
		var out []string
	next:
		for _, f := range DefaultFeatures() {
			for _, d := range drop {
				if f == d {
					continue next
				}
			}
			out = append(out, f)
		}
		return out
	}
	variants := []struct {
		name string
		opts FitOptions
	}{
		{"default", FitOptions{}},
		{"linear (no trees)", FitOptions{Trees: -1}},
		{"trees 50", FitOptions{Trees: 50}},
		{"trees 200", FitOptions{Trees: 200}},
		{"trees depth 2", FitOptions{Depth: 2}},
		{"trees depth 4", FitOptions{Depth: 4}},
		{"trees min leaf 20", FitOptions{MinLeaf: 20}},
		{"trees min leaf 200", FitOptions{MinLeaf: 200}},
		{"trees shrinkage 0.05", FitOptions{Shrinkage: 0.05}},
		{"trees with retrieval scores", FitOptions{Features: AllFeatures()}},
		{"trees no prf", FitOptions{Features: without(FeatPRFRank, FeatPRFLex)}},
		{"trees no head", FitOptions{Features: without(FeatHead)}},
		{"trees lexical features only", FitOptions{Features: []string{FeatBM25, FeatCover, FeatWindow, FeatPairs, FeatRankPrior}}},
		{"with retrieval scores", FitOptions{Features: AllFeatures()}},
		{"no prf", FitOptions{Features: without(FeatPRFRank, FeatPRFLex)}},
		{"no prf_rank", FitOptions{Features: without(FeatPRFRank)}},
		{"no prf_lex", FitOptions{Features: without(FeatPRFLex)}},
		{"with retrieval ratio", FitOptions{Features: append(DefaultFeatures(), FeatRetrieval)}},
		{"with retrieval z", FitOptions{Features: append(DefaultFeatures(), FeatRetrievalZ)}},
		{"l2 none", FitOptions{L2: -1}},
		{"l2 0.03", FitOptions{L2: 0.03}},
		{"l2 0.003", FitOptions{L2: 0.003}},
		{"l2 0.1", FitOptions{L2: 0.1}},
		{"epochs 50", FitOptions{Epochs: 50}},
		{"epochs 500", FitOptions{Epochs: 500}},
		{"truncate 50", FitOptions{TruncateAt: 50}},
		{"lexical features only", FitOptions{Features: []string{FeatBM25, FeatCover, FeatWindow, FeatPairs, FeatRankPrior}}},
		{"no head", FitOptions{Features: without(FeatHead)}},
		{"no bm25_local", FitOptions{Features: without(FeatBM25Local)}},
		{"no position", FitOptions{Features: without(FeatRankPrior, FeatLogRank)}},
		{"no length, density", FitOptions{Features: without(FeatLength, FeatDensity)}},
		{"no rarest, idf_cover", FitOptions{Features: without(FeatRarest, FeatIDFCover)}},
	}
	only := os.Getenv("TWIN_RERANK_VARIANTS")
	for _, v := range variants {
		if only != "1" && !strings.Contains(v.name, only) {
			continue
		}
		for _, seed := range []uint64{1, 2} {
			r := crossValidate(t, s, feats, seed, 5, v.opts)
			t.Logf("%-24s seed %d: BM25 %.4f lexical %.4f learned %.4f folds %.3f", v.name, seed, r.bm25, r.lexical, r.learned, r.folds)
		}
	}
}

// TestSciFactLearned fits the learned reranker on SciFact's training
// claims and measures it on claims it did not see: 5-fold
// cross-validation (each claim is held out once), and one 80/20 split
// through the public path a model takes in service (Fit, the model file,
// ParseModel, NewLearned, Evaluate). It fails when the learned model stops
// beating both the BM25 order and the lexical reranker on held-out
// claims, overall or on any fold. It takes about 15–40 s; it skips
// without the data, under -short and under -race.
func TestSciFactLearned(t *testing.T) {
	if raceEnabled {
		t.Skip("SciFact training is single-threaded and ten times slower under -race")
	}
	s := loadSciFactJudged(t)
	feats := featurizeSciFact(t, s)
	cv := crossValidate(t, s, feats, 1, 5, FitOptions{})
	t.Logf("%d claims, 5-fold CV nDCG@10: BM25 %.4f, lexical %.4f, learned %.4f (folds %.3f)",
		len(s.judged), cv.bm25, cv.lexical, cv.learned, cv.folds)
	// Floors a little under the measured figures (README.md): a change
	// that loses the gain fails, noise of a few thousandths does not.
	if cv.learned < 0.752 {
		t.Errorf("cross-validated nDCG@10 %.4f, below the floor 0.752", cv.learned)
	}
	if cv.learned < cv.bm25+0.025 {
		t.Errorf("cross-validated nDCG@10 %.4f does not beat the BM25 order's %.4f by 0.025", cv.learned, cv.bm25)
	}
	if cv.learned < cv.lexical+0.04 {
		t.Errorf("cross-validated nDCG@10 %.4f does not beat the lexical reranker's %.4f by 0.04", cv.learned, cv.lexical)
	}
	for i, f := range cv.folds {
		if f < cv.foldsLex[i] {
			t.Errorf("fold %d: nDCG@10 %.4f, the lexical reranker's %.4f", i, f, cv.foldsLex[i])
		}
	}

	ctx := context.Background()
	var train, test []Judged
	for i, j := range s.judged {
		if fold(7, s.ids[i], 5) == 0 {
			test = append(test, j)
		} else {
			train = append(train, j)
		}
	}
	m, err := Fit(ctx, NewExtractor(), train, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	file, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseModel(file)
	if err != nil {
		t.Fatal(err)
	}
	learned, err := NewLearned(parsed)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Evaluate(ctx, learned, test, 10)
	if err != nil {
		t.Fatal(err)
	}
	lex, err := Evaluate(ctx, NewLexical(), test, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("80/20 split: %d train, %d test claims: BM25 %.4f, lexical %.4f, learned %.4f", len(train), len(test),
		got.Retrieval, lex.Reranked, got.Reranked)
	t.Logf("model file: %d bytes, %d trees; training %+v", len(file), len(parsed.Trees), parsed.Training)
	for i, f := range parsed.Features {
		t.Logf("  %-12s weight %+.3f", f, parsed.Weights[i])
	}
	// One split's 163 claims are too few to rank the learned model
	// against Lexical (the folds above differ by ±0.04); against BM25's
	// order the gain is clear on any split.
	if got.Reranked < got.Retrieval+0.01 {
		t.Errorf("held-out nDCG@10 %.4f does not beat the BM25 order's %.4f by 0.01", got.Reranked, got.Retrieval)
	}
	direct, err := Evaluate(ctx, mustLearned(t, m), test, 10)
	if err != nil {
		t.Fatal(err)
	}
	if direct != got {
		t.Errorf("the model read back from its file ranks differently: %+v, fitted %+v", got, direct)
	}
}

func mustLearned(t testing.TB, m *Model) *Learned {
	t.Helper()
	l, err := NewLearned(m)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
