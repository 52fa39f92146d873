package rerank

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
)

// The learned reranker's features. Each describes one (query, candidate)
// pair from the query, the candidate's text, the other candidates of the
// same call and the candidate's place in the retrieval order, so that a
// model fitted on one collection's judgments carries over to another:
// nothing names a word, a document or a collection. The lexical parts are
// Lexical's own (the same analysis, IDF and prior), so the learned model
// starts from what the hand-set blend measures.
const (
	FeatBM25       = "bm25"        // Lexical's BM25 part: saturated term frequencies × IDF, over its maximum
	FeatBM25Local  = "bm25_local"  // the same with the candidates' IDF alone, without the vocabulary prior
	FeatIDFCover   = "idf_cover"   // IDF share of the query terms present
	FeatCover      = "cover"       // fraction of the distinct query terms present
	FeatRarest     = "rarest"      // 1 when the query's rarest term is present
	FeatWindow     = "window"      // IDF share of the query terms inside the best window of 16 content words
	FeatPairs      = "pairs"       // IDF share of the query's adjacent word pairs found adjacent and in order
	FeatHead       = "head"        // IDF share of the query terms in the passage's first line or sentence
	FeatLength     = "length"      // ln(1 + content words)
	FeatDensity    = "density"     // query-term occurrences per content word
	FeatRankPrior  = "rank_prior"  // 10/(10 + position): Lexical's rank prior
	FeatLogRank    = "log_rank"    // ln(1 + position)
	FeatRetrieval  = "retrieval"   // retrieval score over the best retrieval score of the call; needs scores
	FeatRetrievalZ = "retrieval_z" // retrieval score standardized within the call; needs scores
	FeatPRFRank    = "prf_rank"    // cosine with the centroid of the first 5 other candidates in retrieval order
	FeatPRFLex     = "prf_lex"     // cosine with the centroid of the other candidates, each weighted by its BM25 part

	// The document features describe the candidate's document as the
	// call holds it: all its candidates (chunks) together. They need the
	// candidates' documents (ScoreDocuments); without them every candidate
	// is its own document and they equal the candidate's own features.
	FeatDocBM25   = "doc_bm25"   // the best bm25 of the document's candidates
	FeatDocCover  = "doc_cover"  // IDF share of the query terms present in any of the document's candidates
	FeatDocWindow = "doc_window" // the best window of the document's candidates
	FeatDocRank   = "doc_rank"   // the best rank_prior of the document's candidates
	FeatDocPRF    = "doc_prf"    // the best prf_lex of the document's candidates
	FeatDocChunks = "doc_chunks" // ln(the number of the document's candidates)
)

// AllFeatures lists every feature the learned reranker knows, in the order
// Features computes them.
func AllFeatures() []string {
	return []string{FeatBM25, FeatBM25Local, FeatIDFCover, FeatCover, FeatRarest, FeatWindow, FeatPairs,
		FeatHead, FeatLength, FeatDensity, FeatRankPrior, FeatLogRank, FeatRetrieval, FeatRetrievalZ, FeatPRFRank, FeatPRFLex,
		FeatDocBM25, FeatDocCover, FeatDocWindow, FeatDocRank, FeatDocPRF, FeatDocChunks}
}

// featureIndex maps a feature's name to its column in Features' rows.
func featureIndex() map[string]int {
	m := map[string]int{}
	for i, name := range AllFeatures() {
		m[name] = i
	}
	return m
}

// needsScores reports whether a feature is computed from retrieval scores.
func needsScores(name string) bool { return name == FeatRetrieval || name == FeatRetrievalZ }

// headBytes bounds the first line or sentence that FeatHead reads.
const headBytes = 300

// Extractor computes features. It is safe for concurrent use.
type Extractor struct {
	lex *Lexical
	// prfs holds the pseudo-relevance scratch (its word map above all)
	// between calls: allocating it anew costs more than the scoring.
	prfs sync.Pool
}

// NewExtractor returns the feature extractor, with Lexical's analysis.
func NewExtractor() *Extractor {
	return &Extractor{lex: NewLexical(), prfs: sync.Pool{New: func() any { return &prf{vocab: map[string]int32{}} }}}
}

// Features returns one row per text, each with len(AllFeatures()) values
// in that order. texts are in retrieval order, best first; scores, when
// not nil, are their retrieval scores (higher is better, one per text);
// without them the retrieval features are 0. It fails only when ctx is
// done or scores has the wrong length.
func (e *Extractor) Features(ctx context.Context, query string, texts []string, scores []float64) ([][]float64, error) {
	return e.DocumentFeatures(ctx, query, texts, scores, nil)
}

// DocumentFeatures is Features with each text's document: docs, when not
// nil, holds one id per text, and texts with the same id are parts
// (chunks) of one document for the document features.
func (e *Extractor) DocumentFeatures(ctx context.Context, query string, texts []string, scores []float64, docs []string) ([][]float64, error) {
	if scores != nil && len(scores) != len(texts) {
		return nil, fmt.Errorf("rerank: %d retrieval scores for %d texts", len(scores), len(texts))
	}
	if docs != nil && len(docs) != len(texts) {
		return nil, fmt.Errorf("rerank: %d document ids for %d texts", len(docs), len(texts))
	}
	nf := len(AllFeatures())
	rows := make([][]float64, len(texts))
	flat := make([]float64, len(texts)*nf)
	for i := range rows {
		rows[i] = flat[i*nf : (i+1)*nf : (i+1)*nf]
	}
	if err := e.fill(ctx, query, texts, scores, docs, rows); err != nil {
		return nil, err
	}
	return rows, nil
}

// fill writes the features of texts into rows.
func (e *Extractor) fill(ctx context.Context, query string, texts []string, scores []float64, docIDs []string, rows [][]float64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rerank: features: %w", err)
	}
	for i, row := range rows {
		row[10] = 10 / (10 + float64(i))
		row[11] = math.Log1p(float64(i))
	}
	fillRetrieval(scores, rows)
	l := e.lex
	p := l.p
	q := analyzeQuery(query, l.stop)
	if len(q.terms) == 0 || len(texts) == 0 {
		for i, text := range texts {
			rows[i][8] = math.Log1p(float64(countWords(l, text)))
		}
		fillDocuments(docIDs, rows, nil, nil)
		return nil
	}
	m := newMatcher(q, l.stop)
	docs := make([]passage, len(texts))
	df := make([]float64, len(q.terms))
	prf := e.prfs.Get().(*prf)
	defer e.prfs.Put(prf)
	prf.reset()
	for i, text := range texts {
		if i%16 == 15 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("rerank: features: %w", err)
			}
		}
		docs[i] = prf.scan(m, text)
		for t, n := range docs[i].tf {
			if n > 0 {
				df[t]++
			}
		}
	}
	n := float64(len(texts)) + p.priorDocs
	idf := make([]float64, len(q.terms))
	local := make([]float64, len(q.terms))
	var idfSum, localSum float64
	rarest := 0
	for t := range idf {
		local[t] = math.Log(1 + (n-df[t]+0.5)/(df[t]+0.5))
		idf[t] = local[t]
		if l.vocab != nil {
			idf[t] *= l.rarity(q.words[t])
		}
		if idf[t] > idf[rarest] {
			rarest = t
		}
		idfSum += idf[t]
		localSum += local[t]
	}
	pairIDF := make([]float64, len(q.pairs))
	var pairSum float64
	for i, pr := range q.pairs {
		pairIDF[i] = min(idf[pr[0]], idf[pr[1]])
		pairSum += pairIDF[i]
	}
	w := newWindow(len(q.terms))
	inHead := make([]bool, len(q.terms))
	for i := range docs {
		d := &docs[i]
		row := rows[i]
		row[8] = math.Log1p(float64(d.length))
		if d.matched == 0 || !(idfSum > 0) {
			continue
		}
		norm := p.k1 * (1 - p.b + p.b*float64(d.length)/p.avgDocLen)
		var bm25, bm25Local, covered float64
		for t, tf := range d.tf {
			if tf > 0 {
				sat := float64(tf) / (float64(tf) + norm)
				bm25 += idf[t] * sat
				bm25Local += local[t] * sat
				covered += idf[t]
			}
		}
		row[0] = bm25 / idfSum
		if localSum > 0 {
			row[1] = bm25Local / localSum
		}
		row[2] = covered / idfSum
		row[3] = float64(d.matched) / float64(len(q.terms))
		if d.tf[rarest] > 0 {
			row[4] = 1
		}
		row[5] = w.best(d.hits, idf, p.window) / idfSum
		if pairSum > 0 {
			row[6] = orderedPairs(d.hits, q, pairIDF, p.pairGap) / pairSum
		}
		row[7] = m.headShare(head(texts[i]), idf, inHead) / idfSum
		row[9] = float64(len(d.hits)) / float64(max(1, d.length))
	}
	prf.fill(l.p.priorDocs, rows)
	fillDocuments(docIDs, rows, docs, idf)
	return nil
}

// Columns of the document features.
const (
	colDocBM25 = 16 + iota
	colDocCover
	colDocWindow
	colDocRank
	colDocPRF
	colDocChunks
)

// fillDocuments sets the document features: each candidate gets the best
// of its document's candidates, and the IDF share of the query terms its
// document's candidates hold together. docIDs nil makes every candidate
// its own document; passages and idf, nil when the query has no terms,
// give the terms each candidate holds.
func fillDocuments(docIDs []string, rows [][]float64, passages []passage, idf []float64) {
	group := make([]int, len(rows)) // each candidate's first candidate of its document
	if docIDs == nil {
		for i := range group {
			group[i] = i
		}
	} else {
		first := make(map[string]int, len(rows))
		for i, d := range docIDs {
			f, ok := first[d]
			if !ok {
				f = i
				first[d] = i
			}
			group[i] = f
		}
	}
	best := make([][6]float64, len(rows))
	count := make([]int, len(rows))
	for i, row := range rows {
		g := group[i]
		b := &best[g]
		if count[g] == 0 {
			*b = [6]float64{row[0], 0, row[5], row[10], row[15], 0}
		} else {
			b[0], b[2], b[3], b[4] = max(b[0], row[0]), max(b[2], row[5]), max(b[3], row[10]), max(b[4], row[15])
		}
		count[g]++
	}
	// The terms a document holds: the union over its candidates.
	if passages != nil {
		var idfSum float64
		for _, v := range idf {
			idfSum += v
		}
		held := map[int][]bool{}
		for i, p := range passages {
			g := group[i]
			h := held[g]
			if h == nil {
				h = make([]bool, len(idf))
				held[g] = h
			}
			for t, n := range p.tf {
				if n > 0 {
					h[t] = true
				}
			}
		}
		if idfSum > 0 {
			for g, h := range held {
				var c float64
				for t, ok := range h {
					if ok {
						c += idf[t]
					}
				}
				best[g][1] = c / idfSum
			}
		}
	}
	for i, row := range rows {
		g := group[i]
		b := best[g]
		row[colDocBM25], row[colDocCover], row[colDocWindow], row[colDocRank], row[colDocPRF] = b[0], b[1], b[2], b[3], b[4]
		row[colDocChunks] = math.Log(float64(count[g]))
	}
}

// fillRetrieval sets the features taken from the retrieval scores.
func fillRetrieval(scores []float64, rows [][]float64) {
	if len(scores) == 0 {
		return
	}
	best := math.Inf(-1)
	var mean float64
	for _, s := range scores {
		if !isFinite(s) {
			s = 0
		}
		best = max(best, s)
		mean += s
	}
	mean /= float64(len(scores))
	var v float64
	for _, s := range scores {
		if !isFinite(s) {
			s = 0
		}
		v += (s - mean) * (s - mean)
	}
	sd := math.Sqrt(v / float64(len(scores)))
	for i, s := range scores {
		if !isFinite(s) {
			s = 0
		}
		if best > 0 {
			rows[i][12] = s / best
		}
		if sd > 0 {
			rows[i][13] = (s - mean) / sd
		}
	}
}

func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// head returns the passage's first line, or its first sentence when the
// first line is long: a title, or the sentence that says what the passage
// is about.
func head(text string) string {
	text = strings.TrimLeft(text, " \t\r\n")
	cut := min(len(text), headBytes)
	if i := strings.IndexByte(text[:cut], '\n'); i >= 0 {
		return text[:i]
	}
	for _, end := range []string{". ", "? ", "! "} {
		if i := strings.Index(text[:cut], end); i >= 0 {
			cut = i + 1
		}
	}
	return text[:cut]
}

// headShare returns the IDF mass of the distinct query terms in text;
// seen is scratch of one entry per query term.
func (m *matcher) headShare(text string, idf []float64, seen []bool) float64 {
	clear(seen)
	var sum float64
	m.words.reset(text)
	for word := m.words.next(); word != nil; word = m.words.next() {
		if m.stop.has(word) {
			continue
		}
		if t := m.term(word); t >= 0 && !seen[t] {
			seen[t] = true
			sum += idf[t]
		}
	}
	return sum
}

// countWords counts the content words of text.
func countWords(l *Lexical, text string) int {
	s := newWordScanner()
	s.reset(text)
	n := 0
	for word := s.next(); word != nil; word = s.next() {
		if !l.stop.has(word) {
			n++
		}
	}
	return n
}

// prfTop is how many candidates, first in retrieval order, make the
// centroid of FeatPRFRank.
const prfTop = 5

// prfEntry is a word's weight in a candidate's vector.
type prfEntry struct {
	id int32
	w  float64
}

// prf computes the pseudo-relevance features: how much a candidate's
// vocabulary, beyond the query's words, resembles that of the candidates
// retrieval ranked first (FeatPRFRank) or that match the query best
// (FeatPRFLex). Relevant passages resemble each other (the cluster
// hypothesis), so a candidate that shares the others' subject without
// repeating the query's words gains. Vectors are log term frequencies
// times the candidates' IDF over the content words of at least three
// letters, unstemmed. It reads the words as the matcher scans them, so
// each text is read once.
type prf struct {
	vocab map[string]int32
	df    []float64
	last  []int32      // per word: 1 + the text it was last seen in
	slot  []int32      // per word: its entry in flat for that text
	docs  [][]prfEntry // per text
	flat  []prfEntry   // backing store of docs
}

func (p *prf) reset() {
	clear(p.vocab)
	p.df, p.last, p.slot, p.docs, p.flat = p.df[:0], p.last[:0], p.slot[:0], p.docs[:0], p.flat[:0]
}

// scan is matcher.scan that also records the text's vector.
func (p *prf) scan(m *matcher, text string) passage {
	d := passage{tf: make([]int, len(m.q.terms))}
	doc := int32(len(p.docs)) + 1
	start := len(p.flat)
	m.words.reset(text)
	for word := m.words.next(); word != nil; word = m.words.next() {
		if m.stop.has(word) {
			continue
		}
		if len(word) >= 3 {
			id, ok := p.vocab[string(word)]
			if !ok {
				id = int32(len(p.vocab))
				p.vocab[string(word)] = id
				p.df = append(p.df, 0)
				p.last = append(p.last, 0)
				p.slot = append(p.slot, 0)
			}
			// Count in place: the word's entry in this text, if any, is
			// where slot says.
			if p.last[id] == doc {
				p.flat[p.slot[id]].w++
			} else {
				p.last[id], p.slot[id] = doc, int32(len(p.flat))
				p.flat = append(p.flat, prfEntry{id: id, w: 1})
			}
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
	for k := start; k < len(p.flat); k++ {
		p.flat[k].w = 1 + math.Log(p.flat[k].w)
		p.df[p.flat[k].id]++
	}
	// Only the length counts until rebase: flat may still move.
	p.docs = append(p.docs, p.flat[start:len(p.flat):len(p.flat)])
	return d
}

// fill sets the two features in rows, given the BM25 part (column 0).
func (p *prf) fill(priorDocs float64, rows [][]float64) {
	docs := p.rebase()
	if len(docs) < 2 {
		return
	}
	n := float64(len(docs)) + priorDocs
	idf := make([]float64, len(p.df))
	for t, f := range p.df {
		idf[t] = math.Log(1 + (n-f+0.5)/(f+0.5))
	}
	for _, d := range docs {
		var norm float64
		for k := range d {
			d[k].w *= idf[d[k].id]
			norm += d[k].w * d[k].w
		}
		if norm = math.Sqrt(norm); norm > 0 {
			for k := range d {
				d[k].w /= norm
			}
		}
	}
	rank := make([]float64, len(docs))
	lex := make([]float64, len(docs))
	for i := range docs {
		if i < prfTop {
			rank[i] = 1
		}
		lex[i] = rows[i][0]
	}
	centroid := make([]float64, len(p.df))
	similarity(docs, rank, centroid, rows, 14)
	similarity(docs, lex, centroid, rows, 15)
}

// rebase points each text's vector into the final backing store.
func (p *prf) rebase() [][]prfEntry {
	out := make([][]prfEntry, len(p.docs))
	off := 0
	for i, d := range p.docs {
		out[i] = p.flat[off : off+len(d) : off+len(d)]
		off += len(d)
	}
	return out
}

// similarity sets rows[i][c] to the mean cosine of docs[i] with the other
// docs, weighted by weight. docs are unit vectors; centroid is scratch of
// one entry per word.
func similarity(docs [][]prfEntry, weight []float64, centroid []float64, rows [][]float64, c int) {
	clear(centroid)
	var total float64
	for i, d := range docs {
		for _, x := range d {
			centroid[x.id] += weight[i] * x.w
		}
		total += weight[i]
	}
	for i, d := range docs {
		if len(d) == 0 {
			continue
		}
		var dot float64
		for _, x := range d {
			dot += x.w * centroid[x.id]
		}
		// A document's own part in the centroid is its weight: it is a
		// unit vector.
		if rest := total - weight[i]; rest > 0 {
			rows[i][c] = (dot - weight[i]) / rest
		}
	}
}
