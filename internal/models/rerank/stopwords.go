package rerank

import "slices"

// stopWordList is what the reranker drops from queries and passages before
// scoring: Lucene's classic English set, which the BM25 sparse model also
// drops, plus the words that make a sentence a question or a request ("what
// did she say about", "how does it"). The reranker sees the user's question
// itself, and a passage should not win by sharing its grammar. None is
// longer than eight bytes (stopSet relies on it).
func stopWordList() []string {
	return []string{
		"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in",
		"into", "is", "it", "no", "not", "of", "on", "or", "such", "that", "the",
		"their", "then", "there", "these", "they", "this", "to", "was", "will",
		"with",

		"what", "which", "who", "whom", "whose", "when", "where", "why", "how",
		"do", "does", "did", "can", "could", "would", "should", "shall", "may",
		"might", "must", "has", "have", "had", "been", "being", "were", "am",
		"i", "me", "my", "you", "your", "he", "him", "his", "she", "her", "we",
		"us", "our", "its", "them", "about", "from", "than", "so", "any", "some",
		"tell", "explain", "describe", "please",
	}
}

// stopSet answers "is this a stop word" for every word of every passage,
// so it avoids hashing strings: a word of at most eight bytes is packed
// into a uint64, a 1024-bit filter rejects most content words at once, and
// a binary search over the packed list settles the rest.
type stopSet struct {
	filter [16]uint64
	packed []uint64 // sorted
}

func newStopSet(words []string) *stopSet {
	s := &stopSet{}
	for _, w := range words {
		p, ok := packWord(w)
		if !ok {
			continue // longer than 8 bytes: cannot be looked up; the list has none
		}
		s.packed = append(s.packed, p)
		b := filterBit(p)
		s.filter[b/64] |= 1 << (b % 64)
	}
	slices.Sort(s.packed)
	return s
}

func (s *stopSet) has(w []byte) bool {
	p, ok := packWord(w)
	if !ok {
		return false
	}
	if b := filterBit(p); s.filter[b/64]&(1<<(b%64)) == 0 {
		return false
	}
	_, found := slices.BinarySearch(s.packed, p)
	return found
}

func (s *stopSet) hasString(w string) bool {
	p, ok := packWord(w)
	if !ok {
		return false
	}
	_, found := slices.BinarySearch(s.packed, p)
	return found
}

// packWord returns the bytes of w, at most eight, as one number; the
// length is in the top byte's place only implicitly, since no word byte is
// zero.
func packWord[T string | []byte](w T) (uint64, bool) {
	if len(w) > 8 || len(w) == 0 {
		return 0, false
	}
	var p uint64
	for i := 0; i < len(w); i++ {
		p = p<<8 | uint64(w[i])
	}
	return p, true
}

// filterBit hashes a packed word to one of 1024 bits (Fibonacci hashing).
func filterBit(p uint64) uint64 {
	return (p * 0x9E3779B97F4A7C15) >> 54
}
