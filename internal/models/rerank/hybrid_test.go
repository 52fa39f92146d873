package rerank

import (
	"cmp"
	"context"
	"slices"
	"testing"

	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/models/embed/scifacttest"
	"github.com/twin-llm/twin/internal/store/vectors"
)

// hybridRun returns run with each claim's candidates replaced by the top
// 50 of a hybrid search as the embedded vector store runs it: the hashed
// dense model's and BM25's top 200 (the store's prefetch for 50, 4·limit)
// fused by RRF. It is the order the rag worker gets with the embedded
// models, weaker than BM25's alone (internal/embed/README.md).
func hybridRun(t testing.TB, run *sciFactRun) *sciFactRun {
	t.Helper()
	const prefetch = 4 * sciFactDepth
	model := embed.NewHashed(embed.DefaultDim)
	docs, err := model.Embed(context.Background(), run.docs)
	if err != nil {
		t.Fatal(err)
	}
	ix := newBM25Index(run.docs)
	scratch := make([]float64, len(run.docs))
	out := &sciFactRun{docIDs: run.docIDs, docs: run.docs, claims: make([]claim, len(run.claims))}
	for i, c := range run.claims {
		v, err := model.Embed(context.Background(), []string{c.text})
		if err != nil {
			t.Fatal(err)
		}
		dense := make([]int, len(docs))
		for d, dv := range docs {
			var s float32
			for j, x := range dv {
				s += x * v[0][j]
			}
			scratch[d] = float64(s)
			dense[d] = d
		}
		dense = scifacttest.TopK(dense, scratch, prefetch)
		sparse := ix.search(c.text, prefetch, scratch)
		score := map[int]float64{}
		for _, list := range [][]int{dense, sparse} {
			for r, d := range list {
				score[d] += 1 / float64(vectors.RRFK+r+1)
			}
		}
		top := make([]int, 0, len(score))
		for d := range score {
			top = append(top, d)
		}
		slices.SortFunc(top, func(a, b int) int {
			if c := cmp.Compare(score[b], score[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		out.claims[i] = claim{text: c.text, rel: c.rel, top: top[:min(sciFactDepth, len(top))]}
	}
	return out
}
