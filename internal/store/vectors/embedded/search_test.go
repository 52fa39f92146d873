package embedded

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twin-llm/twin/internal/store/vectors"
)

func TestKernelsMatchGo(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, stride := range []int{32, 64, 96, 384, 416} {
		const n = 37
		q, vecs := make([]float32, stride), make([]float32, n*stride)
		q8, codes := make([]int16, stride), make([]int8, n*stride)
		for i := range q {
			q[i] = float32(rng.NormFloat64())
			q8[i] = int16(rng.IntN(255) - 127)
		}
		for i := range vecs {
			vecs[i] = float32(rng.NormFloat64())
			codes[i] = int8(rng.IntN(255) - 127)
		}
		got, want := make([]float32, n), make([]float32, n)
		dotsF32(q, vecs, got)
		dotsF32Go(q, vecs, want)
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-3 {
				t.Errorf("stride %d: dotsF32[%d] = %v, Go gives %v", stride, i, got[i], want[i])
			}
		}
		got8, want8 := make([]int32, n), make([]int32, n)
		dotsI8(q8, codes, got8)
		dotsI8Go(q8, codes, want8)
		if !slices.Equal(got8, want8) {
			t.Errorf("stride %d: dotsI8 = %v, Go gives %v", stride, got8, want8)
		}
	}
}

// testIndex builds an index of n points: random unit vectors, plus
// clusters of near duplicates around a few centres, whose scores differ
// by less than the quantization error bound and so test the exact
// rescoring.
func testIndex(t testing.TB, n, dim int) (*index, [][]float32) {
	rng := rand.New(rand.NewPCG(7, 7))
	ix := newIndex(dim)
	var centres [][]float32
	for range 4 {
		centres = append(centres, randomVector(rng, dim))
	}
	for i := range n {
		v := randomVector(rng, dim)
		if i%5 == 0 {
			c := centres[i%len(centres)]
			for j := range v {
				v[j] = c[j] + 0.01*v[j]
			}
		}
		p := vectors.Point{ID: fmt.Sprintf("p%07d", i), Dense: v, Payload: vectors.Payload{
			DocumentID: fmt.Sprint("doc-", i/10), AuthorID: fmt.Sprint("author-", i%50), Category: []string{"articles", "posts", "repositories"}[i%3],
		}}
		e := prepare(p, nil, ix.stride, false)
		ix.put(&e)
	}
	return ix, centres
}

func randomVector(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for j := range v {
		v[j] = float32(rng.NormFloat64())
	}
	return v
}

// bruteForce scores every matching slot with the same float32 kernel.
func bruteForce(ix *index, q []float32, m *matcher, k int) []result {
	dq := ix.prepareQuery(q)
	var all []result
	out := make([]float32, 1)
	for slot := range ix.ids {
		if ix.ids[slot] == "" || m != nil && !m.match(uint32(slot)) {
			continue
		}
		b, o := ix.blocks[slot/blockSize], slot%blockSize
		dotsF32(dq.vec, b.vecs[o*ix.stride:(o+1)*ix.stride], out)
		all = append(all, result{uint32(slot), float64(out[0])})
	}
	ix.sortResults(all)
	return all[:min(k, len(all))]
}

func TestDenseSearchIsExact(t *testing.T) {
	t.Parallel()
	const dim = 96
	ix, centres := testIndex(t, 3*minParallel, dim)
	// Free some slots, so that scans meet them.
	for slot := uint32(0); slot < uint32(len(ix.ids)); slot += 97 {
		ix.remove(slot)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	queries := [][]float32{randomVector(rng, dim), randomVector(rng, dim)}
	for _, c := range centres {
		q := slices.Clone(c)
		q[0] += 0.001
		queries = append(queries, q)
	}
	filters := []vectors.Filter{
		{},
		{AuthorIDs: []string{"author-3"}}, // candidates
		{Categories: []string{"posts", "articles"}},                      // a scan with a filter
		{AuthorIDs: []string{"author-4"}, Categories: []string{"posts"}}, // both
	}
	for qi, q := range queries {
		for _, f := range filters {
			for _, k := range []int{1, 10, 100} {
				m := ix.matcher(f)
				want := bruteForce(ix, q, m, k)
				for _, workers := range []int{1, 3} {
					got := ix.searchDense(q, m, k, workers)
					if !slices.Equal(got, want) {
						t.Errorf("query %d, filter %+v, k %d, %d workers:\n got  %v\n want %v", qi, f, k, workers, got, want)
					}
				}
			}
		}
	}
}

func TestQuantizationBoundHolds(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	for _, dim := range []int{8, 96, 384} {
		stride := strideOf(dim)
		ix := newIndex(dim)
		for range 2000 {
			q := ix.prepareQuery(randomVector(rng, dim))
			x := prepare(vectors.Point{Dense: randomVector(rng, dim)}, nil, stride, false)
			var exact float64
			for i := range dim {
				exact += float64(q.vec[i]) * float64(x.vec[i])
			}
			var est int64
			for i := range stride {
				est += int64(q.codes[i]) * int64(x.codes[i])
			}
			approx := float64(q.scale) * float64(x.scale) * float64(est)
			if bound := float64(x.resid + q.resid*(1+x.resid)); math.Abs(exact-approx) > bound {
				t.Fatalf("dim %d: |%v - %v| exceeds the bound %v", dim, exact, approx, bound)
			}
		}
	}
}
