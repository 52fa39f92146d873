package embed

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// The embedded models' shared analysis of a text.
//
// The hashed model and BM25 both start from Tokens, drop the same stop words
// and stem with the same Porter stemmer; the hashed model then hashes each
// word, its character n-grams and its bigrams into buckets. Per token, that
// was most of the embedder's work, done twice, and mostly for words it had
// seen thousands of times. An analyzer does it once per text for both models
// and remembers, per distinct word, everything that does not depend on the
// text (stop word or not, term id, feature buckets and signs, prior), so a
// word costs one map lookup after its first time.
//
// The vectors are bit for bit those of the word-by-word definitions (features
// and termIDs): the same features are added in the same order
// (TestModelsKeepTheirV1Outputs).

// wordInfo is what the models need of one distinct token.
type wordInfo struct {
	stop bool
	term uint32 // BM25 term id: fnv32 of the stem, or of the word

	// The hashed model's features of the word, for its dim (set only when
	// the analyzer serves a hashed model).
	prior     float64  // the word's prior weight; 1 without a prior
	slot      uint32   // bucket<<1 | sign of the word feature (its stem's hash)
	key       uint64   // the word feature's hash, for bigrams
	ngrams    []uint32 // bucket<<1 | sign of each character n-gram, in addNGrams order
	ngramNorm float64  // math.Sqrt of the number of n-grams

	// The word in the text being analyzed: valid while gen is the
	// analyzer's.
	gen uint32
	tf  int32
	pos int32 // position in distinct
}

// maxCachedWords bounds an analyzer's memory of words, about 200 bytes
// each: past it, the cache starts over (a vocabulary that large is mostly
// one-off tokens).
const maxCachedWords = 1 << 16

// analyzer cuts texts into words for the models. It is not safe for
// concurrent use: each goroutine takes its own from a scratchPool.
type analyzer struct {
	stop  map[string]struct{}
	stem  bool
	h     *Hashed // nil: no hashed-model features
	cache map[string]*wordInfo
	gen   uint32

	stemmer  porter
	lower    []byte   // the text's tokens, lowered, at spans
	spans    []int32  // start and end of each token in lower
	toks     []string // a non-ASCII text's tokens, before they are copied to lower
	distinct []*wordInfo
	seq      []int32 // each non-stop token, as its position in distinct
}

func newAnalyzer(stop map[string]struct{}, stem bool, h *Hashed) *analyzer {
	return &analyzer{stop: stop, stem: stem, h: h, cache: map[string]*wordInfo{}}
}

// analyze reads text: distinct holds its non-stop words in order of first
// use, with their counts, and seq the sequence of its non-stop tokens.
func (a *analyzer) analyze(text string) {
	if len(a.cache) > maxCachedWords {
		clear(a.cache)
	}
	a.gen++
	if a.gen == 0 { // wrapped: no word may look current
		for _, w := range a.cache {
			w.gen = 0
		}
		a.gen = 1
	}
	a.distinct, a.seq = a.distinct[:0], a.seq[:0]
	a.tokenize(text)
	for i := 0; i < len(a.spans); i += 2 {
		tok := a.lower[a.spans[i]:a.spans[i+1]]
		w, ok := a.cache[string(tok)]
		if !ok {
			w = a.learn(string(tok))
		}
		if w.stop {
			continue
		}
		if w.gen != a.gen {
			w.gen, w.tf, w.pos = a.gen, 0, int32(len(a.distinct))
			a.distinct = append(a.distinct, w)
		}
		w.tf++
		a.seq = append(a.seq, w.pos)
	}
}

// Byte classes of the ASCII tokenizer.
const (
	classSep = iota
	classWord
	classUpper
	classOther // not ASCII: the general tokenizer decides
)

var asciiClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = classOther
		case c >= 'A' && c <= 'Z':
			t[c] = classUpper
		case isASCIIWord(byte(c)):
			t[c] = classWord
		}
	}
	return t
}()

// tokenize fills lower and spans with the tokens of text, exactly as Tokens
// cuts them: an ASCII text in one pass, lowering as it goes; others through
// Tokens itself.
func (a *analyzer) tokenize(text string) {
	a.spans = a.spans[:0]
	lower := slices.Grow(a.lower[:0], len(text))[:len(text)]
	start := -1
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch asciiClass[c] {
		case classSep:
			lower[i] = c
			if start >= 0 {
				a.span(start, i)
				start = -1
			}
		case classWord:
			lower[i] = c
			if start < 0 {
				start = i
			}
		case classUpper:
			lower[i] = c + 'a' - 'A'
			if start < 0 {
				start = i
			}
		default:
			a.tokenizeGeneral(text)
			return
		}
	}
	if start >= 0 {
		a.span(start, len(text))
	}
	a.lower = lower
}

func (a *analyzer) span(start, end int) {
	if end-start <= maxTokenBytes {
		a.spans = append(a.spans, int32(start), int32(end))
	}
}

func (a *analyzer) tokenizeGeneral(text string) {
	a.spans = a.spans[:0]
	a.toks = appendTokens(a.toks[:0], text)
	lower := a.lower[:0]
	for _, t := range a.toks {
		a.spans = append(a.spans, int32(len(lower)), int32(len(lower)+len(t)))
		lower = append(lower, t...)
	}
	clear(a.toks) // keep no reference into text
	a.lower = lower
}

// learn computes and caches what the models need of word.
func (a *analyzer) learn(word string) *wordInfo {
	w := &wordInfo{prior: 1}
	a.cache[word] = w
	if _, w.stop = a.stop[word]; w.stop {
		return w
	}
	var stem []byte
	if a.stem {
		stem = a.stemmer.run(word)
	}
	if stem != nil {
		w.term, w.key = fnv32(stem), hashString(saltWord, stem)
	} else {
		w.term, w.key = fnv32(word), hashString(saltWord, word)
	}
	if h := a.h; h != nil {
		if h.cfg.prior != nil {
			w.prior = h.cfg.prior(word)
		}
		w.slot = slotOf(w.key, h.dim)
		w.ngrams, w.ngramNorm = h.ngramSlots(word)
	}
	return w
}

// logTable holds 1 + ln(tf) for small tf, exactly as tfWeight computes it.
var logTable = func() (t [64]float64) {
	for tf := 1; tf < len(t); tf++ {
		t[tf] = 1 + math.Log(float64(tf))
	}
	return t
}()

// tfWeightFast is tfWeight, from the table when it can.
func (h *Hashed) tfWeightFast(tf int32) float64 {
	if h.cfg.sublinear && tf > 0 && int(tf) < len(logTable) {
		return logTable[tf]
	}
	return h.tfWeight(int(tf))
}

// slotOf is addHashed's bucket and sign of feature hash h, as bucket<<1 |
// sign.
func slotOf(h uint64, dim int) uint32 {
	h = mix(h)
	return uint32((h&0xffffffff)*uint64(dim)>>32)<<1 | uint32(h>>63)
}

// addSlot adds ±weight at a slot, as addHashed does at the hash's bucket.
func addSlot(vec []float64, slot uint32, weight float64) {
	if slot&1 != 0 {
		weight = -weight
	}
	vec[slot>>1] += weight
}

// ngramSlots lists the slots of the character n-grams addNGrams adds for w,
// in its order, and the square root of their number.
func (h *Hashed) ngramSlots(w string) ([]uint32, float64) {
	n := len(w) + 2
	count := 0
	for size := h.cfg.minN; size <= h.cfg.maxN; size++ {
		if size <= n {
			count += n - size + 1
		}
	}
	if count == 0 {
		return nil, 0
	}
	slots := make([]uint32, 0, count)
	at := func(i int) byte {
		switch i {
		case 0:
			return '<'
		case n - 1:
			return '>'
		}
		return w[i-1]
	}
	for start := 0; start < n; start++ {
		hsh := uint64(saltNGram ^ offset64)
		for end := start; end < n && end-start < h.cfg.maxN; end++ {
			hsh = (hsh ^ uint64(at(end))) * prime64
			if end-start+1 >= h.cfg.minN {
				slots = append(slots, slotOf(hsh, h.dim))
			}
		}
	}
	return slots, math.Sqrt(float64(count))
}

// docScratch is what embedding one text needs besides the analyzer.
type docScratch struct {
	a        *analyzer
	families [3][]float64 // words, n-grams, bigrams; nil without a hashed model
	bigrams  []int32      // open addressing by key: position+1 in bigramK, 0 empty
	bigramK  []uint64
	bigramTF []int32
	terms    []uint64 // BM25: term<<32 | count
}

// maxFreeScratches bounds the scratches a pool keeps: about one per
// goroutine that embeds at once.
const maxFreeScratches = 16

// scratchPool keeps docScratches between calls. Unlike a sync.Pool it does
// not drop them at every garbage collection, which would throw their
// word caches away several times a second under load.
type scratchPool struct {
	mu   sync.Mutex // guards free
	free []*docScratch
}

func (p *scratchPool) get(fits func(*docScratch) bool, make func() *docScratch) *docScratch {
	p.mu.Lock()
	for len(p.free) > 0 {
		s := p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		if fits(s) {
			p.mu.Unlock()
			return s
		}
	}
	p.mu.Unlock()
	return make()
}

func (p *scratchPool) put(s *docScratch) {
	p.mu.Lock()
	if len(p.free) < maxFreeScratches {
		p.free = append(p.free, s)
	}
	p.mu.Unlock()
}

func sameSet(a, b map[string]struct{}) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// scratch takes a scratch for h's configuration.
func (h *Hashed) scratchFor() *docScratch {
	return h.docs.get(func(s *docScratch) bool {
		return s.a.h == h && sameSet(s.a.stop, h.cfg.stopWords) && s.a.stem == h.cfg.stemWords
	}, func() *docScratch {
		s := &docScratch{a: newAnalyzer(h.cfg.stopWords, h.cfg.stemWords, h)}
		for i := range s.families {
			s.families[i] = make([]float64, h.dim)
		}
		return s
	})
}

// scratchFor takes a scratch for m's configuration.
func (m *BM25) scratchFor() *docScratch {
	return m.docs.get(func(s *docScratch) bool {
		return sameSet(s.a.stop, m.stop) && s.a.stem == m.stem
	}, func() *docScratch {
		return &docScratch{a: newAnalyzer(m.stop, m.stem, nil)}
	})
}

// vector is the hashed model's vector of the analyzed text: features as
// features adds them, combined as embed does.
func (h *Hashed) vector(s *docScratch) []float32 {
	cfg := &h.cfg
	for i := range s.families {
		clear(s.families[i])
	}
	words, ngrams := s.families[0], s.families[1]
	for _, w := range s.a.distinct {
		weight := h.tfWeightFast(w.tf)
		if cfg.prior != nil {
			weight *= w.prior
		}
		addSlot(words, w.slot, weight)
		if len(w.ngrams) == 0 {
			continue
		}
		if cfg.normalizeWordNGrams {
			weight /= w.ngramNorm
		}
		for _, sl := range w.ngrams {
			addSlot(ngrams, sl, weight)
		}
	}
	if cfg.bigramW != 0 {
		h.addBigrams(s)
	}

	return combine(s.families, [3]float64{cfg.wordW, cfg.ngW, cfg.bigramW}, h.dim)
}

// combine is embed's sum of the normalized, weighed families, normalized:
// the same float operations in the same order, in fewer passes.
func combine(families [3][]float64, weights [3]float64, dim int) []float32 {
	// Three scalars, not an array: the array lived in memory, and every
	// addition waited for the store of the one before.
	var sqA, sqB, sqC float64
	a, b, c := families[0][:dim], families[1][:dim], families[2][:dim]
	for i := range a {
		sqA += a[i] * a[i]
		sqB += b[i] * b[i]
		sqC += c[i] * c[i]
	}
	sq := [3]float64{sqA, sqB, sqC}
	var scale [3]float64
	var on [3]bool
	for f := range sq {
		n := math.Sqrt(sq[f])
		if n != 0 && weights[f] != 0 {
			scale[f], on[f] = weights[f]/n, true
		}
	}
	out := make([]float32, dim)
	var ss float64
	if on[0] && on[1] && on[2] {
		s0, s1, s2 := scale[0], scale[1], scale[2]
		for i := range out {
			var x float32 // from +0, as the family-by-family sum starts
			x += float32(a[i] * s0)
			x += float32(b[i] * s1)
			x += float32(c[i] * s2)
			out[i] = x
			ss += float64(x) * float64(x)
		}
	} else {
		for f, vec := range families {
			if !on[f] {
				continue
			}
			for i, x := range vec[:dim] {
				out[i] += float32(x * scale[f])
			}
		}
		for _, x := range out {
			ss += float64(x) * float64(x)
		}
	}
	// normalize, with the sum of squares taken above in the same order.
	if ss == 0 {
		return out
	}
	inv := 1 / math.Sqrt(ss)
	for i := range out {
		out[i] = float32(float64(out[i]) * inv)
	}
	return out
}

// addBigrams adds the bigrams of adjacent non-stop words, counted in a
// small open-addressing table, in order of first use.
func (h *Hashed) addBigrams(s *docScratch) {
	seq, distinct := s.a.seq, s.a.distinct
	size := 16
	for size < 2*len(seq) {
		size *= 2
	}
	if cap(s.bigrams) < size {
		s.bigrams = make([]int32, size)
	}
	table := s.bigrams[:size]
	clear(table)
	s.bigramK, s.bigramTF = s.bigramK[:0], s.bigramTF[:0]
	mask := uint64(size - 1)
	for i := 1; i < len(seq); i++ {
		a, b := distinct[seq[i-1]].key, distinct[seq[i]].key
		key := mix(a^saltBigram) ^ b
		for j := key & mask; ; j = (j + 1) & mask {
			if p := table[j]; p == 0 {
				table[j] = int32(len(s.bigramK)) + 1
				s.bigramK = append(s.bigramK, key)
				s.bigramTF = append(s.bigramTF, 1)
				break
			} else if s.bigramK[p-1] == key {
				s.bigramTF[p-1]++
				break
			}
		}
	}
	vec := s.families[2]
	for j, key := range s.bigramK {
		addHashed(vec, key, h.tfWeightFast(s.bigramTF[j]))
	}
}

// document is BM25's vector of the analyzed text, as Document defines it.
func (m *BM25) document(s *docScratch) vectors.Sparse {
	dl := len(s.a.seq) // the non-stop tokens: termIDs' length
	if dl == 0 {
		return vectors.Sparse{}
	}
	// Each distinct word as term<<32 | count, sorted by term.
	terms := s.terms[:0]
	for _, w := range s.a.distinct {
		terms = append(terms, uint64(w.term)<<32|uint64(w.tf))
	}
	slices.Sort(terms)
	// Two words with one stem (or one hash) are one term.
	n := 0
	for _, t := range terms {
		if n > 0 && terms[n-1]>>32 == t>>32 {
			terms[n-1] += t & 0xffffffff
			continue
		}
		terms[n] = t
		n++
	}
	terms = terms[:n]
	s.terms = terms
	norm := m.k1 * (1 - m.b + m.b*float64(dl)/m.avgDocLen)
	v := vectors.Sparse{Indices: make([]uint32, n), Values: make([]float32, n)}
	for i, t := range terms {
		f := float64(t & 0xffffffff)
		v.Indices[i] = uint32(t >> 32)
		v.Values[i] = float32(f * (m.k1 + 1) / (f + norm))
	}
	return v
}

// Documents embeds texts with both models, as dense.Embed and
// sparse.Document would one by one. When dense is the hashed model and
// sparse BM25 with its stop words and stemming, each text is analyzed once
// for both.
func Documents(ctx context.Context, dense Dense, sparse Sparse, texts []string) ([][]float32, []vectors.Sparse, error) {
	h, isHashed := dense.(*Hashed)
	m, isBM25 := sparse.(*BM25)
	if !isHashed || !isBM25 || !sameSet(h.cfg.stopWords, m.stop) || h.cfg.stemWords != m.stem {
		vs, err := dense.Embed(ctx, texts)
		if err != nil {
			return nil, nil, err
		}
		if len(vs) != len(texts) {
			return nil, nil, fmt.Errorf("embed: %d vectors for %d texts", len(vs), len(texts))
		}
		sp := make([]vectors.Sparse, len(texts))
		for i, t := range texts {
			sp[i] = sparse.Document(t)
		}
		return vs, sp, nil
	}
	dv := make([][]float32, len(texts))
	sv := make([]vectors.Sparse, len(texts))
	s := h.scratchFor()
	defer h.docs.put(s)
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, fmt.Errorf("hashed embed: %w", err)
			}
		}
		s.a.analyze(t)
		dv[i] = h.vector(s)
		sv[i] = m.document(s)
	}
	return dv, sv, nil
}
