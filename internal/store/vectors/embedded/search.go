package embedded

import (
	"cmp"
	"math"
	"slices"
	"sync"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// result is a scored slot.
type result struct {
	slot  uint32
	score float64
}

// better orders results: higher score first, then lower id, so that equal
// scores always come back in the same order.
func (ix *index) better(a, b result) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return ix.ids[a.slot] < ix.ids[b.slot]
}

func (ix *index) sortResults(rs []result) {
	slices.SortFunc(rs, func(a, b result) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(ix.ids[a.slot], ix.ids[b.slot])
	})
}

// topK keeps the k best results pushed into it: a heap whose root is the
// worst of them, so a candidate is compared with one result only.
type topK struct {
	ix    *index
	k     int
	items []result
}

func newTopK(ix *index, k int) *topK {
	return &topK{ix: ix, k: k, items: make([]result, 0, min(k, 1024))}
}

func (h *topK) full() bool { return len(h.items) == h.k }

// floor is the score a result must reach to enter a full heap.
func (h *topK) floor() float64 { return h.items[0].score }

func (h *topK) push(r result) {
	if len(h.items) < h.k {
		h.items = append(h.items, r)
		for i := len(h.items) - 1; i > 0; {
			parent := (i - 1) / 2
			if !h.ix.better(h.items[parent], h.items[i]) {
				break
			}
			h.items[parent], h.items[i] = h.items[i], h.items[parent]
			i = parent
		}
		return
	}
	if !h.ix.better(r, h.items[0]) {
		return
	}
	h.items[0] = r
	for i := 0; ; {
		worst, l, r := i, 2*i+1, 2*i+2
		if l < len(h.items) && h.ix.better(h.items[worst], h.items[l]) {
			worst = l
		}
		if r < len(h.items) && h.ix.better(h.items[worst], h.items[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h.items[i], h.items[worst] = h.items[worst], h.items[i]
		i = worst
	}
}

// denseQuery is a query vector prepared for the scan.
type denseQuery struct {
	vec   []float32 // normalized, padded to the stride
	codes []int16   // quantized, widened for the kernel
	scale float32
	resid float32
}

func (ix *index) prepareQuery(q []float32) denseQuery {
	e := prepare(vectors.Point{Dense: q}, nil, ix.stride, false)
	dq := denseQuery{vec: e.vec, codes: make([]int16, ix.stride), scale: e.scale, resid: e.resid}
	for i, c := range e.codes {
		dq.codes[i] = int16(c)
	}
	return dq
}

// slack covers float32 rounding in both the estimate and the exact score.
const slack = 1e-4

// The dense scan is exact although it reads int8 codes: with x̂ = s·codes
// the quantized x and r its rounding error, Cauchy-Schwarz bounds
//
//	|q·x - q̂·x̂| <= |q|·|x - x̂| + |q - q̂|·|x̂| <= r_x + r_q·(1 + r_x)
//
// for unit q and x. A slot whose estimate plus that bound is below the
// k-th best exact score found so far cannot be in the top k; every other
// slot is scored exactly from its float32 vector. On random unit vectors
// of 384 dimensions the bound is about 0.02, so few slots need the exact
// score, and the scan reads 1 byte per dimension instead of 4.

// scanChunk is the number of slots a kernel call scores at once.
const scanChunk = 256

// minParallel is the number of slots below which a scan does not spread
// over goroutines.
const minParallel = 16384

// searchDense returns the k best slots by cosine similarity to q among
// those m accepts (all when m is nil), best first.
func (ix *index) searchDense(q []float32, m *matcher, k, workers int) []result {
	if ix.live == 0 || k <= 0 || m != nil && m.none {
		return nil
	}
	dq := ix.prepareQuery(q)
	k = min(k, ix.live)
	var (
		slots []uint32 // candidates, when the filter is selective
		n     = len(ix.ids)
	)
	if m != nil {
		// Visiting candidates out of order costs a few times more per
		// slot than the in-order scan; past a quarter of the points the
		// scan wins.
		var c int
		slots, c = m.candidates(n / 4)
		if slots != nil {
			n = c
		}
	}
	parts := 1
	if n >= minParallel {
		parts = max(1, min(workers, n/(minParallel/4)))
	}
	heaps := make([]*topK, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		heaps[p] = newTopK(ix, k)
		scan := func() {
			if slots != nil {
				ix.scanSlots(&dq, slots[lo:hi], m, heaps[p])
			} else {
				ix.scanRange(&dq, lo, hi, m, heaps[p])
			}
		}
		if p == parts-1 {
			scan()
		} else {
			wg.Go(scan)
		}
	}
	wg.Wait()
	var all []result
	for _, h := range heaps {
		all = append(all, h.items...)
	}
	ix.sortResults(all)
	return all[:min(k, len(all))]
}

// scanRange scores slots [lo, hi) in order.
func (ix *index) scanRange(dq *denseQuery, lo, hi int, m *matcher, h *topK) {
	est := make([]int32, scanChunk)
	exact := make([]float32, 1)
	stride := ix.stride
	for s := lo; s < hi; {
		b, off := ix.blocks[s/blockSize], s%blockSize
		n := min(scanChunk, hi-s, blockSize-off)
		dotsI8(dq.codes, b.codes[off*stride:(off+n)*stride], est[:n])
		for j := range n {
			slot := uint32(s + j)
			if ix.ids[slot] == "" || m != nil && !m.match(slot) {
				continue
			}
			o := off + j
			if h.full() {
				r := b.resid[o]
				upper := float64(dq.scale*b.scales[o])*float64(est[j]) + float64(r+dq.resid*(1+r)) + slack
				if upper < h.floor() {
					continue
				}
			}
			dotsF32(dq.vec, b.vecs[o*stride:(o+1)*stride], exact)
			h.push(result{slot, float64(exact[0])})
		}
		s += n
	}
}

// scanSlots scores the listed slots, in any order.
func (ix *index) scanSlots(dq *denseQuery, slots []uint32, m *matcher, h *topK) {
	est := make([]int32, 1)
	exact := make([]float32, 1)
	stride := ix.stride
	for _, slot := range slots {
		if !m.match(slot) {
			continue
		}
		b, o := ix.blocks[slot/blockSize], int(slot%blockSize)
		if h.full() {
			dotsI8(dq.codes, b.codes[o*stride:(o+1)*stride], est)
			r := b.resid[o]
			upper := float64(dq.scale*b.scales[o])*float64(est[0]) + float64(r+dq.resid*(1+r)) + slack
			if upper < h.floor() {
				continue
			}
		}
		dotsF32(dq.vec, b.vecs[o*stride:(o+1)*stride], exact)
		h.push(result{slot, float64(exact[0])})
	}
}

// sparseScratch is the per-query memory of a sparse search, pooled: a
// score and a state per slot, and the slots touched.
type sparseScratch struct {
	acc     []float64
	state   []uint8 // 0 untouched, 1 accepted by the filter, 2 rejected
	touched []uint32
}

// idf is BM25's inverse document frequency of a term held by n of N
// points, the formula of Qdrant's IDF modifier.
func idf(N, n int) float64 {
	return math.Log(1 + (float64(N)-float64(n)+0.5)/(float64(n)+0.5))
}

// searchSparse returns the k best slots by BM25 among those sharing a term
// with q and accepted by m, best first. IDF comes from the live points,
// filtered or not.
func (ix *index) searchSparse(q vectors.Sparse, m *matcher, k int, pool *sync.Pool) []result {
	if ix.live == 0 || k <= 0 || m != nil && m.none {
		return nil
	}
	sc, _ := pool.Get().(*sparseScratch)
	if sc == nil || len(sc.acc) < len(ix.ids) {
		n := len(ix.ids) + len(ix.ids)/4
		sc = &sparseScratch{acc: make([]float64, n), state: make([]uint8, n)}
	}
	defer func() {
		for _, s := range sc.touched {
			sc.acc[s], sc.state[s] = 0, 0
		}
		sc.touched = sc.touched[:0]
		pool.Put(sc)
	}()
	for i, t := range q.Indices {
		pl := ix.terms[t]
		if pl == nil {
			continue
		}
		w := idf(ix.live, pl.live) * float64(q.Values[i])
		for _, p := range pl.entries {
			if p.gen != ix.gens[p.slot] {
				continue
			}
			switch sc.state[p.slot] {
			case 0:
				sc.state[p.slot] = 1
				if m != nil && !m.match(p.slot) {
					sc.state[p.slot] = 2
				}
				sc.touched = append(sc.touched, p.slot)
			case 2:
				continue
			}
			sc.acc[p.slot] += w * float64(p.value)
		}
	}
	h := newTopK(ix, k)
	for _, s := range sc.touched {
		if sc.state[s] == 1 {
			h.push(result{s, sc.acc[s]})
		}
	}
	ix.sortResults(h.items)
	return h.items
}

// fuse combines rankings by reciprocal rank fusion: each slot scores
// the sum of 1/(RRFK + rank) over the rankings it is in, rank from 1.
func (ix *index) fuse(k int, rankings ...[]result) []result {
	scores := map[uint32]float64{}
	for _, ranking := range rankings {
		for i, r := range ranking {
			scores[r.slot] += 1 / float64(vectors.RRFK+i+1)
		}
	}
	h := newTopK(ix, k)
	for slot, score := range scores {
		h.push(result{slot, score})
	}
	ix.sortResults(h.items)
	return h.items
}
