package rerank

import (
	"context"
	"fmt"
	"testing"

	"github.com/twin-llm/twin/consumers/trainer"
	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/models/embed/scifacttest"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/vectors/embedded"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
)

// TestSciFactJob runs a rerank job the way the trainer runs it in
// service, on BEIR SciFact: the corpus in the embedded vector store (title
// and abstract as one chunk), searched by the retrieval.Searcher in the
// embedded default mode (BM25 alone), the training claims' judgments as
// the warehouse lists them. It fails when the learned model does not beat
// the lexical reranker in service on the held-out claims. The data is CC
// BY-NC, read from the shared data folder, never copied here; the test
// skips without it, under -short and under -race (about a minute).
func TestSciFactJob(t *testing.T) {
	if raceEnabled {
		t.Skip("indexing SciFact is ten times slower under -race")
	}
	if testing.Short() {
		t.Skip("indexing SciFact takes seconds; skipped under -short")
	}
	set := scifacttest.Load(t)
	ctx := context.Background()
	const dim = 64
	dense, sparse := embed.NewHashed(dim), embed.NewBM25()
	store, err := embedded.Open(t.TempDir(), dim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var batch []vectors.Point
	flush := func() {
		if err := store.Upsert(ctx, batch); err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
	}
	zero := make([]float32, dim)
	zero[0] = 1 // the dense side is not searched in sparse mode
	for i, text := range set.Docs {
		batch = append(batch, vectors.Point{
			ID: fmt.Sprintf("%08x-0000-5000-8000-000000000000", i), Dense: zero, Sparse: sparse.Document(text),
			Payload: vectors.Payload{DocumentID: set.DocIDs[i], Author: "SciFact", AuthorID: warehouse.AuthorID("SciFact"),
				Category: warehouse.Articles, Text: text},
		})
		if len(batch) == 500 {
			flush()
		}
	}
	flush()
	var judged judgmentList
	for _, q := range set.Queries {
		for doc, grade := range q.Rel {
			judged = append(judged, warehouse.JudgmentRecord{ID: q.ID + "/" + doc, Query: q.Text, DocumentID: doc,
				Grade: grade, Source: schemas.JudgmentImport, Seq: int64(len(judged) + 1)})
		}
	}
	search := &retrieval.Searcher{Dense: dense, Sparse: sparse, Store: store, Mode: retrieval.DefaultMode(dense)}
	ex, err := New(Config{Judgments: judged, Search: search, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ex.Run(ctx, trainer.Job{ID: "scifact", Kind: schemas.TrainingRerank, OutputDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Metrics
	t.Logf("%v train / %v test claims, %.1f s: nDCG@10 search order %.4f, lexical (in service) %.4f, learned %.4f (train %.4f)",
		m["train_queries"], m["test_queries"], m["seconds"], m["retrieval_ndcg@10"], m["serving_ndcg@10"], m["ndcg@10"], m["train_ndcg@10"])
	if m["ndcg@10"] < m["serving_ndcg@10"]+0.005 || m["ndcg@10"] < m["retrieval_ndcg@10"]+0.015 {
		t.Errorf("held-out nDCG@10 %.4f: the search order's %.4f, the lexical reranker's %.4f", m["ndcg@10"], m["retrieval_ndcg@10"], m["serving_ndcg@10"])
	}
}
