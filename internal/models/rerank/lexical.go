package rerank

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/models/tokenizer"
)

// Lexical is the embedded reranker: it scores each (query, passage) pair
// from the words they share, with no model and no network, the same way
// every time. It is safe for concurrent use.
//
// A passage's score, in [0, 1], blends a lexical score with the passage's
// position in the input, which Lexical takes to be the retrieval order,
// best first (that is how the rag worker passes its candidates):
//
//	score = (1 − ρ)·lexical + ρ·k/(k + position),  k = 10
//
// The lexical score, also in [0, 1], is a weighted sum of three parts:
//
//   - BM25 of the query terms in the passage, divided by its maximum (a
//     passage that saturates every query term). A term's IDF is computed
//     over the candidates of the call, as if they sat among 50 more
//     passages that hold none of the query terms, and multiplied by a fixed
//     general-English prior: the rarity of the word in BERT's vocabulary,
//     ordered by frequency in its training text. The candidates alone are
//     a biased sample (retrieval picked them for containing the query's
//     words), so a term that is rare in the collection can be common among
//     them; the prior restores the order of "cells" and "biomaterials".
//   - coverage: the fraction of the distinct query terms the passage
//     contains, so that a passage that matches the whole question beats one
//     that repeats a single rare word.
//   - proximity: the IDF-weighted fraction of the query terms found together
//     in the best window of 16 content words, and of the query's word pairs
//     found side by side in the same order, so that a passage where the
//     question's words form one statement beats one that scatters them.
//
// Why the position counts: on BEIR SciFact (README.md) the lexical score
// alone ranks the BM25 top 50 below BM25's own order, because BM25 saw the
// whole collection's IDF and the reranker only the candidates'; blended
// with the position it ranks them better than either. WithRankPrior(0)
// gives the lexical score alone, for candidates in no meaningful order.
//
// Text is analyzed as the BM25 sparse model analyzes it (embed.Tokens,
// Porter stems via embed.Stem), with a stop list that also drops the words
// of a question ("what", "how", "does").
type Lexical struct {
	p     lexicalParams
	vocab *tokenizer.Tokenizer // word frequency ranks for the IDF prior
	stop  *stopSet
}

// lexicalParams are the scorer's constants. They are fixed in v1, apart
// from the rank prior's weight; they are fields so that the SciFact test
// can measure the alternatives.
type lexicalParams struct {
	k1, b, avgDocLen float64
	// priorDocs is the number of background passages, holding no query
	// term, added to the candidates when counting document frequencies.
	priorDocs float64
	// vocabPrior is the exponent of the general-English prior in the IDF;
	// 0 turns it off.
	vocabPrior float64
	// The weights of BM25, coverage and proximity in the lexical score.
	wBM25, wCover, wProx float64
	// window is the span of the proximity window, in content words;
	// pairGap is the largest distance at which an ordered query pair
	// counts as a phrase (1: adjacent content words).
	window, pairGap int
	// pairShare is the part of proximity given to ordered pairs, the rest
	// to the window.
	pairShare float64
	// rankWeight is ρ, rankScale k.
	rankWeight, rankScale float64
}

// defaultLexical holds the constants measured on SciFact's training claims
// (README.md).
func defaultLexical() lexicalParams {
	return lexicalParams{
		k1: 1.2, b: 0.4, avgDocLen: embed.DefaultAvgDocLen,
		priorDocs: 50, vocabPrior: 1,
		wBM25: 0.55, wCover: 0.05, wProx: 0.4,
		window: 16, pairGap: 1, pairShare: 0.5,
		rankWeight: DefaultRankPrior, rankScale: 10,
	}
}

// DefaultRankPrior is the default weight of the input position in
// Lexical's score.
const DefaultRankPrior = 0.25

// LexicalOption configures a Lexical.
type LexicalOption func(*lexicalParams)

// WithRankPrior sets ρ, the weight in [0, 1] of the input position in the
// score; default DefaultRankPrior. 0 scores by the text alone, for callers
// whose candidates come in no meaningful order. A weight outside [0, 1]
// falls back to the default.
func WithRankPrior(weight float64) LexicalOption {
	return func(p *lexicalParams) { p.rankWeight = weight }
}

// NewLexical returns the lexical reranker.
func NewLexical(opts ...LexicalOption) *Lexical {
	p := defaultLexical()
	for _, o := range opts {
		o(&p)
	}
	if !(p.rankWeight >= 0 && p.rankWeight <= 1) {
		p.rankWeight = DefaultRankPrior
	}
	return newLexical(p)
}

func newLexical(p lexicalParams) *Lexical {
	// The vocabulary is embedded in the binary, and internal/tokenizer's
	// tests prove it reads; should it not, the IDF goes without its prior
	// rather than the reranker without a constructor that cannot fail.
	l := &Lexical{p: p, stop: newStopSet(stopWordList())}
	if vocab, err := tokenizer.New(); err == nil {
		l.vocab = vocab
	}
	return l
}

// Name identifies the scorer, its version and its rank prior.
func (l *Lexical) Name() string {
	return "lexical/v1/rank=" + strconv.FormatFloat(l.p.rankWeight, 'g', -1, 64)
}

// Score returns each text's score in [0, 1], in the order of texts, which
// it takes to be the retrieval order, best first. A query with no content
// words scores by position alone. It fails only when ctx is done.
func (l *Lexical) Score(ctx context.Context, query string, texts []string) ([]float64, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("rerank: lexical: %w", err)
	}
	p := l.p
	scores := make([]float64, len(texts))
	q := analyzeQuery(query, l.stop)
	if len(q.terms) > 0 && len(texts) > 0 {
		if err := l.lexical(ctx, q, texts, scores); err != nil {
			return nil, err
		}
	}
	for i := range scores {
		prior := p.rankScale / (p.rankScale + float64(i))
		scores[i] = min(1, max(0, (1-p.rankWeight)*scores[i]+p.rankWeight*prior))
	}
	return scores, nil
}

// lexical sets scores[i] to the lexical score of texts[i].
func (l *Lexical) lexical(ctx context.Context, q query, texts []string, scores []float64) error {
	p := l.p
	m := newMatcher(q, l.stop)
	docs := make([]passage, len(texts))
	df := make([]float64, len(q.terms))
	for i, text := range texts {
		// A call is bounded by its largest passage; a caller that gave up
		// should not wait for the rest.
		if i%16 == 15 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("rerank: lexical: %w", err)
			}
		}
		docs[i] = m.scan(text)
		for t, n := range docs[i].tf {
			if n > 0 {
				df[t]++
			}
		}
	}

	n := float64(len(texts)) + p.priorDocs
	idf := make([]float64, len(q.terms))
	var idfSum float64
	for t := range idf {
		idf[t] = math.Log(1 + (n-df[t]+0.5)/(df[t]+0.5))
		if p.vocabPrior > 0 && l.vocab != nil {
			idf[t] *= math.Pow(l.rarity(q.words[t]), p.vocabPrior)
		}
		idfSum += idf[t]
	}
	if !(idfSum > 0) {
		return nil
	}
	pairIDF := make([]float64, len(q.pairs))
	var pairSum float64
	for i, pr := range q.pairs {
		pairIDF[i] = min(idf[pr[0]], idf[pr[1]])
		pairSum += pairIDF[i]
	}
	wSum := p.wBM25 + p.wCover + p.wProx
	w := newWindow(len(q.terms))
	for i := range docs {
		d := &docs[i]
		if d.matched == 0 {
			continue
		}
		norm := p.k1 * (1 - p.b + p.b*float64(d.length)/p.avgDocLen)
		var bm25 float64
		for t, tf := range d.tf {
			if tf > 0 {
				f := float64(tf)
				bm25 += idf[t] * f / (f + norm) // × (k1+1) cancels with the maximum
			}
		}
		cover := float64(d.matched) / float64(len(q.terms))
		prox := w.best(d.hits, idf, p.window) / idfSum
		if pairSum > 0 {
			prox = (1-p.pairShare)*prox + p.pairShare*orderedPairs(d.hits, q, pairIDF, p.pairGap)/pairSum
		}
		scores[i] = (p.wBM25*bm25/idfSum + p.wCover*cover + p.wProx*prox) / wSum
	}
	return nil
}

// rarity is the general-English IDF of word: −ln(1 − e^(−20/r)), the
// chance that a word of frequency rank r (Zipf: probability 0.1/r) is
// missing from a passage of about 200 words, as embed's hashed model
// estimates it. The rank is the word's position in the BERT vocabulary,
// whose entries after the single characters (from id 1996, "the") follow
// their frequency in Wikipedia and books; a word the vocabulary splits
// into pieces counts as rarer than its rarest entry.
func (l *Lexical) rarity(word string) float64 {
	const (
		firstWord  = 1996 // "the"
		occurrence = 20.0
	)
	rank := 2.0 * float64(l.vocab.Vocab())
	var pieces, id int
	for tok := range l.vocab.Tokens(word) {
		pieces++
		id = tok.ID
	}
	if pieces == 1 && id >= firstWord {
		rank = float64(id - firstWord + 1)
	}
	return -math.Log(-math.Expm1(-occurrence / rank))
}

// query is an analyzed query: its distinct terms (stems) with the first
// word each came from, and the pairs of terms that follow each other in it,
// as indices into terms.
type query struct {
	terms []string
	words []string
	pairs [][2]int
	// after[t] lists the pairs whose second term is t.
	after [][]int
}

func analyzeQuery(text string, stop *stopSet) query {
	var q query
	index := map[string]int{}
	seen := map[[2]int]bool{}
	prev := -1
	for _, tok := range embed.Tokens(text) {
		if stop.hasString(tok) {
			continue
		}
		stem := embed.Stem(tok)
		t, ok := index[stem]
		if !ok {
			t = len(q.terms)
			index[stem] = t
			q.terms = append(q.terms, stem)
			q.words = append(q.words, tok)
		}
		if pr := [2]int{prev, t}; prev >= 0 && prev != t && !seen[pr] {
			seen[pr] = true
			q.pairs = append(q.pairs, pr)
		}
		prev = t
	}
	q.after = make([][]int, len(q.terms))
	for i, pr := range q.pairs {
		q.after[pr[1]] = append(q.after[pr[1]], i)
	}
	return q
}

// hit is an occurrence of query term term at position pos, counted in
// content words (stop words do not count).
type hit struct {
	pos, term int
}

// passage is what the scorer needs of a text.
type passage struct {
	length  int   // content words
	tf      []int // per query term
	matched int   // distinct query terms present
	hits    []hit // in position order
}

// matcher finds the query terms in texts. Stemming is the expensive step,
// so each distinct word is stemmed once per call, and only when its first
// byte is the first byte of some query term: Porter's rules rewrite
// suffixes only and never the first letter, and a stem is never longer
// than its word.
type matcher struct {
	q       query
	index   map[string]int
	first   [256]bool
	minLen  int
	stop    *stopSet
	wordTag map[string]int // word → query term, -1 for none
	words   *wordScanner
}

func newMatcher(q query, stop *stopSet) *matcher {
	m := &matcher{q: q, stop: stop, index: make(map[string]int, len(q.terms)), minLen: math.MaxInt,
		wordTag: map[string]int{}, words: newWordScanner()}
	for i, t := range q.terms {
		m.index[t] = i
		m.first[t[0]] = true
		m.minLen = min(m.minLen, len(t))
	}
	return m
}

// term returns the query term that word (lowercase) stems to, or -1.
func (m *matcher) term(word []byte) int {
	if !m.first[word[0]] || len(word) < m.minLen {
		return -1
	}
	if t, ok := m.wordTag[string(word)]; ok {
		return t
	}
	w := string(word)
	t, ok := m.index[embed.Stem(w)]
	if !ok {
		t = -1
	}
	m.wordTag[w] = t
	return t
}

func (m *matcher) scan(text string) passage {
	d := passage{tf: make([]int, len(m.q.terms))}
	m.words.reset(text)
	for word := m.words.next(); word != nil; word = m.words.next() {
		if m.stop.has(word) {
			continue
		}
		if t := m.term(word); t >= 0 {
			if d.tf[t] == 0 {
				d.matched++
			}
			d.tf[t]++
			d.hits = append(d.hits, hit{pos: d.length, term: t})
		}
		d.length++
	}
	return d
}

// window finds the span of content words that holds the most query-term
// IDF; its counts are reused across passages.
type window struct {
	count []int
}

func newWindow(terms int) *window { return &window{count: make([]int, terms)} }

// best returns the largest IDF mass of distinct query terms within any
// span of size consecutive positions.
func (w *window) best(hits []hit, idf []float64, size int) float64 {
	clear(w.count)
	var cur, best float64
	lo := 0
	for _, h := range hits {
		for hits[lo].pos <= h.pos-size {
			old := hits[lo].term
			w.count[old]--
			if w.count[old] == 0 {
				cur -= idf[old]
			}
			lo++
		}
		if w.count[h.term] == 0 {
			cur += idf[h.term]
		}
		w.count[h.term]++
		best = max(best, cur)
	}
	return best
}

// orderedPairs returns the IDF mass of the query's pairs (a, b) for which
// the passage has b at most gap positions after an a.
func orderedPairs(hits []hit, q query, pairIDF []float64, gap int) float64 {
	if len(q.pairs) == 0 {
		return 0
	}
	// last[t] is the latest position of term t so far, far back before any.
	last := make([]int, len(q.terms))
	for i := range last {
		last[i] = math.MinInt / 2
	}
	found := make([]bool, len(q.pairs))
	var sum float64
	for _, h := range hits {
		for _, pi := range q.after[h.term] {
			if !found[pi] && h.pos-last[q.pairs[pi][0]] <= gap {
				found[pi] = true
				sum += pairIDF[pi]
			}
		}
		last[h.term] = h.pos
	}
	return sum
}
