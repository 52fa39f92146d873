package rerank

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/trainer"
	"github.com/twin-llm/twin/internal/models/embed"
	lrank "github.com/twin-llm/twin/internal/models/rerank"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/vectors/embedded"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
)

// judgmentList is judgments held in memory, listed as a JudgmentStore
// lists them (in Seq order).
type judgmentList []warehouse.JudgmentRecord

func (l judgmentList) ListJudgments(ctx context.Context, _ warehouse.JudgmentListOptions) ([]warehouse.JudgmentRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l, nil
}

var parts = []string{"engine", "rotor", "turbine", "compressor", "nozzle", "bearing", "valve", "piston",
	"gasket", "crankshaft", "camshaft", "injector", "manifold", "radiator", "alternator", "clutch"}

// corpus indexes, for every ordered pair of parts (a, b), a document that
// says a drives b (two chunks: the statement, then more), and a document
// that names a many times and b once in passing, which BM25 prefers. It
// returns the searcher and one relevant judgment per pair.
func corpus(t *testing.T) (*retrieval.Searcher, judgmentList) {
	t.Helper()
	dense, sparse := embed.NewHashed(64), embed.NewBM25()
	store, err := embedded.Open(t.TempDir(), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var points []vectors.Point
	add := func(doc string, chunk int, text string) {
		v, err := dense.Embed(context.Background(), []string{text})
		if err != nil {
			t.Fatal(err)
		}
		points = append(points, vectors.Point{
			ID: fmt.Sprintf("%08x-0000-5000-8000-%012d", len(points), chunk), Dense: v[0], Sparse: sparse.Document(text),
			Payload: vectors.Payload{DocumentID: doc, Author: "Ada", AuthorID: warehouse.AuthorID("Ada"),
				Category: warehouse.Articles, Title: doc, ChunkIndex: chunk, Text: text},
		})
	}
	var judged judgmentList
	seq := int64(0)
	for i, a := range parts {
		for j, b := range parts {
			if i == j || (i+j)%3 != 0 {
				continue
			}
			rel := fmt.Sprintf("rel-%s-%s", a, b)
			add(rel, 0, fmt.Sprintf("How the %s drives the %s.\nThe %s drives the %s through a shaft that the workshop manual describes in detail.", a, b, a, b))
			add(rel, 1, fmt.Sprintf("Maintenance of the %s: check it every season and replace worn parts.", b))
			add(fmt.Sprintf("noise-%s-%s", a, b), 0, fmt.Sprintf("%s %s %s %s, %s and %s: a catalogue of %s parts, %s sizes, and one %s.", a, a, a, a, a, a, a, a, b))
			seq++
			judged = append(judged, warehouse.JudgmentRecord{ID: fmt.Sprintf("j-%d", seq), Query: fmt.Sprintf("how does the %s drive the %s", a, b),
				DocumentID: rel, Grade: schemas.GradeRelevant, Source: schemas.JudgmentImport, Seq: seq})
		}
	}
	if err := store.Upsert(context.Background(), points); err != nil {
		t.Fatal(err)
	}
	return &retrieval.Searcher{Dense: dense, Sparse: sparse, Store: store, Mode: retrieval.Sparse}, judged
}

func TestRunTrainsAModelThatBeatsRetrieval(t *testing.T) {
	t.Parallel()
	search, judged := corpus(t)
	ex, err := New(Config{Judgments: judged, Search: search, Depth: 20, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Name() != "rerank" {
		t.Errorf("Name() = %q", ex.Name())
	}
	var _ trainer.Executor = ex
	out := t.TempDir()
	var states []string
	res, err := ex.Run(context.Background(), trainer.Job{ID: "job-1", Kind: schemas.TrainingRerank, OutputDir: out},
		func(state, msg string, _ time.Time) { states = append(states, state+": "+msg) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("metrics %v", res.Metrics)
	t.Logf("progress %q", states)
	if want := "file://" + filepath.ToSlash(filepath.Join(out, ModelFile)); res.ArtifactURI != want {
		t.Errorf("artifact %q, want %q", res.ArtifactURI, want)
	}
	m, err := lrank.LoadModel(res.ArtifactURI)
	if err != nil {
		t.Fatalf("the model file does not load: %v", err)
	}
	mt := res.Metrics
	if m.Training.TestNDCG != mt["ndcg@10"] || m.Training.TestQueries != int(mt["test_queries"]) {
		t.Errorf("the model's summary %+v disagrees with the metrics %v", m.Training, mt)
	}
	for _, k := range []string{"ndcg@10", "serving_ndcg@10", "retrieval_ndcg@10", "train_queries", "test_queries", "seconds"} {
		if _, ok := mt[k]; !ok {
			t.Errorf("metric %s missing", k)
		}
	}
	if mt["train_queries"]+mt["test_queries"] != float64(len(judged)) || mt["test_queries"] < 5 || mt["test_queries"] > 30 {
		t.Errorf("split %v train, %v test of %d", mt["train_queries"], mt["test_queries"], len(judged))
	}
	if mt["ndcg@10"] < mt["retrieval_ndcg@10"]+0.1 || mt["ndcg@10"] < 0.95 {
		t.Errorf("held-out nDCG@10 %.3f in retrieval order, %.3f reranked: want the learned model to fix BM25's order",
			mt["retrieval_ndcg@10"], mt["ndcg@10"])
	}
	if len(states) == 0 || !strings.HasPrefix(states[0], schemas.StateRunning) {
		t.Errorf("progress %q", states)
	}

	// The same judgments and seed give the same model; the serving
	// reranker the executor is given is the one measured.
	learned, err := lrank.NewLearned(m)
	if err != nil {
		t.Fatal(err)
	}
	again, err := New(Config{Judgments: judged, Search: search, Depth: 20, Serving: func() lrank.Reranker { return learned }})
	if err != nil {
		t.Fatal(err)
	}
	res2, err := again.Run(context.Background(), trainer.Job{ID: "job-2", OutputDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Metrics["serving_ndcg@10"] != mt["ndcg@10"] || res2.Metrics["ndcg@10"] != mt["ndcg@10"] {
		t.Errorf("a second run: %v, first %v", res2.Metrics, mt)
	}
}

func TestRunFails(t *testing.T) {
	t.Parallel()
	search, judged := corpus(t)
	irrelevant := slicesMap(judged, func(r warehouse.JudgmentRecord) warehouse.JudgmentRecord {
		r.DocumentID = "not-indexed"
		return r
	})
	cases := []struct {
		name      string
		judgments judgmentList
		job       trainer.Job
		cancel    bool
		want      error
	}{
		{"no judgments", nil, trainer.Job{}, false, trainer.ErrJobFailed},
		{"one query", judged[:1], trainer.Job{}, false, trainer.ErrJobFailed},
		{"no relevant candidate", irrelevant, trainer.Job{}, false, trainer.ErrJobFailed},
		{"unknown hyperparameter", judged, trainer.Job{Hyperparameters: map[string]string{"forest": "5"}}, false, trainer.ErrJobFailed},
		{"bad depth", judged, trainer.Job{Hyperparameters: map[string]string{"depth": "1000"}}, false, trainer.ErrJobFailed},
		{"bad test share", judged, trainer.Job{Hyperparameters: map[string]string{"test_share": "1"}}, false, trainer.ErrJobFailed},
		{"unknown feature", judged, trainer.Job{Hyperparameters: map[string]string{"features": "bm25,clicks"}}, false, trainer.ErrJobFailed},
		{"negative trees", judged, trainer.Job{Hyperparameters: map[string]string{"trees": "-1"}}, false, trainer.ErrJobFailed},
		{"deep trees", judged, trainer.Job{Hyperparameters: map[string]string{"tree_depth": "20"}}, false, trainer.ErrJobFailed},
		{"trees deeper than 8", judged, trainer.Job{Hyperparameters: map[string]string{"tree_depth": "9"}}, false, trainer.ErrJobFailed},
		{"negative l2", judged, trainer.Job{Hyperparameters: map[string]string{"l2": "-1"}}, false, trainer.ErrJobFailed},
		{"stopped", judged, trainer.Job{}, true, trainer.ErrJobStopped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ex, err := New(Config{Judgments: tc.judgments, Search: search, Depth: 20})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			if tc.job.OutputDir == "" {
				tc.job.OutputDir = t.TempDir()
			}
			if _, err := ex.Run(ctx, tc.job, nil); !errors.Is(err, tc.want) {
				t.Errorf("Run: %v, want %v", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(tc.job.OutputDir, ModelFile)); err == nil {
				t.Error("a failed job left a model file")
			}
		})
	}
}

func TestRunWithHyperparameters(t *testing.T) {
	t.Parallel()
	search, judged := corpus(t)
	ex, err := New(Config{Judgments: judged, Search: search})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res, err := ex.Run(context.Background(), trainer.Job{OutputDir: out, Hyperparameters: map[string]string{
		"seed": "9", "depth": "10", "test_share": "0.5", "epochs": "20", "l2": "0", "learning_rate": "0.1",
		"truncate_at": "5", "features": "cover, rank_prior,retrieval", "trees": "7", "tree_depth": "2",
		"shrinkage": "0.2", "min_leaf": "3", "cv_folds": "0",
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := lrank.ParseModel(data)
	if err != nil {
		t.Fatal(err)
	}
	tr := m.Training
	if strings.Join(m.Features, ",") != "cover,rank_prior,retrieval" || tr.Epochs != 20 || tr.Seed != 9 || tr.TruncateAt != 5 || tr.LearningRate != 0.1 ||
		len(m.Trees) != 7 || tr.Depth != 2 || tr.Shrinkage != 0.2 || tr.MinLeaf != 3 {
		t.Errorf("model %+v", m)
	}
	if n, test := res.Metrics["train_queries"]+res.Metrics["test_queries"], res.Metrics["test_queries"]; test < n/4 || test > 3*n/4 {
		t.Errorf("test share 0.5 held out %v of %v queries", test, n)
	}
}

func TestRunLinear(t *testing.T) {
	t.Parallel()
	search, judged := corpus(t)
	ex, err := New(Config{Judgments: judged, Search: search, Depth: 20})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ex.Run(context.Background(), trainer.Job{OutputDir: t.TempDir(), Hyperparameters: map[string]string{"trees": "0", "l2": "0"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := lrank.LoadModel(res.ArtifactURI)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Trees) != 0 || m.Training.L2 != 0 || m.Training.Objective != "lambdarank" || res.Metrics["ndcg@10"] < 0.95 {
		t.Errorf("trees=0 l2=0: %d trees, training %+v, metrics %v", len(m.Trees), m.Training, res.Metrics)
	}
}

func TestGroupKeepsTheLatestGrade(t *testing.T) {
	t.Parallel()
	got := group([]warehouse.JudgmentRecord{
		{Query: "what  is an engine", DocumentID: "a", Grade: 1},
		{Query: "what is an engine ", DocumentID: "b", Grade: 2},
		{Query: "what is an engine", DocumentID: "a", Grade: 0},
		{Query: "  ", DocumentID: "c", Grade: 1},
		{Query: "rotor", DocumentID: "", Grade: 1},
		{Query: "rotor", DocumentID: "d", Grade: 9},
	})
	if len(got) != 2 || got[0].text != "what is an engine" || got[0].grades["a"] != 0 || got[0].grades["b"] != 2 ||
		got[1].text != "rotor" || got[1].grades["d"] != schemas.MaxGrade || len(got[1].grades) != 1 {
		t.Errorf("group = %+v", got)
	}
}

func TestSplitIsDeterministic(t *testing.T) {
	t.Parallel()
	var qs []judgedQuery
	for i := range 1000 {
		qs = append(qs, judgedQuery{text: fmt.Sprintf("query %d", i)})
	}
	train, test := split(qs, 1, 0.2)
	if len(test) < 150 || len(test) > 250 || len(train)+len(test) != len(qs) {
		t.Errorf("%d train, %d test", len(train), len(test))
	}
	// Adding queries moves none of the others.
	train2, test2 := split(append(qs, judgedQuery{text: "one more"}), 1, 0.2)
	if len(test2) < len(test) || len(train2) < len(train) || test2[0].text != test[0].text {
		t.Error("adding a query moved others between the splits")
	}
	_, other := split(qs, 2, 0.2)
	if other[0].text == test[0].text && other[1].text == test[1].text {
		t.Error("another seed gave the same split")
	}
	// Two queries always give one of each.
	for seed := range uint64(20) {
		tr, te := split(qs[:2], seed, 0.2)
		if len(tr) != 1 || len(te) != 1 {
			t.Errorf("seed %d: %d train, %d test", seed, len(tr), len(te))
		}
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	search, judged := corpus(t)
	for name, cfg := range map[string]Config{
		"no judgments": {Search: search},
		"no searcher":  {Judgments: judged},
		"depth":        {Judgments: judged, Search: search, Depth: 101},
		"test share":   {Judgments: judged, Search: search, TestShare: 1.5},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func slicesMap[T any](in []T, f func(T) T) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// TestAnOverfitModelIsNotPromoted trains on judgments that teach nothing
// a reranker can learn — each training query's "relevant" document is
// drawn by a hash, not by its text; the held-out queries keep their true
// judgments — with settings that memorize them (deep trees, leaves of one
// candidate). The model fits its training queries far better than the
// held-out ones, and the held-out evaluation against the reranker in
// service keeps it out of service. With cv_folds, the trees that
// cross-validation does not support are not kept.
func TestAnOverfitModelIsNotPromoted(t *testing.T) {
	t.Parallel()
	search, judged := corpus(t)
	noise := make(judgmentList, len(judged))
	for i, j := range judged {
		if !Held(j.Query, 3, DefaultTestShare) {
			hits, err := search.Search(context.Background(), retrieval.Request{Query: j.Query, K: 20})
			if err != nil || len(hits) < 3 {
				t.Fatalf("search %q: %d hits, %v", j.Query, len(hits), err)
			}
			j.DocumentID = hits[(i*7+3)%len(hits)].DocumentID
		}
		noise[i] = j
	}
	hp := map[string]string{"trees": "300", "tree_depth": "6", "min_leaf": "1", "shrinkage": "0.5", "seed": "3"}
	for _, tc := range []struct {
		name  string
		folds string
	}{{"every tree", "0"}, {"trees chosen by cross-validation", "3"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// In service: the retrieval order, which the true judgments
			// rank well but not perfectly, as lexical evidence would.
			ex, err := New(Config{Judgments: noise, Search: search, Depth: 20, Serving: func() lrank.Reranker { return retrievalOrder{} }})
			if err != nil {
				t.Fatal(err)
			}
			h := maps.Clone(hp)
			h["cv_folds"] = tc.folds
			res, err := ex.Run(context.Background(), trainer.Job{ID: "overfit", OutputDir: t.TempDir(), Hyperparameters: h}, nil)
			if err != nil {
				t.Fatal(err)
			}
			m := res.Metrics
			t.Logf("metrics %v", m)
			if m["train_ndcg@10"] < m["ndcg@10"]+0.2 && tc.folds == "0" {
				t.Errorf("train nDCG@10 %.3f, held out %.3f: the model did not overfit", m["train_ndcg@10"], m["ndcg@10"])
			}
			if tc.folds != "0" && m["cv_trees"] >= 300 {
				t.Errorf("cross-validation kept all %v trees", m["cv_trees"])
			}
			v := trainer.Gate{MinTestQueries: 1}.Decide(warehouse.ModelRecord{ModelRegistered: schemas.ModelRegistered{Name: "reranker", Kind: schemas.TrainingRerank, Metrics: m}}, nil)
			if v.Decision == trainer.Promote {
				t.Errorf("promoted: %s (metrics %v)", v.Why, m)
			}
		})
	}
}

// retrievalOrder keeps the candidates in the order they come.
type retrievalOrder struct{}

func (retrievalOrder) Name() string { return "retrieval-order" }

func (retrievalOrder) Score(_ context.Context, _ string, texts []string) ([]float64, error) {
	out := make([]float64, len(texts))
	for i := range out {
		out[i] = -float64(i)
	}
	return out, nil
}
