package embed

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"math"
	"sync"
)

// The hashed model has no corpus to count document frequencies in (a
// chunk's vector must not depend on which chunks came before it), so it
// weighs words by a fixed, general-English prior instead of an IDF: the
// rank of the word in the bert-base-uncased WordPiece vocabulary, whose
// entries are ordered by frequency in BERT's training text (Wikipedia and
// books). See vocab/NOTICE for its source and license.
//
//go:embed vocab/words.txt.gz
var vocabWordsGz []byte

// priorOccurrences is how often the most frequent word ("the") is expected
// in one chunk: about 200 words × Zipf's constant for English, 0.1.
const priorOccurrences = 20

// outOfVocabRank is the rank given to words that are not in the vocabulary:
// rarer than its rarest entry.
const outOfVocabRank = 2 * 30522

// wordPriors maps each vocabulary word to its weight, built once on first
// use from the embedded table.
var wordPriors = sync.OnceValue(func() map[string]float32 {
	m := make(map[string]float32, 30000)
	gz, err := gzip.NewReader(bytes.NewReader(vocabWordsGz))
	if err != nil {
		return m // the embedded file is fixed; TestWordPrior proves it reads
	}
	sc := bufio.NewScanner(gz)
	rank := 0
	for sc.Scan() {
		rank++
		if w := sc.Text(); w != "" {
			if _, dup := m[w]; !dup {
				m[w] = float32(rankWeight(rank))
			}
		}
	}
	return m
})

// wordPrior is the weight of word in the hashed model: the square root of
// an IDF estimated from its frequency rank r under Zipf's law. A word of
// probability p ≈ 0.1/r appears in a chunk of ~200 words with probability
// 1 − exp(−20/r), whose negative log is the IDF; the square root is because
// the weight is applied to both the query's and the chunk's vector, so
// their product carries the IDF once, as BM25's score does.
func wordPrior(word string) float64 {
	if w, ok := wordPriors()[word]; ok {
		return float64(w)
	}
	return rankWeight(outOfVocabRank)
}

func rankWeight(rank int) float64 {
	return math.Sqrt(-math.Log(-math.Expm1(-priorOccurrences / float64(rank))))
}
