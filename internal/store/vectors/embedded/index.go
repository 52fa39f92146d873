package embedded

import (
	"math"
	"slices"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// The index is the store's whole state in memory, without locking or I/O:
// Store serializes changes and persists them before it applies them here.
//
// Every point lives in a slot. A slot's dense vector sits in a block of
// blockSize slots, next to its neighbours, so a scan reads memory in
// order; its payload, sparse vector and filter fields sit in per-slot
// arrays. Deleting a point frees its slot for the next insert, so slots
// stay dense without ever moving a live point.

// blockSize is the number of slots of a vector block. Blocks let the
// index grow without copying the vectors it holds, and are small enough
// to split a scan evenly between goroutines.
const blockSize = 4096

// block holds the dense vectors of blockSize consecutive slots, each
// L2-normalized and zero-padded to the index stride, twice: exactly, and
// quantized to int8 for a scan that reads a quarter of the memory.
type block struct {
	vecs   []float32 // blockSize*stride
	codes  []int8    // blockSize*stride; vecs ≈ scale*codes
	scales []float32 // per slot
	resid  []float32 // per slot: the L2 norm of vecs - scale*codes
}

// The filterable payload fields, in the order of index.fields.
const (
	fieldAuthor = iota
	fieldCategory
	fieldPlatform
	fieldDocument
	numFields
)

func fieldOf(p *vectors.Payload, field int) string {
	switch field {
	case fieldAuthor:
		return p.AuthorID
	case fieldCategory:
		return p.Category
	case fieldPlatform:
		return p.Platform
	default:
		return p.DocumentID
	}
}

func filterSet(f *vectors.Filter, field int) []string {
	switch field {
	case fieldAuthor:
		return f.AuthorIDs
	case fieldCategory:
		return f.Categories
	case fieldPlatform:
		return f.Platforms
	default:
		return f.DocumentIDs
	}
}

// fieldIndex indexes one payload field both ways: the value of each slot,
// for checking a candidate in O(1), and the slots of each value, so that a
// filter on one author among a million points visits only that author's.
// Values are interned as small codes.
type fieldIndex struct {
	codes map[string]uint32 // value → code, for values some live slot holds
	names []string          // code → value
	slots [][]uint32        // code → the live slots holding it, unordered
	free  []uint32          // codes of values no slot holds any more
	of    []uint32          // slot → code of its value
	pos   []uint32          // slot → its position in slots[of[slot]]
}

func (fx *fieldIndex) add(slot uint32, value string) {
	code, ok := fx.codes[value]
	if !ok {
		if n := len(fx.free); n > 0 {
			code = fx.free[n-1]
			fx.free = fx.free[:n-1]
			fx.names[code] = value
		} else {
			code = uint32(len(fx.names))
			fx.names = append(fx.names, value)
			fx.slots = append(fx.slots, nil)
		}
		fx.codes[value] = code
	}
	fx.of[slot] = code
	fx.pos[slot] = uint32(len(fx.slots[code]))
	fx.slots[code] = append(fx.slots[code], slot)
}

// remove takes slot out of its value's list by moving the list's last
// slot into its place.
func (fx *fieldIndex) remove(slot uint32) {
	code := fx.of[slot]
	list := fx.slots[code]
	i, last := fx.pos[slot], list[len(list)-1]
	list[i] = last
	fx.pos[last] = i
	fx.slots[code] = list[:len(list)-1]
	if len(fx.slots[code]) == 0 {
		delete(fx.codes, fx.names[code])
		fx.names[code] = ""
		fx.slots[code] = nil
		fx.free = append(fx.free, code)
	}
}

// posting is one point in a term's list. A posting whose gen differs from
// its slot's current gen belongs to a deleted point and is skipped: this
// lets a delete leave the lists of its terms alone until enough of them
// are dead to be worth compacting.
type posting struct {
	slot, gen uint32
	value     float32
}

type postingList struct {
	entries []posting
	live    int // document frequency: entries whose gen is current
}

// index is the in-memory state. Its zero value is not usable; see newIndex.
type index struct {
	dim, stride int

	byID     map[string]uint32
	ids      []string          // slot → point id; "" for a free slot
	payloads []vectors.Payload // without Extra
	extras   [][]byte          // the JSON of each payload's Extra, decoded only for hits
	sparse   []vectors.Sparse
	gens     []uint32 // bumped each time a slot is freed
	free     []uint32 // free slots, reused last-freed first
	blocks   []*block
	fields   [numFields]fieldIndex
	terms    map[uint32]*postingList
	live     int
}

func newIndex(dim int) *index {
	ix := &index{dim: dim, stride: strideOf(dim), byID: map[string]uint32{}, terms: map[uint32]*postingList{}}
	for f := range ix.fields {
		ix.fields[f].codes = map[string]uint32{}
	}
	return ix
}

// entry is a point prepared for the index, outside any lock: its dense
// vector normalized, padded and quantized, its Extra encoded.
type entry struct {
	point vectors.Point // Dense is the normalized vector, dim values; no Extra
	extra []byte        // the JSON of the point's Extra, nil for none
	vec   []float32     // stride values
	codes []int8        // stride values
	scale float32
	resid float32
}

// prepare builds the entry of p, whose Dense has the index dimension and
// is already normalized when normalized is set (as it is in the log).
func prepare(p vectors.Point, extra []byte, stride int, normalized bool) entry {
	return prepareInto(p, extra, stride, normalized, make([]float32, stride), make([]int8, stride))
}

// prepareInto is prepare with the entry's vector and codes in vec and
// codes, of stride values each.
func prepareInto(p vectors.Point, extra []byte, stride int, normalized bool, vec []float32, codes []int8) entry {
	p.Payload.Extra = nil
	e := entry{point: p, extra: extra, vec: vec, codes: codes}
	n := copy(e.vec, p.Dense)
	clear(e.vec[n:])
	if !normalized {
		var norm float64
		for _, x := range p.Dense {
			norm += float64(x) * float64(x)
		}
		if norm > 0 {
			inv := 1 / math.Sqrt(norm)
			for i, x := range p.Dense {
				e.vec[i] = float32(float64(x) * inv)
			}
		}
	}
	e.point.Dense = e.vec[:len(p.Dense)]
	e.scale, e.resid = quantize(e.vec, e.codes)
	return e
}

// quantize writes the symmetric int8 quantization of v into codes and
// returns its scale and the L2 norm of the rounding error. The error is
// measured from the codes chosen, so the bound it feeds holds however
// they were rounded.
func quantize(v []float32, codes []int8) (scale, resid float32) {
	// Points are checked for NaN before they get here, so a plain
	// comparison finds the largest magnitude, as max(m, x, -x) would.
	var m float32
	for _, x := range v {
		if a := float32(math.Abs(float64(x))); a > m {
			m = a
		}
	}
	if m == 0 {
		clear(codes)
		return 0, 0
	}
	scale, inv := m/127, 127/m
	codes = codes[:len(v)]
	s := float64(scale)
	// Rounding to even is one instruction, with no branch on the sign;
	// two sums of squares, so that each addition does not wait for the
	// one before.
	var r0, r1 float64
	i := 0
	for ; i+1 < len(v); i += 2 {
		x0, x1 := v[i], v[i+1]
		q0 := max(-127, min(127, math.RoundToEven(float64(x0*inv))))
		q1 := max(-127, min(127, math.RoundToEven(float64(x1*inv))))
		codes[i], codes[i+1] = int8(q0), int8(q1)
		d0, d1 := float64(x0)-s*q0, float64(x1)-s*q1
		r0 += d0 * d0
		r1 += d1 * d1
	}
	if i < len(v) {
		q := max(-127, min(127, math.RoundToEven(float64(v[i]*inv))))
		codes[i] = int8(q)
		d := float64(v[i]) - s*q
		r0 += d * d
	}
	return scale, float32(math.Sqrt(r0 + r1))
}

// slab holds the vectors and codes of a change's entries.
type slab struct {
	vecs  []float32
	codes []int8
}

// slabs keeps slabs between upserts, for the reason frameBuffers does.
var slabs freeList[*slab]

func newSlab(points, stride int) *slab {
	s, _ := slabs.get()
	if s == nil {
		s = &slab{}
	}
	n := points * stride
	if cap(s.vecs) < n {
		s.vecs, s.codes = make([]float32, n), make([]int8, n)
	}
	s.vecs, s.codes = s.vecs[:n], s.codes[:n]
	return s
}

func (s *slab) release() {
	if s != nil && cap(s.vecs) <= 16<<20 {
		slabs.put(s)
	}
}

// put inserts e, replacing the point with the same id.
func (ix *index) put(e *entry) {
	if slot, ok := ix.byID[e.point.ID]; ok {
		ix.remove(slot)
	}
	slot := ix.alloc()
	p := &e.point
	ix.byID[p.ID] = slot
	ix.ids[slot] = p.ID
	ix.payloads[slot] = p.Payload
	ix.extras[slot] = e.extra
	ix.sparse[slot] = p.Sparse
	b, off := ix.blocks[slot/blockSize], int(slot%blockSize)
	copy(b.vecs[off*ix.stride:(off+1)*ix.stride], e.vec)
	copy(b.codes[off*ix.stride:(off+1)*ix.stride], e.codes)
	b.scales[off], b.resid[off] = e.scale, e.resid
	for f := range ix.fields {
		ix.fields[f].add(slot, fieldOf(&p.Payload, f))
	}
	gen := ix.gens[slot]
	for i, t := range p.Sparse.Indices {
		pl := ix.terms[t]
		if pl == nil {
			pl = &postingList{}
			ix.terms[t] = pl
		}
		pl.entries = append(pl.entries, posting{slot, gen, p.Sparse.Values[i]})
		pl.live++
	}
	ix.live++
}

// alloc returns a free slot, growing the per-slot arrays when none is.
func (ix *index) alloc() uint32 {
	if n := len(ix.free); n > 0 {
		slot := ix.free[n-1]
		ix.free = ix.free[:n-1]
		return slot
	}
	slot := uint32(len(ix.ids))
	if int(slot)%blockSize == 0 {
		ix.blocks = append(ix.blocks, &block{
			vecs:   make([]float32, blockSize*ix.stride),
			codes:  make([]int8, blockSize*ix.stride),
			scales: make([]float32, blockSize),
			resid:  make([]float32, blockSize),
		})
	}
	ix.ids = append(ix.ids, "")
	ix.payloads = append(ix.payloads, vectors.Payload{})
	ix.extras = append(ix.extras, nil)
	ix.sparse = append(ix.sparse, vectors.Sparse{})
	ix.gens = append(ix.gens, 0)
	for f := range ix.fields {
		ix.fields[f].of = append(ix.fields[f].of, 0)
		ix.fields[f].pos = append(ix.fields[f].pos, 0)
	}
	return slot
}

// remove deletes the point in slot and frees the slot.
func (ix *index) remove(slot uint32) {
	// Bump the gen first: it is what marks the slot's postings dead.
	ix.gens[slot]++
	for _, t := range ix.sparse[slot].Indices {
		pl := ix.terms[t]
		pl.live--
		switch {
		case pl.live == 0:
			delete(ix.terms, t)
		case len(pl.entries) >= 2*pl.live+32:
			pl.entries = slices.DeleteFunc(pl.entries, func(p posting) bool { return p.gen != ix.gens[p.slot] })
		}
	}
	for f := range ix.fields {
		ix.fields[f].remove(slot)
	}
	delete(ix.byID, ix.ids[slot])
	ix.ids[slot] = ""
	ix.payloads[slot] = vectors.Payload{}
	ix.extras[slot] = nil
	ix.sparse[slot] = vectors.Sparse{}
	ix.free = append(ix.free, slot)
	ix.live--
}

// vector is the normalized dense vector of slot, dim values.
func (ix *index) vector(slot uint32) []float32 {
	b, off := ix.blocks[slot/blockSize], int(slot%blockSize)
	return b.vecs[off*ix.stride : off*ix.stride+ix.dim]
}

// point is the stored point of a live slot, without its Extra; it shares
// memory with the index and must not outlive the lock it was read under.
func (ix *index) point(slot uint32) vectors.Point {
	return vectors.Point{ID: ix.ids[slot], Dense: ix.vector(slot), Sparse: ix.sparse[slot], Payload: ix.payloads[slot]}
}

// documentSlots lists the slots of document id.
func (ix *index) documentSlots(id string) []uint32 {
	fx := &ix.fields[fieldDocument]
	code, ok := fx.codes[id]
	if !ok {
		return nil
	}
	return slices.Clone(fx.slots[code])
}

// matcher is a Filter resolved against the index: for each constrained
// field, the codes it accepts, as a list and as a table indexed by code,
// so that checking a slot costs one load per field.
type matcher struct {
	ix     *index
	fields []int      // the constrained fields
	codes  [][]uint32 // per entry of fields
	accept [][]bool   // per entry of fields
	none   bool       // some constrained field accepts no stored value
}

// matcher resolves f; it is nil when f constrains nothing.
func (ix *index) matcher(f vectors.Filter) *matcher {
	m := &matcher{ix: ix}
	for field := range numFields {
		values := filterSet(&f, field)
		if len(values) == 0 {
			continue
		}
		fx := &ix.fields[field]
		accept := make([]bool, len(fx.names))
		var codes []uint32
		for _, v := range values {
			if code, ok := fx.codes[v]; ok && !accept[code] {
				accept[code] = true
				codes = append(codes, code)
			}
		}
		m.none = m.none || len(codes) == 0
		m.fields = append(m.fields, field)
		m.codes = append(m.codes, codes)
		m.accept = append(m.accept, accept)
	}
	if len(m.fields) == 0 {
		return nil
	}
	return m
}

func (m *matcher) match(slot uint32) bool {
	for i, field := range m.fields {
		if !m.accept[i][m.ix.fields[field].of[slot]] {
			return false
		}
	}
	return true
}

// candidates returns the slots of the most selective constrained field
// (a superset of the matches, to be checked with match) and how many
// there are, without building the list when it would hold more than
// limit slots.
func (m *matcher) candidates(limit int) (slots []uint32, n int) {
	best, bestN := -1, math.MaxInt
	for i, field := range m.fields {
		n := 0
		for _, code := range m.codes[i] {
			n += len(m.ix.fields[field].slots[code])
		}
		if n < bestN {
			best, bestN = i, n
		}
	}
	if bestN > limit {
		return nil, bestN
	}
	slots = make([]uint32, 0, bestN)
	for _, code := range m.codes[best] {
		slots = append(slots, m.ix.fields[m.fields[best]].slots[code]...)
	}
	return slots, bestN
}

// count counts the live points matching m (all of them when m is nil).
func (ix *index) count(m *matcher) int {
	switch {
	case m == nil:
		return ix.live
	case m.none:
		return 0
	}
	slots, n := m.candidates(math.MaxInt)
	if len(m.fields) == 1 {
		return n
	}
	c := 0
	for _, s := range slots {
		if m.match(s) {
			c++
		}
	}
	return c
}
