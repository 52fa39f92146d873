package embed

import (
	"context"
	"fmt"
	"math"
)

// DefaultDim is the hashed model's dimension when none is given. Hashing
// collisions cost quality at low dimensions (on SciFact, nDCG@10 of the
// dense side alone: 0.488 at 384, 0.538 at 768, 0.573 at 1024, against
// 0.620 with no hashing at all), so the default trades 4 KB a chunk for
// most of what hashing can give.
const DefaultDim = 1024

// Hashed is the embedded default dense model: no weights, deterministic,
// fast. A text's features are hashed with a random sign into Dim buckets
// (the "hashing trick"), so the cosine of two vectors approximates the
// cosine of their feature vectors. Features, version 1:
//
//   - words: the Porter stems of the non-stop tokens, weighted 1 + ln(tf)
//     times a general-English IDF prior of the word (rare words weigh more);
//   - character 3- to 5-grams of each word, bracketed as in fastText
//     ("<cel", "ells>"), with the word's weight spread over its n-grams, so
//     that "biomaterials" still meets "biomaterial" and "IL6" meets "IL-6";
//   - word bigrams of adjacent non-stop stems, weighted 1 + ln(tf).
//
// Each family is normalized and weighed (words 1, n-grams 1, bigrams 0.5)
// before the sum is normalized. It is a lexical model: it knows nothing of
// meaning, and it holds a subset of the evidence BM25 has (README.md has
// the measurements).
//
// It is safe for concurrent use.
type Hashed struct {
	dim  int
	cfg  hashedConfig
	docs scratchPool // analyzers with their word caches (analysis.go)
}

// hashedConfig holds the feature choices. They are fixed for a model
// version (Model() names the version); they are a struct only so that the
// quality tests can measure the alternatives.
type hashedConfig struct {
	version             string
	wordW, ngW, bigramW float64 // weight of each feature family
	minN, maxN          int     // character n-gram lengths
	stopWords           map[string]struct{}
	stemWords           bool                      // word and bigram features use Porter stems
	normalizeWordNGrams bool                      // a word's n-grams together weigh what the word does
	sublinear           bool                      // 1 + ln(tf) instead of tf
	prior               func(word string) float64 // word weight, an IDF proxy; nil: 1
}

func hashedV1() hashedConfig {
	return hashedConfig{
		version: "v1",
		wordW:   1, ngW: 1, bigramW: 0.5,
		minN: 3, maxN: 5,
		stopWords:           stopWords,
		stemWords:           true,
		normalizeWordNGrams: true,
		sublinear:           true,
		prior:               wordPrior,
	}
}

// HashedOption configures a Hashed. There are none yet: the features are
// fixed per version so that vectors made by two processes always agree.
type HashedOption func(*Hashed)

// NewHashed returns the hashed-features model with dim dimensions
// (DefaultDim when dim <= 0).
func NewHashed(dim int, opts ...HashedOption) *Hashed {
	if dim <= 0 {
		dim = DefaultDim
	}
	h := &Hashed{dim: dim, cfg: hashedV1()}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Dim is the vectors' dimension.
func (h *Hashed) Dim() int { return h.dim }

// Model names the feature version and the dimension.
func (h *Hashed) Model() string {
	return fmt.Sprintf("hashed-ngrams/%s/dim%d", h.cfg.version, h.dim)
}

// Embed embeds each text; it fails only on a cancelled context. A text
// without words gives the zero vector (its cosine with anything is 0).
func (h *Hashed) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("hashed embed: %w", err)
			}
		}
		out[i] = h.embed(t)
	}
	return out, nil
}

// Feature family salts, so that a word and a bigram or n-gram with the same
// bytes land in unrelated buckets.
const (
	saltWord   = 0x9e3779b97f4a7c15
	saltBigram = 0xc2b2ae3d27d4eb4f
	saltNGram  = 0x165667b19e3779f9
)

func (h *Hashed) embed(text string) []float32 {
	s := h.scratchFor()
	defer h.docs.put(s)
	s.a.analyze(text)
	return h.vector(s)
}

func (h *Hashed) tfWeight(tf int) float64 {
	if h.cfg.sublinear {
		return 1 + math.Log(float64(tf))
	}
	return float64(tf)
}

const (
	offset64 = 14695981039346656037
	prime64  = 1099511628211
)

// hashString is FNV-1a 64 of s, started from seed.
func hashString[T string | []byte](seed uint64, s T) uint64 {
	h := seed ^ offset64
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * prime64
	}
	return h
}

// mix is the SplitMix64 finalizer: FNV's low bits mix poorly, and the
// bucket and sign must look independent.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// addHashed adds ±weight to the bucket of feature hash h: the mixed hash's
// top bit is the sign and its low 32 bits pick the bucket (by
// multiply-shift, which is uniform like a modulo but without a division).
func addHashed(vec []float64, h uint64, weight float64) {
	h = mix(h)
	if h>>63 == 1 {
		weight = -weight
	}
	vec[(h&0xffffffff)*uint64(len(vec))>>32] += weight
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// normalize scales v to unit length in place (a zero vector stays zero).
func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
}
