package retrieval

import (
	"strings"

	"github.com/twin-llm/twin/internal/models/embed"
)

// questionWords carry no topic: they are dropped from the lexical
// variants of a question, together with BM25's stop words.
var questionWords = map[string]bool{
	"what": true, "which": true, "who": true, "whom": true, "whose": true, "why": true, "how": true,
	"when": true, "where": true, "do": true, "does": true, "did": true, "done": true, "can": true,
	"could": true, "would": true, "should": true, "you": true, "your": true, "yours": true, "i": true,
	"me": true, "my": true, "we": true, "our": true, "he": true, "she": true, "his": true, "her": true,
	"think": true, "about": true, "tell": true, "say": true, "said": true, "write": true, "wrote": true,
	"written": true, "explain": true, "know": true, "have": true, "has": true, "had": true,
	"please": true, "any": true, "some": true, "much": true, "many": true, "there": true, "is": true,
	"are": true, "was": true, "were": true, "be": true, "been": true, "the": true, "a": true, "an": true,
	"of": true, "to": true, "in": true, "on": true, "for": true, "and": true, "or": true, "it": true,
	"its": true, "this": true, "that": true, "with": true, "from": true, "by": true, "as": true,
	"at": true, "s": true, "t": true, "use": true, "using": true,
}

// IsQuestionWord reports whether a token (as embed.Tokens cuts it) is a
// word that carries no topic: "what", "does", "think", ...
func IsQuestionWord(t string) bool { return questionWords[t] }

// Variants returns up to n queries: the question itself, its
// content words, and the content words with their other inflections, so
// that BM25 also meets a chunk that says "indexes" for "indexing".
func Variants(question, author string, n int) []string {
	out := []string{question}
	drop := map[string]bool{}
	for _, t := range embed.Tokens(author) {
		drop[t] = true
	}
	var keywords []string
	for _, t := range embed.Tokens(question) {
		if !questionWords[t] && !drop[t] {
			keywords = append(keywords, t)
		}
	}
	add := func(q string) {
		if len(out) >= n || q == "" {
			return
		}
		for _, o := range out {
			if strings.EqualFold(o, q) {
				return
			}
		}
		out = append(out, q)
	}
	add(strings.Join(keywords, " "))
	var inflected []string
	for _, k := range keywords {
		inflected = append(inflected, inflect(k)...)
	}
	add(strings.Join(inflected, " "))
	return out
}

// inflect returns word with a plausible other form: singular for plural,
// the stem for -ing and -ed, plural for singular.
func inflect(w string) []string {
	switch {
	case len(w) > 5 && strings.HasSuffix(w, "ing"):
		return []string{w, w[:len(w)-3], w[:len(w)-3] + "s"}
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		return []string{w, w[:len(w)-3] + "y"}
	case len(w) > 4 && strings.HasSuffix(w, "ed"):
		return []string{w, w[:len(w)-2], w[:len(w)-1]}
	case len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss"):
		return []string{w, w[:len(w)-1]}
	case len(w) > 2:
		return []string{w, w + "s"}
	}
	return []string{w}
}
