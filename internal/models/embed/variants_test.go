package embed

import (
	"math"
	"os"
	"testing"

	"github.com/twin-llm/twin/internal/models/embed/scifacttest"
)

// TestSciFactVariants measures the alternatives behind the hashed model's
// choices (README.md has the table). It takes minutes, so it runs only with
// TWIN_EMBED_VARIANTS=1.
func TestSciFactVariants(t *testing.T) {
	if os.Getenv("TWIN_EMBED_VARIANTS") == "" {
		t.Skip("set TWIN_EMBED_VARIANTS=1 to measure the model variants on SciFact")
	}
	d := scifacttest.Load(t)
	// oracle is SciFact's own IDF: what no chunk-at-a-time model can know,
	// measured only to show what the prior costs.
	df := map[string]int{}
	for _, doc := range d.Docs {
		seen := map[string]bool{}
		for _, w := range Tokens(doc) {
			if !seen[w] {
				seen[w] = true
				df[w]++
			}
		}
	}
	n := float64(len(d.Docs))
	oracle := func(w string) float64 {
		nt := float64(df[w])
		return math.Sqrt(math.Log(1 + (n-nt+0.5)/(nt+0.5)))
	}
	v1 := func(f func(c *hashedConfig)) func(c *hashedConfig) { return f }
	for _, v := range []struct {
		name string
		dim  int // 0: exact (unhashed) features
		cfg  func(*hashedConfig)
	}{
		{"v1 384", 384, v1(func(c *hashedConfig) {})},
		{"v1 768", 768, v1(func(c *hashedConfig) {})},
		{"v1 1024", 1024, v1(func(c *hashedConfig) {})},
		{"v1 unhashed", 0, v1(func(c *hashedConfig) {})},
		{"v1 no prior 1024", 1024, v1(func(c *hashedConfig) { c.prior = nil })},
		{"v1 words only 1024", 1024, v1(func(c *hashedConfig) { c.ngW, c.bigramW = 0, 0 })},
		{"v1 no stems 1024", 1024, v1(func(c *hashedConfig) { c.stemWords = false })},
		{"v1 SciFact IDF unhashed", 0, v1(func(c *hashedConfig) { c.prior = oracle })},
	} {
		h := NewHashed(v.dim)
		v.cfg(&h.cfg)
		var q quality
		if v.dim == 0 {
			q = evaluateRanker(t, d, exactRanker(d, h), NewBM25())
		} else {
			q = evaluate(t, d, h, NewBM25())
		}
		t.Logf("%-26s dense %v | hybrid %v", v.name, q.dense, q.hybrid)
	}
}

// exactRanker ranks by the cosine of h's features before hashing: the
// ceiling that more dimensions approach.
func exactRanker(d *scifacttest.Set, h *Hashed) ranker {
	vec := func(text string) map[uint64]float64 {
		s := h.newScratch()
		s.exact = &[3]map[uint64]float64{{}, {}, {}}
		h.features(s, text)
		out := map[uint64]float64{}
		ws := [3]float64{h.cfg.wordW, h.cfg.ngW, h.cfg.bigramW}
		for f, m := range s.exact {
			var n float64
			for _, x := range m {
				n += x * x
			}
			if n == 0 || ws[f] == 0 {
				continue
			}
			for k, x := range m {
				out[k^uint64(f)<<60] += x * ws[f] / math.Sqrt(n)
			}
		}
		var n float64
		for _, x := range out {
			n += x * x
		}
		for k := range out {
			out[k] /= math.Sqrt(n)
		}
		return out
	}
	type post struct {
		doc int
		w   float64
	}
	ix := map[uint64][]post{}
	for i, doc := range d.Docs {
		for k, x := range vec(doc) {
			ix[k] = append(ix[k], post{i, x})
		}
	}
	return func(q string, scores []float64) []int {
		clear(scores)
		var hits []int
		seen := make([]bool, len(scores))
		for k, x := range vec(q) {
			for _, p := range ix[k] {
				if !seen[p.doc] {
					seen[p.doc] = true
					hits = append(hits, p.doc)
				}
				scores[p.doc] += x * p.w
			}
		}
		return scifacttest.TopK(hits, scores, 400)
	}
}
