package rerank

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twin-llm/twin/consumers/featurizer"
	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/models/embed/scifacttest"
	"github.com/twin-llm/twin/internal/models/rerank"
	"github.com/twin-llm/twin/internal/models/tokenizer"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/vectors/embedded"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

// servedSciFact indexes SciFact as `twin eval retrieval` imports it
// through the running pipeline: each abstract cleaned and cut by the
// featurizer as a post, every chunk embedded with its title, BM25 alone
// (the embedded default mode), the title and chunk in the payload. It
// returns the pipeline /v1/search retrieves with, without a reranker.
func servedSciFact(t *testing.T, set *scifacttest.Set) *retrieval.Pipeline {
	t.Helper()
	ctx := context.Background()
	tok, err := tokenizer.New()
	if err != nil {
		t.Fatal(err)
	}
	const dim = 64
	dense, sparse := embed.NewHashed(dim), embed.NewBM25()
	store, err := embedded.Open(t.TempDir(), dim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	zero := make([]float32, dim)
	zero[0] = 1 // the dense side is not searched in sparse mode
	params := featurizer.DefaultParams("posts")
	var batch []vectors.Point
	flush := func() {
		if err := store.Upsert(ctx, batch); err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
	}
	n := 0
	for i, doc := range set.Docs {
		title, text, _ := strings.Cut(doc, "\n")
		for _, c := range featurizer.ChunkText(featurizer.Clean(text, "posts", featurizer.CleanOptions{}), tok, params) {
			n++
			batch = append(batch, vectors.Point{
				ID: fmt.Sprintf("%08x-%04x-5000-8000-000000000000", i, c.Index), Dense: zero,
				Sparse: sparse.Document(title + "\n\n" + c.Text),
				Payload: vectors.Payload{DocumentID: set.DocIDs[i], Author: "SciFact", AuthorID: warehouse.AuthorID("SciFact"),
					Category: warehouse.Posts, Title: title, Text: c.Text, ChunkIndex: c.Index},
			})
			if len(batch) == 500 {
				flush()
			}
		}
	}
	flush()
	t.Logf("SciFact: %d documents in %d chunks", len(set.Docs), n)
	search := &retrieval.Searcher{Dense: dense, Sparse: sparse, Store: store, Mode: retrieval.Sparse}
	return &retrieval.Pipeline{Search: search}
}

// TestSciFactServedExperiment is the harness of the measurements in
// docs/training.md: it is run by hand (TWIN_RERANK_SERVED=1).
func TestSciFactServedExperiment(t *testing.T) {
	if os.Getenv("TWIN_RERANK_SERVED") == "" {
		t.Skip("set TWIN_RERANK_SERVED=1 to run")
	}
	set := scifacttest.Load(t)
	pipe := servedSciFact(t, set)
	if n, err := strconv.Atoi(os.Getenv("TWIN_RERANK_PER_QUERY")); err == nil {
		pipe.PerQuery = n
	}
	ctx := context.Background()
	var qs []judgedQuery
	for _, q := range set.Queries {
		qs = append(qs, judgedQuery{text: q.Text, grades: q.Rel})
	}
	// The claims cross-validated: those of a qrels file
	// (TWIN_RERANK_CLAIMS, the training side of a split whose held-out
	// side is measured once, through /v1/search), else all but a held-out
	// fifth.
	train, _ := split(qs, 7, 0.2)
	if path := os.Getenv("TWIN_RERANK_CLAIMS"); path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		keep := map[string]bool{}
		for line := range strings.SplitSeq(string(raw), "\n") {
			if id, _, ok := strings.Cut(line, "\t"); ok {
				keep[id] = true
			}
		}
		train = train[:0]
		for _, q := range set.Queries {
			if keep[q.ID] {
				train = append(train, judgedQuery{text: q.Text, grades: q.Rel})
			}
		}
	}
	ex := &Executor{cfg: Config{Search: retrieval.CandidateSearch{Pipeline: pipe}}, ex: rerank.NewExtractor()}
	pools := map[int][]rerank.Judged{}
	for _, depth := range []int{50} {
		judged, err := ex.candidates(ctx, train, depth)
		if err != nil {
			t.Fatal(err)
		}
		pools[depth] = judged
		lex, err := rerank.Evaluate(ctx, rerank.NewLexical(), judged, 10)
		if err != nil {
			t.Fatal(err)
		}
		var cands int
		for _, j := range judged {
			cands += len(j.Texts)
		}
		t.Logf("depth %d: %d claims, %.1f candidates each: fused order %.4f, lexical %.4f, recall %.4f", depth, len(judged), float64(cands)/float64(len(judged)), lex.Retrieval, lex.Reranked, recall(judged))
	}
	chunkOnly := []string{"bm25", "bm25_local", "idf_cover", "cover", "rarest", "window", "pairs", "head", "length", "density",
		"rank_prior", "log_rank", "prf_rank", "prf_lex"}
	variants := map[string]rerank.FitOptions{
		"chunk":      {Features: chunkOnly},
		"doc":        {},
		"linear":     {Trees: -1},
		"doc-sel":    {},
		"all":        {Features: rerank.AllFeatures()},
		"depth4":     {Depth: 4},
		"depth3":     {Depth: 3},
		"trees200":   {Depth: 3, Trees: 200},
		"slow300":    {Depth: 3, Trees: 300, Shrinkage: 0.05},
		"depth5":     {Depth: 5},
		"depth6":     {Depth: 6},
		"d4-200":     {Depth: 4, Trees: 200},
		"d4-leaf20":  {Depth: 4, MinLeaf: 20},
		"d4-leaf100": {Depth: 4, MinLeaf: 100},
		"depth9":     {Depth: 9},
		"d8-leaf100": {Depth: 8, MinLeaf: 100},
	}
	only := os.Getenv("TWIN_RERANK_SERVED")
	for name, opts := range variants {
		if only != "1" && !slices.Contains(strings.Split(only, ","), name) {
			continue
		}
		for _, d := range [][2]int{{50, 50}} {
			var sum, lsum float64
			var n int
			for fold := range 5 {
				var tr, te []rerank.Judged
				for i, j := range pools[d[0]] {
					if foldOf(j.Query) != fold {
						tr = append(tr, j)
					}
					if foldOf(pools[d[1]][i].Query) == fold {
						te = append(te, pools[d[1]][i])
					}
				}
				var m *rerank.Model
				var err error
				if strings.Contains(name, "sel") {
					var sel rerank.Selection
					m, sel, err = rerank.FitSelected(ctx, ex.ex, tr, opts, 3)
					t.Logf("%s fold %d: %d trees, inner CV %.4f (linear %.4f)", name, fold, sel.Trees, sel.NDCG[sel.Trees], sel.NDCG[0])
				} else {
					m, err = rerank.Fit(ctx, ex.ex, tr, opts)
				}
				if err != nil {
					t.Fatal(err)
				}
				l, _ := rerank.NewLearned(m)
				ev, err := rerank.Evaluate(ctx, l, te, 10)
				if err != nil {
					t.Fatal(err)
				}
				lev, _ := rerank.Evaluate(ctx, rerank.NewLexical(), te, 10)
				sum += ev.Reranked * float64(ev.Queries)
				lsum += lev.Reranked * float64(ev.Queries)
				n += ev.Queries
			}
			t.Logf("%-12s train depth %3d, test depth %3d: CV learned %.4f, lexical %.4f", name, d[0], d[1], sum/float64(n), lsum/float64(n))
		}
	}
}

func foldOf(q string) int {
	h := fnv.New32a()
	h.Write([]byte(q))
	return int(h.Sum32() % 5)
}

// recall is the share of the relevant documents that the pools hold,
// over every query.
func recall(judged []rerank.Judged) float64 {
	var found, all int
	for _, j := range judged {
		seen := map[string]bool{}
		for i, g := range j.Grades {
			if g > 0 && !seen[j.Docs[i]] {
				seen[j.Docs[i]] = true
				found++
			}
		}
		all += len(j.Ideal)
	}
	return float64(found) / float64(max(all, 1))
}
