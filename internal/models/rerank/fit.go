package rerank

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
)

// FitOptions configure Fit. The zero value fits the default model.
type FitOptions struct {
	// Features are the model's features, from AllFeatures; default
	// DefaultFeatures.
	Features []string
	// Epochs of full-batch gradient descent (Adam); default 200.
	Epochs int
	// LearningRate is Adam's step size; default 0.05.
	LearningRate float64
	// L2 is the weight decay on the standardized weights; default
	// DefaultL2, and a negative value means none.
	L2 float64
	// Trees is the number of regression trees boosted on top of the
	// linear model (LambdaMART); default DefaultTrees, negative for none
	// (a linear model).
	Trees int
	// Depth of each tree; default DefaultTreeDepth.
	Depth int
	// Shrinkage scales each tree's leaves; default 0.1.
	Shrinkage float64
	// MinLeaf is the fewest training candidates in a leaf; default 50.
	MinLeaf int
	// TruncateAt is the depth at which LambdaRank's nDCG changes are
	// measured: a swap of two candidates both below it changes nothing;
	// default 10, the depth the model is judged at.
	TruncateAt int
}

// DefaultFeatures are the features a model is fitted on unless told
// otherwise: every feature except those that need retrieval scores.
func DefaultFeatures() []string {
	var out []string
	for _, f := range AllFeatures() {
		if !needsScores(f) {
			out = append(out, f)
		}
	}
	return out
}

func (o FitOptions) withDefaults() FitOptions {
	if len(o.Features) == 0 {
		o.Features = DefaultFeatures()
	}
	if o.Epochs <= 0 {
		o.Epochs = 200
	}
	if !(o.LearningRate > 0) {
		o.LearningRate = 0.05
	}
	switch {
	case o.L2 == 0 || math.IsNaN(o.L2):
		o.L2 = DefaultL2
	case o.L2 < 0:
		o.L2 = 0
	}
	if o.TruncateAt <= 0 {
		o.TruncateAt = 10
	}
	switch {
	case o.Trees == 0:
		o.Trees = DefaultTrees
	case o.Trees < 0:
		o.Trees = 0
	}
	if o.Depth <= 0 {
		o.Depth = DefaultTreeDepth
	}
	if !(o.Shrinkage > 0) {
		o.Shrinkage = 0.1
	}
	if o.MinLeaf <= 0 {
		o.MinLeaf = 50
	}
	return o
}

// DefaultTrees is the default number of boosted trees.
const DefaultTrees = 100

// DefaultTreeDepth is the default depth of a tree. Deep trees pay on
// chunks, where the document features interact with the chunk's own (a
// chunk without the query's words whose document's best chunk has
// them): cross-validated through the served pipeline on SciFact, each
// level from 3 to 8 added, and 9 no more than 8.
const DefaultTreeDepth = 8

// DefaultL2 is the default weight decay.
const DefaultL2 = 0.01

// ErrNoPairs is training data with no query that has a candidate graded
// above another: there is nothing to learn from.
var ErrNoPairs = errors.New("rerank: no judged query has a candidate graded above another")

// lambdaQuery is a query's standardized rows, as the fit sees them.
type lambdaQuery struct {
	x      [][]float64
	grades []int
	ideal  float64
}

// featured is a judged query's candidates as feature rows.
type featured struct {
	rows   [][]float64
	grades []int
	ideal  float64 // DCG@k of the ideal ranking
	judged Judged  // for nDCG: grades, documents and ideal, without the texts
}

// Fit fits a linear model on the judged queries with LambdaRank: the
// pairwise logistic loss over every two candidates of a query with
// different grades, each pair weighted by how much swapping the two would
// change the query's nDCG@TruncateAt, plus L2 weight decay. Features are
// standardized over the training candidates first; the fit is
// deterministic (zero start, full batches, fixed epochs).
func Fit(ctx context.Context, ex *Extractor, judged []Judged, opts FitOptions) (*Model, error) {
	opts = opts.withDefaults()
	col, err := columns(opts.Features)
	if err != nil {
		return nil, err
	}
	data, err := featurize(ctx, ex, judged, opts.TruncateAt)
	if err != nil {
		return nil, err
	}
	return fitFeatured(ctx, data, opts, col)
}

// columns are the features' columns in Features' rows.
func columns(features []string) ([]int, error) {
	idx := featureIndex()
	col := make([]int, len(features))
	for i, f := range features {
		c, ok := idx[f]
		if !ok {
			return nil, fmt.Errorf("%w: unknown feature %q", ErrConfig, f)
		}
		col[i] = c
	}
	return col, nil
}

// featurize computes the features of every judged query.
func featurize(ctx context.Context, ex *Extractor, judged []Judged, k int) ([]featured, error) {
	out := make([]featured, 0, len(judged))
	for _, j := range judged {
		if err := j.validate(); err != nil {
			return nil, err
		}
		rows, err := ex.DocumentFeatures(ctx, j.Query, j.Texts, j.Scores, j.Docs)
		if err != nil {
			return nil, err
		}
		out = append(out, featured{rows: rows, grades: j.Grades, ideal: idealDCG(j, k),
			judged: Judged{Grades: j.Grades, Docs: j.Docs, Ideal: j.Ideal}})
	}
	return out, nil
}

// fitFeatured fits the model on the columns col of the rows.
func fitFeatured(ctx context.Context, data []featured, opts FitOptions, col []int) (*Model, error) {
	nf := len(col)
	m := &Model{Format: ModelFormat, Features: slices.Clone(opts.Features),
		Mean: make([]float64, nf), Scale: make([]float64, nf), Weights: make([]float64, nf)}

	// Standardize over every training candidate.
	var count float64
	for _, q := range data {
		for _, row := range q.rows {
			for f, c := range col {
				m.Mean[f] += row[c]
			}
			count++
		}
	}
	if count == 0 {
		return nil, ErrNoPairs
	}
	for f := range m.Mean {
		m.Mean[f] /= count
	}
	for _, q := range data {
		for _, row := range q.rows {
			for f, c := range col {
				d := row[c] - m.Mean[f]
				m.Scale[f] += d * d
			}
		}
	}
	for f := range m.Scale {
		m.Scale[f] = math.Sqrt(m.Scale[f] / count)
		if !(m.Scale[f] > 1e-9) {
			m.Scale[f] = 1 // constant over the training set: its weight stays 0
		}
	}

	// The standardized rows of the queries that have pairs.
	var qs []lambdaQuery
	pairs, cands := 0, 0
	for _, q := range data {
		if q.ideal == 0 {
			continue
		}
		lo, hi := math.MaxInt, math.MinInt
		for _, g := range q.grades {
			lo, hi = min(lo, g), max(hi, g)
		}
		if lo == hi {
			continue
		}
		x := make([][]float64, len(q.rows))
		for i, row := range q.rows {
			x[i] = make([]float64, nf)
			for f, c := range col {
				x[i][f] = (row[c] - m.Mean[f]) / m.Scale[f]
			}
		}
		for i := range q.grades {
			for j := range q.grades {
				if q.grades[i] > q.grades[j] {
					pairs++
				}
			}
		}
		cands += len(x)
		qs = append(qs, lambdaQuery{x: x, grades: q.grades, ideal: q.ideal})
	}
	if len(qs) == 0 {
		return nil, ErrNoPairs
	}

	// Adam on the LambdaRank gradient.
	w := m.Weights
	grad := make([]float64, nf)
	mom, vel := make([]float64, nf), make([]float64, nf)
	const beta1, beta2, eps = 0.9, 0.999, 1e-8
	var s []float64
	var rank []int
	for epoch := 1; epoch <= opts.Epochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("rerank: fit: %w", err)
		}
		clear(grad)
		for _, q := range qs {
			s = s[:0]
			for _, x := range q.x {
				var v float64
				for f, xf := range x {
					v += w[f] * xf
				}
				s = append(s, v)
			}
			order := Order(s)
			rank = slices.Grow(rank[:0], len(s))[:len(s)]
			for r, i := range order {
				rank[i] = r
			}
			for i, gi := range q.grades {
				for j, gj := range q.grades {
					if gi <= gj {
						continue
					}
					delta := math.Abs(float64(gi-gj)*(discount(rank[i], opts.TruncateAt)-discount(rank[j], opts.TruncateAt))) / q.ideal
					if delta == 0 {
						continue
					}
					// d/ds_i of log(1 + e^−(s_i − s_j)) is −1/(1 + e^(s_i − s_j)).
					lambda := delta / (1 + math.Exp(s[i]-s[j]))
					for f := range grad {
						grad[f] -= lambda * (q.x[i][f] - q.x[j][f])
					}
				}
			}
		}
		for f := range w {
			g := grad[f]/float64(len(qs)) + opts.L2*w[f]
			mom[f] = beta1*mom[f] + (1-beta1)*g
			vel[f] = beta2*vel[f] + (1-beta2)*g*g
			mhat := mom[f] / (1 - math.Pow(beta1, float64(epoch)))
			vhat := vel[f] / (1 - math.Pow(beta2, float64(epoch)))
			w[f] -= opts.LearningRate * mhat / (math.Sqrt(vhat) + eps)
		}
	}
	if err := boost(ctx, m, qs, opts); err != nil {
		return nil, err
	}
	m.Training = Training{Objective: "lambdarank", Queries: len(qs), Candidates: cands, Pairs: pairs,
		Epochs: opts.Epochs, LearningRate: opts.LearningRate, L2: opts.L2, TruncateAt: opts.TruncateAt}
	if len(m.Trees) > 0 {
		m.Training.Objective = "lambdamart"
		m.Training.Trees, m.Training.Depth, m.Training.Shrinkage, m.Training.MinLeaf = len(m.Trees), opts.Depth, opts.Shrinkage, opts.MinLeaf
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("rerank: fit diverged: %w", err)
	}
	return m, nil
}

// discount is nDCG's discount at rank r (0-based), 0 at or past k.
func discount(r, k int) float64 {
	if r >= k {
		return 0
	}
	return 1 / math.Log2(float64(r+2))
}

// Selection is how FitSelected chose a model's number of trees.
type Selection struct {
	Folds int
	// NDCG[t] is the cross-validated nDCG@TruncateAt of the model with its
	// first t trees (NDCG[0]: the linear model).
	NDCG []float64
	// Trees is the number chosen: the fewest whose cross-validated nDCG
	// is the highest.
	Trees int
}

// FitSelected is Fit with the number of trees chosen by cross-validation
// over the judged queries, so that a model does not grow more trees than
// its judgments support: the queries are dealt into folds (query i into
// fold i mod folds); on each fold a model of opts.Trees trees is fitted
// on the other folds and its first t trees, for every t from 0 (the
// linear model) up, are measured on the fold. A boosted model's first t
// trees are the model that fitting t trees gives, so one fit per fold
// measures every size. The model fitted on every query keeps the number
// of trees with the best mean (the fewest on a tie). With fewer than two
// folds, a linear model or fewer judged queries than 2 per fold, it is
// Fit.
func FitSelected(ctx context.Context, ex *Extractor, judged []Judged, opts FitOptions, folds int) (*Model, Selection, error) {
	opts = opts.withDefaults()
	col, err := columns(opts.Features)
	if err != nil {
		return nil, Selection{}, err
	}
	data, err := featurize(ctx, ex, judged, opts.TruncateAt)
	if err != nil {
		return nil, Selection{}, err
	}
	full, err := fitFeatured(ctx, data, opts, col)
	if err != nil {
		return nil, Selection{}, err
	}
	sel := Selection{Trees: len(full.Trees)}
	if folds < 2 || len(full.Trees) == 0 || len(data) < 2*folds {
		return full, sel, nil
	}
	sel.Folds = folds
	sum := make([]float64, opts.Trees+1)
	var n float64
	for fold := range folds {
		var train, test []featured
		for i, q := range data {
			if i%folds == fold {
				test = append(test, q)
			} else {
				train = append(train, q)
			}
		}
		m, err := fitFeatured(ctx, train, opts, col)
		if errors.Is(err, ErrNoPairs) {
			continue // nothing to learn without this fold: it measures nothing
		}
		if err != nil {
			return nil, Selection{}, err
		}
		for t, v := range prefixNDCG(m, test, col, opts.Trees, opts.TruncateAt) {
			sum[t] += v
		}
		n += float64(len(test))
	}
	if n == 0 {
		return full, Selection{Trees: len(full.Trees)}, nil
	}
	sel.NDCG = make([]float64, len(sum))
	best := 0
	for t, v := range sum {
		sel.NDCG[t] = v / n
		if sel.NDCG[t] > sel.NDCG[best] {
			best = t
		}
	}
	sel.Trees = min(best, len(full.Trees))
	full.Trees = full.Trees[:sel.Trees]
	if sel.Trees == 0 {
		full.Trees = nil
		full.Training.Objective = "lambdarank"
		full.Training.Trees, full.Training.Depth, full.Training.Shrinkage, full.Training.MinLeaf = 0, 0, 0, 0
	} else {
		full.Training.Trees = sel.Trees
	}
	full.Training.CVFolds, full.Training.CVNDCG = folds, sel.NDCG[sel.Trees]
	return full, sel, nil
}

// prefixNDCG returns, for t from 0 to trees, the sum over qs of the
// nDCG@k of m with its first t trees (a model with fewer trees than t
// counts as itself).
func prefixNDCG(m *Model, qs []featured, col []int, trees, k int) []float64 {
	out := make([]float64, trees+1)
	z := make([]float64, len(col))
	for _, q := range qs {
		x := make([][]float64, len(q.rows))
		s := make([]float64, len(q.rows))
		for i, row := range q.rows {
			x[i] = make([]float64, len(col))
			for f, c := range col {
				z[f] = (row[c] - m.Mean[f]) / m.Scale[f]
			}
			copy(x[i], z)
			s[i] = m.linear(x[i])
		}
		for t := 0; t <= trees; t++ {
			if t > 0 && t <= len(m.Trees) {
				for i := range s {
					s[i] += m.Trees[t-1].eval(x[i])
				}
			}
			out[t] += NDCG(q.judged, Order(s), k)
		}
	}
	return out
}
