package embed

// stopWords are dropped before BM25 terms and the hashed model's word
// features. A small list is enough: on SciFact the Snowball list (174
// words) and no list at all score the same as this one (README.md), since
// BM25's IDF, and the hashed model's prior, already give such words almost
// no weight; the list mostly saves index space.
var stopWords = setOf(
	// Lucene's English stop set (the classic 33 words).
	"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in",
	"into", "is", "it", "no", "not", "of", "on", "or", "such", "that", "the",
	"their", "then", "there", "these", "they", "this", "to", "was", "will",
	"with",
)

func setOf(words ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(words))
	for _, w := range words {
		m[w] = struct{}{}
	}
	return m
}

// IsStopWord reports whether a token (as Tokens cuts it) is one of the
// BM25 model's stop words.
func IsStopWord(t string) bool {
	_, ok := stopWords[t]
	return ok
}
