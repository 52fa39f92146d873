package rerank

import (
	"context"
	"math/rand/v2"
	"testing"
)

func TestFitSelectedKeepsTheTreesCrossValidationSupports(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ex := NewExtractor()
	// noise is synthetic's queries with the relevant candidate drawn at
	// random: nothing generalizes, so more trees only fit the noise.
	noise := synthetic(60, 3)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, j := range noise {
		clear(j.Grades)
		j.Grades[rng.IntN(len(j.Grades))] = 1
	}
	for _, tc := range []struct {
		name      string
		data      []Judged
		opts      FitOptions
		wantFewer bool // fewer trees than the budget
	}{
		{"learnable", synthetic(60, 1), FitOptions{Trees: 20, MinLeaf: 5, Epochs: 50}, false},
		{"noise", noise, FitOptions{Trees: 60, Depth: 4, MinLeaf: 5, Epochs: 50}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, sel, err := FitSelected(ctx, ex, tc.data, tc.opts, 3)
			if err != nil {
				t.Fatal(err)
			}
			if sel.Folds != 3 || len(sel.NDCG) != tc.opts.Trees+1 {
				t.Fatalf("selection over %d folds with %d sizes, want 3 and %d", sel.Folds, len(sel.NDCG), tc.opts.Trees+1)
			}
			for n, v := range sel.NDCG {
				if v > sel.NDCG[sel.Trees] || (v == sel.NDCG[sel.Trees] && n < sel.Trees) {
					t.Errorf("chose %d trees (CV %.4f), but %d trees have %.4f", sel.Trees, sel.NDCG[sel.Trees], n, v)
				}
			}
			if len(m.Trees) != sel.Trees || m.Training.CVFolds != 3 || m.Training.CVNDCG != sel.NDCG[sel.Trees] {
				t.Errorf("model of %d trees, training %+v; selection %d trees", len(m.Trees), m.Training, sel.Trees)
			}
			// The first trees of a boosted model are the model fitted
			// with that many: the selected model is the one Fit gives.
			opts := tc.opts
			opts.Trees = sel.Trees
			if opts.Trees == 0 {
				opts.Trees = -1
			}
			same, err := Fit(ctx, ex, tc.data, opts)
			if err != nil {
				t.Fatal(err)
			}
			if same.ID() != m.ID() {
				t.Errorf("FitSelected's model %s is not Fit's with %d trees, %s", m.ID(), sel.Trees, same.ID())
			}
			if tc.wantFewer && sel.Trees >= tc.opts.Trees {
				t.Errorf("on noise kept all %d trees: CV %v", sel.Trees, sel.NDCG)
			}
			t.Logf("%d of %d trees, CV nDCG %.4f (linear %.4f, all %.4f)", sel.Trees, tc.opts.Trees, sel.NDCG[sel.Trees], sel.NDCG[0], sel.NDCG[tc.opts.Trees])
		})
	}
}
