package rerank

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// Tree is one regression tree of a model: Nodes[0] is the root; a node
// with Feature −1 is a leaf worth Value, any other sends a candidate to
// Left when its standardized feature (x − Mean)/Scale is at most
// Threshold, else to Right. Children come after their parent, so a walk
// always ends.
type Tree struct {
	Nodes []Node `json:"nodes"`
}

// Node is a split or a leaf of a Tree.
type Node struct {
	Feature   int     `json:"f"`           // index into Model.Features; −1 for a leaf
	Threshold float64 `json:"t,omitempty"` // the split
	Left      int     `json:"l,omitempty"` // node index
	Right     int     `json:"r,omitempty"` // node index
	Value     float64 `json:"v,omitempty"` // a leaf's score
}

// Limits of a model's trees, so that a model file cannot make scoring
// slow.
const (
	maxTrees     = 2000
	maxTreeNodes = 1023
)

// validateTrees checks that every tree is well formed for nf features.
func validateTrees(trees []Tree, nf int) error {
	if len(trees) > maxTrees {
		return fmt.Errorf("%w: %d trees, at most %d", ErrModel, len(trees), maxTrees)
	}
	for ti, t := range trees {
		if len(t.Nodes) == 0 || len(t.Nodes) > maxTreeNodes {
			return fmt.Errorf("%w: tree %d has %d nodes, want 1 to %d", ErrModel, ti, len(t.Nodes), maxTreeNodes)
		}
		for ni, n := range t.Nodes {
			switch {
			case n.Feature == -1:
				if !isFinite(n.Value) {
					return fmt.Errorf("%w: tree %d leaf %d is worth %v", ErrModel, ti, ni, n.Value)
				}
			case n.Feature < 0 || n.Feature >= nf:
				return fmt.Errorf("%w: tree %d node %d splits on feature %d of %d", ErrModel, ti, ni, n.Feature, nf)
			case !isFinite(n.Threshold):
				return fmt.Errorf("%w: tree %d node %d has threshold %v", ErrModel, ti, ni, n.Threshold)
			case n.Left <= ni || n.Right <= ni || n.Left >= len(t.Nodes) || n.Right >= len(t.Nodes):
				return fmt.Errorf("%w: tree %d node %d has children %d and %d: they must come after it, among %d nodes",
					ErrModel, ti, ni, n.Left, n.Right, len(t.Nodes))
			}
		}
	}
	return nil
}

// eval walks the tree for a standardized feature vector z.
func (t Tree) eval(z []float64) float64 {
	i := 0
	for {
		n := &t.Nodes[i]
		if n.Feature < 0 {
			return n.Value
		}
		if z[n.Feature] <= n.Threshold {
			i = n.Left
		} else {
			i = n.Right
		}
	}
}

// boostBins is the number of candidate thresholds per feature.
const boostBins = 32

// boost adds trees to m: gradient boosting on the LambdaRank gradients
// (LambdaMART), starting from the linear model's scores. Each tree is
// fitted by Newton steps on histograms of the features cut at their
// quantiles, its leaves shrunk by opts.Shrinkage.
func boost(ctx context.Context, m *Model, qs []lambdaQuery, opts FitOptions) error {
	if opts.Trees <= 0 {
		return nil
	}
	nf := len(m.Features)
	// Every training candidate, flattened, with its query's offset.
	var xs [][]float64
	offsets := make([]int, len(qs))
	for qi, q := range qs {
		offsets[qi] = len(xs)
		xs = append(xs, q.x...)
	}
	n := len(xs)
	// Cut points: the quantiles of each feature; bins[i][f] is the first
	// cut at or above the value (len(cuts[f]) when none).
	cuts := make([][]float64, nf)
	vals := make([]float64, n)
	for f := range nf {
		for i, x := range xs {
			vals[i] = x[f]
		}
		slices.Sort(vals)
		for b := 1; b < boostBins; b++ {
			c := vals[b*n/boostBins]
			if len(cuts[f]) == 0 || cuts[f][len(cuts[f])-1] != c {
				cuts[f] = append(cuts[f], c)
			}
		}
	}
	bins := make([][]uint8, n)
	flat := make([]uint8, n*nf)
	for i, x := range xs {
		bins[i] = flat[i*nf : (i+1)*nf]
		for f := range nf {
			b, _ := slices.BinarySearch(cuts[f], x[f])
			bins[i][f] = uint8(b)
		}
	}
	score := make([]float64, n)
	for i, x := range xs {
		score[i] = m.linear(x)
	}
	g, h := make([]float64, n), make([]float64, n)
	b := &treeBuilder{bins: bins, cuts: cuts, g: g, h: h, minLeaf: opts.MinLeaf, shrink: opts.Shrinkage}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	var rank []int
	for range opts.Trees {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("rerank: fit: %w", err)
		}
		clear(g)
		clear(h)
		for qi, q := range qs {
			off := offsets[qi]
			s := score[off : off+len(q.x)]
			rank = ranks(s, rank)
			for i, gi := range q.grades {
				for j, gj := range q.grades {
					if gi <= gj {
						continue
					}
					delta := math.Abs(float64(gi-gj)*(discount(rank[i], opts.TruncateAt)-discount(rank[j], opts.TruncateAt))) / q.ideal
					if delta == 0 {
						continue
					}
					rho := 1 / (1 + math.Exp(s[i]-s[j]))
					g[off+i] += rho * delta
					g[off+j] -= rho * delta
					hh := delta * rho * (1 - rho)
					h[off+i] += hh
					h[off+j] += hh
				}
			}
		}
		t := b.build(slices.Clone(all), opts.Depth)
		m.Trees = append(m.Trees, t)
		for i, x := range xs {
			score[i] += t.eval(x)
		}
	}
	return nil
}

// ranks sets rank[i] to the place of s[i] in Order(s).
func ranks(s []float64, rank []int) []int {
	rank = slices.Grow(rank[:0], len(s))[:len(s)]
	for r, i := range Order(s) {
		rank[i] = r
	}
	return rank
}

// treeBuilder fits one tree to the gradients g and second derivatives h.
type treeBuilder struct {
	bins    [][]uint8
	cuts    [][]float64
	g, h    []float64
	minLeaf int
	shrink  float64
	nodes   []Node
}

// newtonReg is the L2 term of a leaf's Newton step.
const newtonReg = 1

func (b *treeBuilder) build(idx []int, depth int) Tree {
	b.nodes = nil
	b.grow(idx, depth)
	return Tree{Nodes: b.nodes}
}

// grow adds the node for the candidates idx and returns its index.
func (b *treeBuilder) grow(idx []int, depth int) int {
	var sg, sh float64
	for _, i := range idx {
		sg += b.g[i]
		sh += b.h[i]
	}
	me := len(b.nodes)
	b.nodes = append(b.nodes, Node{Feature: -1, Value: b.shrink * sg / (sh + newtonReg)})
	if depth == 0 || len(idx) < 2*b.minLeaf {
		return me
	}
	nf := len(b.cuts)
	parent := sg * sg / (sh + newtonReg)
	bestGain, bestF, bestBin := 0.0, -1, 0
	hg := make([]float64, boostBins+1)
	hh := make([]float64, boostBins+1)
	hn := make([]int, boostBins+1)
	for f := range nf {
		clear(hg)
		clear(hh)
		clear(hn)
		for _, i := range idx {
			bin := b.bins[i][f]
			hg[bin] += b.g[i]
			hh[bin] += b.h[i]
			hn[bin]++
		}
		var lg, lh float64
		ln := 0
		// Left takes the bins up to and including bin: values ≤ cuts[f][bin].
		for bin := range b.cuts[f] {
			lg, lh, ln = lg+hg[bin], lh+hh[bin], ln+hn[bin]
			if ln < b.minLeaf {
				continue
			}
			if len(idx)-ln < b.minLeaf {
				break
			}
			rg, rh := sg-lg, sh-lh
			if gain := lg*lg/(lh+newtonReg) + rg*rg/(rh+newtonReg) - parent; gain > bestGain {
				bestGain, bestF, bestBin = gain, f, bin
			}
		}
	}
	if bestF < 0 {
		return me
	}
	var left, right []int
	for _, i := range idx {
		if int(b.bins[i][bestF]) <= bestBin {
			left = append(left, i)
		} else {
			right = append(right, i)
		}
	}
	l := b.grow(left, depth-1)
	r := b.grow(right, depth-1)
	b.nodes[me] = Node{Feature: bestF, Threshold: b.cuts[bestF][bestBin], Left: l, Right: r}
	return me
}
