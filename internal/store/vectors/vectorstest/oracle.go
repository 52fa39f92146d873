package vectorstest

import (
	"cmp"
	"math"
	"slices"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// The oracle is a slow, obviously correct model of a store: it computes
// in float64 what every implementation must return, so each test states
// its data and its query and lets the oracle say the expected ranking.

// scored is one expected hit.
type scored struct {
	id    string
	score float64
}

// matches reports whether p passes f: for every non-empty set of f, the
// point's field is in the set.
func matches(f vectors.Filter, p vectors.Payload) bool {
	in := func(set []string, v string) bool { return len(set) == 0 || slices.Contains(set, v) }
	return in(f.AuthorIDs, p.AuthorID) && in(f.Categories, p.Category) &&
		in(f.Platforms, p.Platform) && in(f.DocumentIDs, p.DocumentID)
}

// cosine is the cosine similarity of a and b, 0 when either is zero.
func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// idf is BM25's inverse document frequency of a term found in n of N points.
func idf(N, n int) float64 {
	return math.Log(1 + (float64(N)-float64(n)+0.5)/(float64(n)+0.5))
}

// bm25 scores every point sharing a term with q; IDF counts all points,
// filtered or not, as Qdrant's IDF modifier does.
func bm25(points []vectors.Point, q vectors.Sparse) map[string]float64 {
	df := map[uint32]int{}
	for _, p := range points {
		for _, t := range p.Sparse.Indices {
			df[t]++
		}
	}
	scores := map[string]float64{}
	for _, p := range points {
		var s float64
		found := false
		for i, t := range q.Indices {
			if j, ok := slices.BinarySearch(p.Sparse.Indices, t); ok {
				found = true
				s += idf(len(points), df[t]) * float64(q.Values[i]) * float64(p.Sparse.Values[j])
			}
		}
		if found {
			scores[p.ID] = s
		}
	}
	return scores
}

// ranked sorts scores best first, ties by ascending id, and keeps limit.
func ranked(scores map[string]float64, limit int) []scored {
	out := make([]scored, 0, len(scores))
	for id, s := range scores {
		out = append(out, scored{id, s})
	}
	slices.SortFunc(out, func(a, b scored) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// expect is what a store holding points must answer to q.
func expect(points []vectors.Point, q vectors.Query) []scored {
	limit := q.Limit
	if limit <= 0 {
		limit = 10
	}
	prefetch := q.Prefetch
	if prefetch <= 0 {
		prefetch = max(4*limit, 50)
	}
	var dense, sparse map[string]float64
	if len(q.Dense) > 0 {
		dense = map[string]float64{}
		for _, p := range points {
			if matches(q.Filter, p.Payload) {
				dense[p.ID] = cosine(q.Dense, p.Dense)
			}
		}
	}
	if len(q.Sparse.Indices) > 0 {
		sparse = map[string]float64{}
		for id, s := range bm25(points, q.Sparse) {
			if p := find(points, id); matches(q.Filter, p.Payload) {
				sparse[id] = s
			}
		}
	}
	switch {
	case dense != nil && sparse != nil:
		fused := map[string]float64{}
		for _, list := range [][]scored{ranked(dense, prefetch), ranked(sparse, prefetch)} {
			for i, h := range list {
				fused[h.id] += 1 / float64(vectors.RRFK+i+1)
			}
		}
		return ranked(fused, limit)
	case dense != nil:
		return ranked(dense, limit)
	default:
		return ranked(sparse, limit)
	}
}

func find(points []vectors.Point, id string) vectors.Point {
	for _, p := range points {
		if p.ID == id {
			return p
		}
	}
	return vectors.Point{}
}
