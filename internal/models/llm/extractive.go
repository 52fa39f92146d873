package llm

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Defaults of the extractive answerer.
const (
	// DefaultWordBudget bounds the words quoted in one answer: about a
	// paragraph, what a chat reply can show without scrolling.
	DefaultWordBudget = 120
	// DefaultExtractivePassages is how many of the top passages are read;
	// below that the reranker's order says they matter less.
	DefaultExtractivePassages = 5
)

// Texts of the extractive answer that are not quotes.
const (
	extractiveIntro   = "Here is what I wrote about this:"
	extractiveNothing = "I couldn't find anything I've written about that."
	// elision joins two sentences of one passage that are not adjacent,
	// and ends a sentence cut at the word budget.
	elision = "…"
)

// Extractive is the embedded default Model. It needs no weights and no
// network: it answers with the author's own sentences, taken from the
// passages the reranker ranked, and says that it is quoting.
//
// It reads the top passages (DefaultExtractivePassages), splits them into
// sentences and scores each sentence by the question's terms it contains
// (lowercase Porter stems, as the BM25 index cuts them, without stop words
// and the words every question has: "what", "you", "write"...). A term
// counts more the fewer sentences contain it (BM25's IDF over the
// sentences read), a very short sentence counts less (a heading is a poor
// quote), and a lower-ranked passage slightly less. It keeps the best
// sentences, down to a fifth of the best score, until the word budget is
// spent, and quotes them in their passage's order and their order within
// it, each passage's quote followed by its citation [n], n being the
// passage's 1-based index in Request.Passages. A question with no terms
// left (only stop words) gets the first sentences of the top passages,
// which retrieval chose for it.
//
// The answer is deterministic: the same request gives the same answer.
// Every word of it after the introduction is a word of a passage, a
// citation, or "…" where sentences were skipped or a sentence was cut.
//
// The zero value is ready to use with the defaults; Extractive is safe for
// concurrent use.
type Extractive struct {
	budget   int
	passages int
}

// ExtractiveOption configures NewExtractive.
type ExtractiveOption func(*Extractive)

// WithWordBudget sets how many words of the passages an answer quotes at
// most; 0 or less keeps DefaultWordBudget. A first sentence longer than
// the budget is cut at it.
func WithWordBudget(words int) ExtractiveOption {
	return func(e *Extractive) { e.budget = words }
}

// WithPassages sets how many of the top passages are read; 0 or less
// keeps DefaultExtractivePassages.
func WithPassages(n int) ExtractiveOption {
	return func(e *Extractive) { e.passages = n }
}

// NewExtractive returns the extractive answerer.
func NewExtractive(opts ...ExtractiveOption) *Extractive {
	e := &Extractive{}
	for _, opt := range opts {
		opt(e)
	}
	return e
}

// Name is "extractive".
func (e *Extractive) Name() string { return "extractive" }

// Stream composes the whole answer (it takes microseconds) and emits it
// one word at a time, each word with the space that follows it, so the
// emitted pieces concatenate to the answer exactly.
//
// Usage is an estimate counted in words, not model tokens: PromptTokens
// is the words of the question and of the passages read, CompletionTokens
// the words emitted. A word is about 1.3 tokens of a subword tokenizer.
func (e *Extractive) Stream(ctx context.Context, req Request, emit func(text string) error) (Usage, error) {
	if err := ctx.Err(); err != nil {
		return Usage{}, fmt.Errorf("llm: extractive answer: %w", err)
	}
	answer, read := e.compose(req.Question, req.Passages)
	u := Usage{PromptTokens: countWords(req.Question) + read}
	// Words are separated by exactly one ASCII space and hold none (they
	// come from strings.Fields), so cutting after each space gives them.
	for rest := answer; rest != ""; {
		word := rest
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			word = rest[:i+1]
		}
		rest = rest[len(word):]
		if err := ctx.Err(); err != nil {
			return Usage{}, fmt.Errorf("llm: extractive answer: %w", err)
		}
		if err := emit(word); err != nil {
			return Usage{}, err
		}
		u.CompletionTokens++
	}
	return u, nil
}

// quoteCandidate is one sentence of a passage that was read.
type quoteCandidate struct {
	passage int // index in Request.Passages
	pos     int // index of the sentence in its passage
	text    string
	words   int
	score   float64
	// terms[from:to] of compose's shared slice are the indices of the
	// question's terms the sentence contains, each once.
	from, to int
}

// compose returns the answer and the number of words of the passages it
// read.
func (e *Extractive) compose(question string, passages []Passage) (string, int) {
	budget := e.budget
	if budget <= 0 {
		budget = DefaultWordBudget
	}
	n := e.passages
	if n <= 0 {
		n = DefaultExtractivePassages
	}
	n = min(n, len(passages))

	query := newTermSet(question)
	var (
		cands []quoteCandidate
		terms []int // the matched terms of all candidates, see quoteCandidate
		df    []int // df[t]: sentences that contain query term t
		seen  []int // seen[t]: 1 + the last candidate that counted term t
		read  int   // words of the passages read
	)
	df, seen = make([]int, query.len()), make([]int, query.len())
	for p := range n {
		for pos, s := range splitSentences(passages[p].Text) {
			c := quoteCandidate{passage: p, pos: pos, text: s, from: len(terms)}
			if query.len() == 0 {
				c.words = countWords(s)
			} else {
				c.words = eachWord(s, func(word string) {
					t, ok := query.lookup(word)
					if !ok || seen[t] == len(cands)+1 {
						return
					}
					seen[t] = len(cands) + 1
					df[t]++
					terms = append(terms, t)
				})
			}
			read += c.words
			c.to = len(terms)
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return extractiveNothing, read
	}

	var picked []quoteCandidate
	if query.len() == 0 {
		picked = pickInOrder(cands, budget)
	} else {
		picked = pickBest(cands, terms, df, budget)
	}
	if len(picked) == 0 {
		return extractiveNothing, read
	}
	return renderQuotes(picked, budget), read
}

// pickBest scores the candidates against the question's terms and keeps
// the best of them that fit in the budget.
func pickBest(cands []quoteCandidate, terms, df []int, budget int) []quoteCandidate {
	total := float64(len(cands))
	best := 0.0
	for i := range cands {
		c := &cands[i]
		if c.from == c.to {
			continue
		}
		for _, t := range terms[c.from:c.to] {
			d := float64(df[t])
			c.score += math.Log(1 + (total-d+0.5)/(d+0.5))
		}
		c.score *= float64(c.words) / float64(c.words+2)
		c.score /= 1 + 0.05*float64(c.passage)
		best = max(best, c.score)
	}
	if best == 0 {
		return nil
	}
	// Only the sentences that can be picked are sorted: usually a few of
	// the hundreds read.
	var ranked []quoteCandidate
	for _, c := range cands {
		if c.score >= best/5 {
			ranked = append(ranked, c)
		}
	}
	slices.SortStableFunc(ranked, func(a, b quoteCandidate) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0 // stable: passage order, then sentence order
	})
	var picked []quoteCandidate
	used := 0
	for _, c := range ranked {
		if used >= budget {
			break
		}
		if used+c.words > budget && used > 0 {
			continue // a shorter, less relevant sentence may still fit
		}
		picked = append(picked, c)
		used += c.words
	}
	return picked
}

// pickInOrder keeps the first sentences, in passage order, that fit in
// the budget.
func pickInOrder(cands []quoteCandidate, budget int) []quoteCandidate {
	var picked []quoteCandidate
	used := 0
	for _, c := range cands {
		if used >= budget || used > 0 && used+c.words > budget {
			break
		}
		picked = append(picked, c)
		used += c.words
	}
	return picked
}

// renderQuotes writes the answer: the introduction, then the sentences in
// passage order and sentence order, each passage's run followed by its
// citation. A sentence over the budget (only ever the first picked) is
// cut at it.
func renderQuotes(picked []quoteCandidate, budget int) string {
	slices.SortFunc(picked, func(a, b quoteCandidate) int {
		if a.passage != b.passage {
			return a.passage - b.passage
		}
		return a.pos - b.pos
	})
	var b strings.Builder
	b.WriteString(extractiveIntro)
	for i, c := range picked {
		if i > 0 && picked[i-1].passage == c.passage && picked[i-1].pos+1 != c.pos {
			b.WriteString(" " + elision)
		}
		words := strings.Fields(c.text)
		cut := len(words) > budget
		if cut {
			words = words[:budget]
		}
		for _, w := range words {
			b.WriteByte(' ')
			b.WriteString(w)
		}
		if cut {
			b.WriteString(" " + elision)
		}
		if i == len(picked)-1 || picked[i+1].passage != c.passage {
			b.WriteString(" [" + strconv.Itoa(c.passage+1) + "]")
		}
	}
	return b.String()
}

// isStopWord reports whether a lowercase token is an English function
// word, which says nothing of a sentence's topic.
func isStopWord(tok string) bool {
	switch tok {
	case "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any",
		"are", "as", "at", "be", "because", "been", "before", "being", "below", "between",
		"both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during",
		"each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her",
		"here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into",
		"is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no",
		"nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours",
		"ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such",
		"than", "that", "the", "their", "theirs", "them", "themselves", "then", "there",
		"these", "they", "this", "those", "through", "to", "too", "under", "until", "up",
		"us", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who",
		"whom", "why", "will", "with", "would", "you", "your", "yours", "yourself",
		"yourselves", "may", "might", "must", "shall", "also", "s", "t", "d", "ll", "m",
		"re", "ve", "don", "doesn", "didn", "isn", "aren", "wasn", "weren", "won":
		return true
	}
	return false
}

// isQuestionWord reports whether a token is one that questions to the
// twin share whatever they ask ("what do you think about", "did you ever
// write on"), so that it does not pull in sentences by itself.
func isQuestionWord(tok string) bool {
	switch tok {
	case "think", "thought", "thoughts", "write", "wrote", "written", "writing", "say",
		"said", "tell", "told", "know", "knew", "opinion", "opinions", "view", "views",
		"feel", "explain", "describe", "mean", "please", "ever", "anything", "something",
		"thing", "things", "blog", "post", "posts", "article", "articles", "let", "share",
		"talk", "talked", "discuss", "discussed", "topic", "regarding", "concerning":
		return true
	}
	return false
}
