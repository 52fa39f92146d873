package embed

import "math"

// The word-by-word definition of the hashed model's features. Embedding
// goes through the analyzer (analysis.go), which adds the same features in
// the same order from cached per-word data; this plain version is the
// reference the tests read the features from, unhashed when exact is set
// (variants_test.go).

// hashedScratch holds features' work.
type hashedScratch struct {
	toks     []string
	index    map[string]int // distinct word → its position in distinct
	distinct []word         // in order of first use
	seq      []int          // the text's non-stop words, as positions in distinct
	bigrams  map[uint64]int // bigram key → its position in bigramTF
	bigramK  []uint64
	bigramTF []int
	bigramW  []float64    // prior of each bigram
	families [3][]float64 // words, n-grams, bigrams
	stemmer  porter

	exact *[3]map[uint64]float64 // tests only: collect the features unhashed
}

type word struct {
	text string
	tf   int
	stem uint64 // hash of the word feature's key
}

func (s *hashedScratch) add(family int, h uint64, w float64) {
	if s.exact != nil {
		s.exact[family][h] += w
		return
	}
	addHashed(s.families[family], h, w)
}

func (h *Hashed) newScratch() *hashedScratch {
	s := &hashedScratch{index: map[string]int{}, bigrams: map[uint64]int{}}
	for i := range s.families {
		s.families[i] = make([]float64, h.dim)
	}
	return s
}

// features adds the features of text to s, word by word. They are added in text order,
// never in map order, so that the float sums, and so the vectors, are
// bit-for-bit reproducible.
func (h *Hashed) features(s *hashedScratch, text string) {
	cfg := &h.cfg
	clear(s.index)
	clear(s.bigrams)
	s.distinct, s.seq = s.distinct[:0], s.seq[:0]
	s.bigramK, s.bigramTF = s.bigramK[:0], s.bigramTF[:0]

	s.toks = appendTokens(s.toks[:0], text)
	for _, t := range s.toks {
		if _, stop := cfg.stopWords[t]; stop {
			continue
		}
		i, ok := s.index[t]
		if !ok {
			i = len(s.distinct)
			s.index[t] = i
			key := hashString(saltWord, t)
			if cfg.stemWords {
				if stem := s.stemmer.run(t); stem != nil {
					key = hashString(saltWord, stem)
				}
			}
			s.distinct = append(s.distinct, word{text: t, stem: key})
		}
		s.distinct[i].tf++
		s.seq = append(s.seq, i)
	}

	for _, w := range s.distinct {
		weight := h.tfWeight(w.tf)
		if cfg.prior != nil {
			weight *= cfg.prior(w.text)
		}
		s.add(0, w.stem, weight)
		h.addNGrams(s, w.text, weight)
	}
	if cfg.bigramW == 0 {
		return
	}
	for i := 1; i < len(s.seq); i++ {
		a, b := s.distinct[s.seq[i-1]].stem, s.distinct[s.seq[i]].stem
		key := mix(a^saltBigram) ^ b
		j, ok := s.bigrams[key]
		if !ok {
			j = len(s.bigramK)
			s.bigrams[key] = j
			s.bigramK = append(s.bigramK, key)
			s.bigramTF = append(s.bigramTF, 0)
		}
		s.bigramTF[j]++
	}
	for j, key := range s.bigramK {
		s.add(2, key, h.tfWeight(s.bigramTF[j]))
	}
}

// addNGrams adds the character n-grams of "<w>" (the angle brackets mark
// the word's start and end, as in fastText, so prefixes and suffixes are
// features of their own). N-grams are of bytes: in non-Latin scripts an
// n-gram may cut a character, which is harmless for hashing.
func (h *Hashed) addNGrams(s *hashedScratch, w string, weight float64) {
	n := len(w) + 2
	count := 0
	for size := h.cfg.minN; size <= h.cfg.maxN; size++ {
		if size <= n {
			count += n - size + 1
		}
	}
	if count == 0 {
		return
	}
	if h.cfg.normalizeWordNGrams {
		weight /= math.Sqrt(float64(count))
	}
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
				s.add(1, hsh, weight)
			}
		}
	}
}
