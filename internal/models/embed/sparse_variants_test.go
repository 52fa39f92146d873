package embed

import (
	"fmt"
	"os"
	"testing"

	"github.com/twin-llm/twin/internal/models/embed/scifacttest"
	"github.com/twin-llm/twin/internal/store/vectors"
)

// TestSciFactSparseVariants measures the alternatives behind BM25's
// defaults (README.md has the table); it runs only with
// TWIN_EMBED_VARIANTS=1.
func TestSciFactSparseVariants(t *testing.T) {
	if os.Getenv("TWIN_EMBED_VARIANTS") == "" {
		t.Skip("set TWIN_EMBED_VARIANTS=1 to measure the BM25 variants on SciFact")
	}
	d := scifacttest.Load(t)
	total := 0
	m0 := NewBM25()
	for _, doc := range d.Docs {
		total += len(m0.termIDs(doc))
	}
	avg := float64(total) / float64(len(d.Docs))
	t.Logf("avg stemmed terms per abstract: %.1f", avg)
	run := func(name string, m *BM25) {
		q := evaluate(t, d, nil, m)
		t.Logf("%-40s %v", name, q.sparse)
	}
	run("default", NewBM25())
	run("default avgdl=true", NewBM25(WithAvgDocLen(avg)))
	for _, k1 := range []float64{0.6, 0.9, 1.2, 1.5} {
		for _, b := range []float64{0.4, 0.75} {
			run(fmt.Sprintf("k1=%g b=%g", k1, b), NewBM25(WithK1(k1), WithB(b)))
		}
	}
	m := NewBM25()
	m.stop = snowballStopWords
	run("snowball stop", m)
	m = NewBM25()
	m.queryTF = true
	run("query tf", m)
	m = NewBM25()
	m.stop = nil
	run("no stop list", m)
	m = NewBM25()
	m.stem = false
	run("no stemming", m)
}

// TestSciFactLexicalFusion fuses BM25 with other BM25s by RRF, to show
// that a second lexical ranking, even a strong one, does not lift BM25;
// it runs only with TWIN_EMBED_VARIANTS=1.
func TestSciFactLexicalFusion(t *testing.T) {
	if os.Getenv("TWIN_EMBED_VARIANTS") == "" {
		t.Skip("set TWIN_EMBED_VARIANTS=1 to measure lexical fusion on SciFact")
	}
	d := scifacttest.Load(t)
	asRanker := func(m Sparse) ranker {
		vs := make([]vectors.Sparse, len(d.Docs))
		for i, doc := range d.Docs {
			vs[i] = m.Document(doc)
		}
		ix := scifacttest.NewIndex(vs)
		return func(q string, scores []float64) []int { return ix.Search(m.Query(q), 400, scores) }
	}
	plain := plainBM25(d)
	q := evaluateRanker(t, d, asRanker(plain), NewBM25())
	t.Logf("plain + stemmed: plain %v | stemmed %v | hybrid %v", q.dense, q.sparse, q.hybrid)
	other := NewBM25(WithK1(1.5), WithB(0.75))
	q = evaluateRanker(t, d, asRanker(other), NewBM25())
	t.Logf("k1.5b.75 + default: %v | hybrid %v", q.dense, q.hybrid)
}

// snowballStopWords is the Snowball English stop list, measured as an
// alternative, without the
// contractions (the tokenizer splits "don't" into "don" and "t", so the
// fragments are listed instead).
var snowballStopWords = setOf(
	"i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your",
	"yours", "yourself", "yourselves", "he", "him", "his", "himself", "she",
	"her", "hers", "herself", "it", "its", "itself", "they", "them", "their",
	"theirs", "themselves", "what", "which", "who", "whom", "this", "that",
	"these", "those", "am", "is", "are", "was", "were", "be", "been", "being",
	"have", "has", "had", "having", "do", "does", "did", "doing", "would",
	"should", "could", "ought", "cannot", "a", "an", "the", "and", "but",
	"if", "or", "because", "as", "until", "while", "of", "at", "by", "for",
	"with", "about", "against", "between", "into", "through", "during",
	"before", "after", "above", "below", "to", "from", "up", "down", "in",
	"out", "on", "off", "over", "under", "again", "further", "then", "once",
	"here", "there", "when", "where", "why", "how", "all", "any", "both",
	"each", "few", "more", "most", "other", "some", "such", "no", "nor",
	"not", "only", "own", "same", "so", "than", "too", "very",
	"s", "t", "d", "ll", "re", "ve", "don", "doesn", "didn", "isn", "aren",
	"wasn", "weren", "hasn", "haven", "hadn", "won", "wouldn", "shouldn",
	"couldn", "mustn", "shan", "can",
)
