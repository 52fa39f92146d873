package embed

import (
	"fmt"
	"slices"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// BM25 defaults. k1 and b are the values Anserini uses for BEIR (and the
// ones that reproduce BEIR's SciFact BM25); short, focused chunks want a
// low k1 (term frequency saturates fast) and a mild length normalization.
// DefaultAvgDocLen is the length, in terms after stop-word removal, of a
// typical chunk of about 256 WordPiece tokens: roughly 150 words, of which
// a fifth are stop words. The store cannot know the average length of the
// chunks it will hold when a chunk is embedded, and chunks are near-uniform
// in length, so a fixed value only shifts every chunk's normalization
// alike; it matters little at b = 0.4.
const (
	DefaultK1        = 0.9
	DefaultB         = 0.4
	DefaultAvgDocLen = 120
)

// BM25 is the sparse model: the BM25 term-frequency part of each chunk,
// with the inverse document frequency left to the store (see
// vectors.Sparse). Terms are Tokens, minus stop words, Porter-stemmed, and
// identified by their 32-bit FNV-1a hash, so processes need no shared
// vocabulary. It is safe for concurrent use.
type BM25 struct {
	k1, b, avgDocLen float64

	// Fixed in v1; fields only so that the quality tests can measure the
	// alternatives.
	stop    map[string]struct{}
	stem    bool
	queryTF bool // query values are term counts instead of 1

	docs scratchPool // analyzers with their word caches (analysis.go)
}

// BM25Option configures a BM25.
type BM25Option func(*BM25)

// WithK1 sets BM25's k1 (term-frequency saturation), default DefaultK1.
func WithK1(k1 float64) BM25Option { return func(m *BM25) { m.k1 = k1 } }

// WithB sets BM25's b (length normalization, 0 to 1), default DefaultB.
func WithB(b float64) BM25Option { return func(m *BM25) { m.b = b } }

// WithAvgDocLen sets the average chunk length, in terms, that BM25
// normalizes lengths by; default DefaultAvgDocLen.
func WithAvgDocLen(n float64) BM25Option { return func(m *BM25) { m.avgDocLen = n } }

// NewBM25 returns the BM25 sparse model. Out-of-range options (k1 < 0, b
// outside [0, 1], avgdl <= 0) fall back to the defaults.
func NewBM25(opts ...BM25Option) *BM25 {
	m := &BM25{k1: DefaultK1, b: DefaultB, avgDocLen: DefaultAvgDocLen, stop: stopWords, stem: true}
	for _, o := range opts {
		o(m)
	}
	if !(m.k1 >= 0) {
		m.k1 = DefaultK1
	}
	if !(m.b >= 0 && m.b <= 1) {
		m.b = DefaultB
	}
	if !(m.avgDocLen > 0) {
		m.avgDocLen = DefaultAvgDocLen
	}
	return m
}

// Model names the analysis and parameters: chunks indexed under one name
// must be searched with queries of the same name.
func (m *BM25) Model() string {
	return fmt.Sprintf("bm25/v1/porter/k1=%g,b=%g,avgdl=%g", m.k1, m.b, m.avgDocLen)
}

// Document returns a chunk's vector: for each term, its saturated term
// frequency tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl)).
func (m *BM25) Document(text string) vectors.Sparse {
	s := m.scratchFor()
	defer m.docs.put(s)
	s.a.analyze(text)
	return m.document(s)
}

// Query returns a query's vector: 1 per distinct term, so a query's score
// is the sum over its terms of idf × the chunk's saturated tf.
func (m *BM25) Query(text string) vectors.Sparse {
	ids := m.termIDs(text)
	return runs(ids, func(tf int) float32 {
		if m.queryTF {
			return float32(tf)
		}
		return 1
	})
}

// termIDs returns the hashed terms of text, sorted, with repeats.
func (m *BM25) termIDs(text string) []uint32 {
	toks := Tokens(text)
	ids := make([]uint32, 0, len(toks))
	var p porter
	for _, t := range toks {
		if _, stop := m.stop[t]; stop {
			continue
		}
		if m.stem {
			if stem := p.run(t); stem != nil {
				ids = append(ids, fnv32(stem))
				continue
			}
		}
		ids = append(ids, fnv32(t))
	}
	slices.Sort(ids)
	return ids
}

// runs turns sorted ids with repeats into a sparse vector with one entry
// per distinct id, valued by value(count).
func runs(ids []uint32, value func(tf int) float32) vectors.Sparse {
	if len(ids) == 0 {
		return vectors.Sparse{}
	}
	n := 1
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1] {
			n++
		}
	}
	v := vectors.Sparse{Indices: make([]uint32, 0, n), Values: make([]float32, 0, n)}
	for i := 0; i < len(ids); {
		j := i + 1
		for j < len(ids) && ids[j] == ids[i] {
			j++
		}
		v.Indices = append(v.Indices, ids[i])
		v.Values = append(v.Values, value(j-i))
		i = j
	}
	return v
}

// TermID is the sparse index of an analyzed term: its 32-bit FNV-1a hash.
// Two distinct terms share an id with probability 2^-32, which at a
// vocabulary of a million terms merges about a hundred rare pairs: noise
// far below what stemming already merges.
func TermID(term string) uint32 { return fnv32(term) }

func fnv32[T string | []byte](s T) uint32 {
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	h := uint32(offset32)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= prime32
	}
	return h
}
