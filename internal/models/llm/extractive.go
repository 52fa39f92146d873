package llm

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
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
)

// The most of a block that a sentence introducing it ("like this:")
// brings along; a longer block leaves the sentence out, since a sentence
// that ends with a colon and no block after it dangles.
const (
	maxAttachedCodeLines  = 30
	maxAttachedItems      = 8
	maxAttachedQuoteWords = 80
)

// Extractive is the embedded default Model. It needs no weights and no
// network: it answers with the author's own sentences, taken from the
// passages the reranker ranked, and says that it is quoting.
//
// It reads the top passages (DefaultExtractivePassages) as markdown: a
// passage is one or more chunks of a document (joined by "\n…\n", as the
// chat merges a document's chunks), each cut into blocks (paragraphs,
// list items, quotes, code, headings; tables and raw HTML are never
// quoted) and the prose blocks into sentences. A candidate is one whole
// sentence: not the start of a chunk that begins mid-sentence, not the
// end of one cut off before its stop, not a heading, and not a repeat of
// one already read (chunks overlap). A sentence that introduces the block
// after it ("run it like this:") is a candidate only with that block
// (code, a list, a quote), which it then brings along, so code is quoted
// as code and nothing ends in a colon with nothing after it.
//
// Each candidate is scored by the question's terms it contains (lowercase
// Porter stems, as the BM25 index cuts them, without stop words and the
// words every question has: "what", "you", "write"...), with those of the
// block it introduces. A term counts more the fewer candidates contain it
// (BM25's IDF over the candidates), a very short sentence counts less,
// and a lower-ranked passage slightly less. The best candidates, down to
// a fifth of the best score, are kept until the word budget is spent (a
// block brought along costs half its words). A question with no terms
// left (only stop words) gets the first candidates of the top passages,
// which retrieval chose for it.
//
// The answer is markdown: a lead sentence, then the kept sentences in
// their passage's order and their order within it, one paragraph per
// block they came from, list items as a list, quotes as quotes, code in
// fences. Each paragraph (or list) carries the citation [n] of its
// passage on its last sentence, n being the passage's 1-based index in
// Request.Passages. Inline markdown is kept (links, emphasis, code spans)
// but for images and HTML tags, which are dropped, and a bracketed number
// of the text is escaped ("\[2]") so that it cannot pass for a citation.
//
// The answer is deterministic: the same request gives the same answer.
// Every word of it after the lead sentence is a word of a passage, a
// citation, or markdown syntax.
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
// most; 0 or less keeps DefaultWordBudget. The first sentence kept may
// exceed it, up to twice the budget; a longer one is never quoted, as
// half a sentence reads as a fragment.
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
// one word at a time, each word with the spaces or line breaks that
// follow it, so the emitted pieces concatenate to the answer exactly.
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
	for rest := answer; rest != ""; {
		word := rest[:wordEnd(rest)]
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

// wordEnd is the end of the first word of s and the white space after it.
func wordEnd(s string) int {
	i := 0
	for i < len(s) && !isASCIISpace(s[i]) {
		i++
	}
	for i < len(s) && isASCIISpace(s[i]) {
		i++
	}
	return i
}

func isASCIISpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// quoteCandidate is one whole sentence of a passage that was read.
type quoteCandidate struct {
	passage int // index in Request.Passages
	pos     int // order of the sentence in its passage
	block   int // the block it is from, numbered across the passage's chunks
	kind    blockKind
	list    int    // an item's list, numbered across the passage's chunks
	marker  string // an item's list marker
	text    string
	words   int // words of text, and half those of attach
	score   float64
	attach  []mdBlock // the blocks the sentence introduces
	// terms[from:to] of compose's shared slice are the indices of the
	// question's terms the sentence (with attach) contains, each once.
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
	r := reader{query: query, budget: budget, seen: make(map[uint64]bool, 64),
		df: make([]int, query.len()), last: make([]int, query.len())}
	for p := range n {
		r.read += countWords(passages[p].Text)
		r.passage(p, passages[p].Text)
	}
	if len(r.cands) == 0 {
		return extractiveNothing, r.read
	}
	var picked []quoteCandidate
	if query.len() == 0 {
		picked = pickInOrder(r.cands, budget)
	} else {
		picked = pickBest(r.cands, r.terms, r.df, budget)
	}
	if len(picked) == 0 {
		return extractiveNothing, r.read
	}
	return renderAnswer(picked, passages), r.read
}

// reader turns passages into candidates.
type reader struct {
	query  *termSet
	budget int
	cands  []quoteCandidate
	terms  []int           // the matched terms of all candidates, see quoteCandidate
	df     []int           // df[t]: candidates that contain query term t
	last   []int           // last[t]: 1 + the last candidate that counted term t
	seen   map[uint64]bool // the candidates' texts, folded: a repeat is skipped
	read   int             // words of the passages read
}

// passage adds the candidates of passage p.
func (r *reader) passage(p int, text string) {
	pos, blockBase, listBase := 0, 0, 0
	for chunk := range strings.SplitSeq(text, ChunkSeparator) {
		blocks := parseBlocks(chunk)
		introduced := -1 // blocks up to this one were brought along by a sentence
		for bi, b := range blocks {
			if bi <= introduced || b.kind == blockCode || b.kind == blockHeading || b.kind == blockSkip {
				continue
			}
			sentences := splitSentences(cleanInline(b.text))
			for si, s := range sentences {
				c := quoteCandidate{passage: p, pos: pos, block: blockBase + bi, kind: b.kind, text: s}
				pos++
				if b.kind == blockItem {
					c.list, c.marker = listBase+b.list, b.marker
				}
				lastOfBlock := si == len(sentences)-1
				if strings.HasSuffix(s, ":") && lastOfBlock {
					// Whether quoted or not, what it introduces is its own.
					if c.attach = introducedBlocks(blocks[bi+1:]); c.attach != nil {
						introduced = bi + len(c.attach)
					}
				}
				switch {
				case b.kind != blockItem && !startsLikeSentence(s),
					b.kind == blockItem && bi == 0 && si == 0 && startsLikeFragment(s):
					continue // the rest of a sentence the chunk cut, or a line of code
				case strings.HasSuffix(s, ":"):
					if c.attach == nil {
						continue // it would dangle
					}
				case b.kind != blockItem && !endsSentence(s),
					lastOfBlock && bi == len(blocks)-1 && !endsSentence(s):
					continue // cut by the chunk's end, a label, a command
				}
				if !r.unseen(s) {
					continue
				}
				for _, a := range c.attach {
					if a.kind != blockCode {
						for _, as := range splitSentences(cleanInline(a.text)) {
							r.unseen(as)
						}
					}
				}
				r.add(c)
			}
		}
		// The next chunk's blocks and lists are numbered after this one's.
		blockBase += len(blocks)
		lists := 0
		for _, b := range blocks {
			lists = max(lists, b.list)
		}
		listBase += lists + 1
	}
}

// unseen reports whether no candidate read so far has the sentence s,
// and remembers it.
func (r *reader) unseen(s string) bool {
	key := foldText(s)
	if r.seen[key] {
		return false
	}
	r.seen[key] = true
	return true
}

// add scores nothing yet: it counts the candidate's words and the query
// terms it holds, and keeps it unless it is too long to quote.
func (r *reader) add(c quoteCandidate) {
	c.from = len(r.terms)
	idx := len(r.cands) + 1
	count := func(word string) {
		t, ok := r.query.lookup(word)
		if !ok || r.last[t] == idx {
			return
		}
		r.last[t] = idx
		r.df[t]++
		r.terms = append(r.terms, t)
	}
	if r.query.len() == 0 {
		count = func(string) {}
	}
	c.words = eachWord(c.text, count)
	attached := 0
	for _, a := range c.attach {
		attached += eachWord(a.text, count)
	}
	c.words += attached / 2
	c.to = len(r.terms)
	if c.words > 2*r.budget {
		// Too long to quote whole: its terms are forgotten with it.
		for _, t := range r.terms[c.from:] {
			r.df[t]--
			r.last[t] = 0
		}
		r.terms = r.terms[:c.from]
		return
	}
	r.cands = append(r.cands, c)
}

// introducedBlocks returns the blocks a sentence ending in a colon
// introduces, at the start of rest (the rest of its chunk): a whole code
// block, a quote, or the items of a list; nil when there is none or it
// is too long. The chunk's last block may be cut off by the chunk's end:
// a quote is then kept only if it ends a sentence, a list loses its last
// item unless that one does.
func introducedBlocks(rest []mdBlock) []mdBlock {
	if len(rest) == 0 {
		return nil
	}
	cut := func(n int) bool { return n == len(rest) && !endsSentence(rest[n-1].text) }
	switch b := rest[0]; b.kind {
	case blockCode:
		if b.whole && strings.TrimSpace(b.text) != "" && strings.Count(b.text, "\n") < maxAttachedCodeLines {
			return rest[:1]
		}
	case blockQuote:
		if countWords(b.text) <= maxAttachedQuoteWords && !cut(1) {
			return rest[:1]
		}
	case blockItem:
		n := 1
		for n < len(rest) && rest[n].kind == blockItem && rest[n].list == b.list {
			n++
		}
		if cut(n) {
			n--
		}
		if n > 0 && n <= maxAttachedItems {
			return rest[:n]
		}
	}
	return nil
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// foldText is the key that finds a repeated sentence: a 64-bit FNV-1a
// hash of its words in lowercase, one space between them. A hash rather
// than the folded text: no allocation per sentence, and two different
// sentences of one answer's passages colliding is out of reach.
func foldText(s string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	space := false
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		if r == ' ' || r == '\n' || r == '\t' || r >= utf8.RuneSelf && unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && h != 14695981039346656037 {
			h = (h ^ ' ') * prime
		}
		space = false
		switch {
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		case r >= utf8.RuneSelf:
			r = unicode.ToLower(r)
		}
		for ; r > 0; r >>= 8 {
			h = (h ^ uint64(r&0xff)) * prime
		}
	}
	return h
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
	// Only the candidates that can be picked are sorted: usually a few of
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

// pickInOrder keeps the first candidates, in passage order, that fit in
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

// renderAnswer writes the answer's markdown: the lead sentence, then the
// sentences in passage order and sentence order, those of one block as
// one paragraph (one list for the items of one list), each paragraph
// cited on its last sentence, each introduced block after its sentence.
func renderAnswer(picked []quoteCandidate, passages []Passage) string {
	slices.SortFunc(picked, func(a, b quoteCandidate) int {
		if a.passage != b.passage {
			return a.passage - b.passage
		}
		return a.pos - b.pos
	})
	var b strings.Builder
	b.WriteString(lead(picked, passages))
	// joins tells how picked[i] follows picked[i-1]: in the same
	// paragraph, as the next item of the same list, or neither.
	joins := func(i int) (sameBlock, sameList bool) {
		if i == 0 || i >= len(picked) {
			return false, false
		}
		prev, c := picked[i-1], picked[i]
		if prev.passage != c.passage || prev.attach != nil {
			return false, false
		}
		if prev.block == c.block {
			return true, false
		}
		return false, c.kind == blockItem && prev.kind == blockItem && prev.list == c.list
	}
	for i, c := range picked {
		sameBlock, sameList := joins(i)
		switch {
		case sameBlock:
			b.WriteByte(' ')
		case sameList:
			b.WriteByte('\n')
		default:
			b.WriteString("\n\n")
		}
		if !sameBlock {
			switch c.kind {
			case blockItem:
				b.WriteString(c.marker + " ")
			case blockQuote:
				b.WriteString("> ")
			}
		}
		text := c.text
		if nextBlock, nextList := joins(i + 1); !nextBlock && !nextList {
			text = cite(text, c.passage+1)
		}
		b.WriteString(text)
		for j, a := range c.attach {
			if j == 0 || a.kind != blockItem {
				b.WriteString("\n\n")
			} else {
				b.WriteByte('\n')
			}
			writeBlock(&b, a)
		}
	}
	return b.String()
}

// lead is the answer's first sentence: it names the post when every
// sentence is from one passage that has a title.
func lead(picked []quoteCandidate, passages []Passage) string {
	p := picked[0].passage
	for _, c := range picked {
		if c.passage != p {
			return extractiveIntro
		}
	}
	title := strings.Join(strings.Fields(cleanInline(passages[p].Title)), " ")
	if title == "" {
		return extractiveIntro
	}
	return "Here is what I wrote about this in “" + title + "”:"
}

// cite puts the citation [n] on a sentence: before its final stop or
// colon, else after it.
func cite(s string, n int) string {
	c := " [" + strconv.Itoa(n) + "]"
	if k := len(s) - 1; k > 0 && strings.IndexByte(".!?:", s[k]) >= 0 && s[k-1] != s[k] && s[k-1] != ' ' {
		return s[:k] + c + s[k:]
	}
	return s + c
}

// writeBlock writes a block that a sentence introduced.
func writeBlock(b *strings.Builder, a mdBlock) {
	switch a.kind {
	case blockCode:
		// The fence must be longer than any run of backticks at the start
		// of a line of the code (which a "~~~" block may hold).
		fence := "```"
		for strings.Contains("\n"+a.text, "\n"+fence) {
			fence += "`"
		}
		b.WriteString(fence + strings.Join(strings.Fields(a.lang), "") + "\n")
		b.WriteString(strings.TrimRight(a.text, " \t\n"))
		b.WriteString("\n" + fence)
	case blockQuote:
		b.WriteString("> " + cleanInline(a.text))
	case blockItem:
		b.WriteString(a.marker + " " + cleanInline(a.text))
	}
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
