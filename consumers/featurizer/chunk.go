package featurizer

import (
	"slices"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/models/tokenizer"
	"github.com/twin-llm/twin/schemas"
)

// Chunking strategies (ChunkParams.Strategy): the order in which
// boundaries are preferred when a window must be cut.
const (
	// StrategyText cuts prose: at a paragraph break, else at the end of
	// a sentence, else at a line break, else between words.
	StrategyText = "text"
	// StrategyCode cuts code and markdown full of it: at a blank line,
	// else at a line break (never inside a line of code, if the window
	// has a line break at all), else at the end of a sentence, else
	// between words.
	StrategyCode = "code"
)

// ChunkParams says how ChunkText cuts a text. It is recorded with every
// chunk (see Chunking), so that chunks cut otherwise can be found and
// rebuilt.
type ChunkParams struct {
	Strategy string `json:"strategy"`
	// Tokenizer names the tokenizer Size and Overlap count in.
	Tokenizer string `json:"tokenizer"`
	// Size is the most tokens a chunk has, [CLS] and [SEP] not counted
	// (at least MinSize).
	Size int `json:"size"`
	// Overlap is about how many tokens consecutive chunks share: the
	// next chunk starts at the first word boundary at most Overlap
	// tokens before the end of the last.
	Overlap int `json:"overlap"`
}

// DefaultParams returns the chunking parameters of a category (see
// Category for the names it takes).
//
// all-MiniLM-L6-v2 reads at most 256 word pieces, [CLS] and [SEP]
// included, and silently drops the rest; it was fine-tuned on inputs of
// 128. Hence:
//   - articles: 254 tokens, the most one vector can see, so that every
//     token of a chunk is embedded; 32 tokens of overlap (one or two
//     sentences) keep a sentence cut at a boundary findable from both
//     chunks.
//   - posts: 128 and 16. Posts are short (a 1,300-character LinkedIn
//     post is about 300 tokens) and dense with separate points; chunks
//     of the model's training length keep one point per vector, and most
//     posts are a single chunk anyway.
//   - repositories: 254 and 48. Code spends more tokens per line than
//     prose (identifiers split into pieces, every bracket a token), so
//     a window holds less of it; but a window beyond 254 (the 384 one
//     could argue for) would leave a third of each chunk out of its
//     embedding, unsearchable by the dense vector. The overlap is
//     larger instead (about a fifth): a cut between two lines of code
//     loses more context (the enclosing signature, the loop) than one
//     between sentences.
func DefaultParams(category string) ChunkParams {
	p := ChunkParams{Strategy: StrategyText, Tokenizer: tokenizer.Name, Size: 254, Overlap: 32}
	switch Category(category) {
	case CategoryPosts:
		p.Size, p.Overlap = 128, 16
	case CategoryRepositories:
		p.Strategy, p.Size, p.Overlap = StrategyCode, 254, 48
	}
	return p
}

// Chunking returns p as the embed job records it: as ChunkText applies it
// (see there for the values it fixes), so that the record is true.
func (p ChunkParams) Chunking() schemas.Chunking {
	p = p.sane()
	return schemas.Chunking{Strategy: p.Strategy, Tokenizer: p.Tokenizer, Size: p.Size, Overlap: p.Overlap}
}

// Chunk is one piece of a text, embedded as one vector.
type Chunk struct {
	Index  int    // position in the text, from 0
	Text   string // the text between Start and End, as it is there
	Tokens int    // tokens in Text, [CLS] and [SEP] not counted
	// Start and End are the byte offsets of Text in the chunked text.
	Start, End int
}

// ChunkText cuts text into chunks of at most p.Size tokens of tok,
// consecutive chunks sharing about p.Overlap tokens.
//
// A window is cut at the best boundary in its second half: for
// StrategyText a paragraph break, else a sentence end, else a line
// break, else a space; for StrategyCode line breaks come before sentence
// ends. When the second half has no paragraph or sentence end (a line
// break for code), a shorter chunk ending at one is preferred. A cut
// falls inside a word only when a single run of characters without
// spaces or punctuation is longer than the window.
//
// Chunk texts are slices of text, so nothing is lost or changed by
// detokenizing: a chunk starts with the indentation of its first line and
// ends with any characters the tokenizer drops right after its last
// token. What no chunk covers holds no tokens (spaces, mostly). A text
// with tokens gives at least one chunk, the whole text if it fits; a text
// without (empty, or only spaces) gives none.
//
// p.Size below 1 means the articles default, and below MinSize MinSize;
// p.Overlap is kept between 0 and p.Size/2, so that each chunk brings at
// least half a window of new text; an unknown strategy is StrategyText.
// tok must not be nil.
func ChunkText(text string, tok *tokenizer.Tokenizer, p ChunkParams) []Chunk {
	p = p.sane()
	// Spans rather than tokenizer.Tokens: all the chunker needs, without
	// pointers for the collector to scan, and without building a Token
	// per piece. The buffers are reused across calls.
	buf := chunkBuffers.Get().(*chunkBuffer)
	defer chunkBuffers.Put(buf)
	toks := tok.AppendSpans(buf.toks[:0], text)
	buf.toks = toks
	if len(toks) == 0 {
		return nil
	}
	c := chunker{text: text, tok: tok, toks: toks, p: p}
	c.rank = slices.Grow(buf.rank[:0], len(toks))[:len(toks)]
	clear(c.rank)
	buf.rank = c.rank
	c.rankCuts()
	chunks := make([]Chunk, 0, len(toks)/(p.Size-p.Overlap)+1)
	for s, prev := 0, 0; ; {
		e := len(toks)
		if e-s > p.Size {
			e = c.end(s, prev)
		}
		ch := c.chunk(s, e)
		e = ch.lastToken
		ch.Index = len(chunks)
		chunks = append(chunks, ch.Chunk)
		if e == len(toks) {
			return chunks
		}
		s, prev = c.nextStart(s, e), e
	}
}

// MinSize is the smallest ChunkParams.Size ChunkText uses. A window must
// hold what is left of a word cut in two: a continuation piece is at most
// 10 bytes, so at most 10 tokens once it starts a chunk.
const MinSize = 16

// sane returns p with the fixes ChunkText documents.
func (p ChunkParams) sane() ChunkParams {
	if p.Size < 1 {
		p.Size = DefaultParams(CategoryArticles).Size
	}
	p.Size = max(p.Size, MinSize)
	p.Overlap = max(0, min(p.Overlap, p.Size/2))
	if p.Strategy != StrategyCode {
		p.Strategy = StrategyText
	}
	p.Tokenizer = tokenizer.Name // the only one there is
	return p
}

// How good a place to cut a boundary between two tokens is: the higher
// the better. The order of sentence ends and line breaks depends on the
// strategy.
const (
	rankNone      int8 = iota // inside a word: between two pieces of it
	rankJoin                  // between words with no space: punctuation, CJK characters
	rankWord                  // a space
	rankLow                   // the lesser of a sentence end and a line break
	rankHigh                  // the greater of them
	rankParagraph             // a blank line
)

// chunkBuffer is the scratch of one ChunkText call.
type chunkBuffer struct {
	toks []span
	rank []int8
}

var chunkBuffers = sync.Pool{New: func() any { return new(chunkBuffer) }}

// span is where a token of the text is, and whether it continues a word.
type span = tokenizer.Span

// chunker holds the state of one ChunkText call.
type chunker struct {
	text string
	tok  *tokenizer.Tokenizer
	toks []span
	p    ChunkParams
	// rank[b] ranks the boundary before token b, for 0 < b < len(toks).
	rank []int8
}

// rankCuts ranks every boundary between tokens, into c.rank (zeroed, one
// per token).
func (c *chunker) rankCuts() {
	sentence, line := rankHigh, rankLow
	if c.p.Strategy == StrategyCode {
		sentence, line = rankLow, rankHigh
	}
	for b := 1; b < len(c.toks); b++ {
		prev, next := c.toks[b-1], c.toks[b]
		if next.Start < prev.End || next.Continues {
			continue // rankNone
		}
		newlines, blank, space := scanGap(c.text[prev.End:next.Start])
		r := rankJoin
		switch {
		case blank:
			r = rankParagraph
		case c.endsSentence(b, space):
			r = sentence
			if newlines > 0 {
				r = max(sentence, line)
			}
		case newlines > 0:
			r = line
		case space:
			r = rankWord
		}
		c.rank[b] = r
	}
}

// scanGap reports what separates two tokens: how many line breaks,
// whether a blank line (two line breaks with nothing but spaces between
// them), and whether any space at all.
func scanGap(gap string) (newlines int, blank, space bool) {
	onlySpaces := false // since the last line break
	for _, r := range gap {
		switch {
		case r == '\n':
			if newlines > 0 && onlySpaces {
				blank = true
			}
			newlines++
			space, onlySpaces = true, true
		case unicode.IsSpace(r):
			space = true
		default:
			onlySpaces = false
		}
	}
	return newlines, blank, space
}

// endsSentence reports whether the boundary before token b follows the
// end of a sentence: a full stop, question or exclamation mark, maybe
// followed by closing quotes or brackets, and then a space, or one of
// the CJK full stops, which need none.
func (c *chunker) endsSentence(b int, space bool) bool {
	for i := b - 1; i >= 0 && i >= b-3; i-- {
		t := c.toks[i]
		switch c.text[t.Start:t.End] {
		case ".", "!", "?":
			return space
		case "。", "！", "？", "…":
			return true
		case `"`, "'", ")", "]", "”", "’", "»":
			continue // closing: look at what it closes
		}
		return false
	}
	return false
}

// end returns where the chunk starting at token s ends (exclusive), when
// the rest is longer than a window; the chunk before it ended at prev.
func (c *chunker) end(s, prev int) int {
	size := c.p.Size
	hi := s + size
	// Every cut considered is after prev, or the same chunk end would
	// come round again; and a chunk cut short for a better boundary
	// still brings a quarter window of new text, or a text with rare
	// good boundaries would crawl forward in tiny chunks.
	next := max(s, prev) + 1
	enough := max(s, prev) + max(1, (size-c.p.Overlap)/4)
	best, at := c.best(max(next, s+size/2), hi)
	if best >= rankHigh {
		return at
	}
	// No paragraph break or sentence end (line break, for code) in
	// the second half: one earlier is worth a shorter chunk. Prose
	// looks back to a quarter of the window; code as far as it may.
	floor := max(enough, s+size/4)
	if c.p.Strategy == StrategyCode {
		floor = enough
	}
	if r, a := c.best(floor, hi); r >= rankHigh {
		return a
	}
	if best >= rankWord {
		return at
	}
	// No space in the whole second half: a long URL, a run of CJK.
	if r, a := c.best(next, hi); r >= rankJoin {
		return a
	}
	return hi // one word longer than the window: cut between pieces
}

// best returns the highest rank of the boundaries lo to hi, inclusive,
// and where the last of them is.
func (c *chunker) best(lo, hi int) (rank int8, at int) {
	rank, at = -1, -1
	for b := hi; b >= lo; b-- {
		if c.rank[b] > rank {
			rank, at = c.rank[b], b
		}
	}
	return rank, at
}

// nextStart returns where the chunk after the one of tokens s to e starts:
// Overlap tokens before e, moved to the nearest start of a sentence or a
// line up to half of Overlap away, or else forward to the first space.
func (c *chunker) nextStart(s, e int) int {
	overlap := c.p.Overlap
	if overlap == 0 {
		return e
	}
	// The next chunk must reach a boundary after e: when a long word (a
	// hash, a URL) follows e, start late enough for a window to hold
	// it, or the next cut would fall inside it. (A word no window holds
	// is cut inside anyway.)
	first := s + 1
	for f := e + 1; f <= len(c.toks) && f < e+c.p.Size; f++ {
		if f == len(c.toks) || c.rank[f] >= rankJoin {
			first = max(first, f-c.p.Size)
			break
		}
	}
	// And at most half a window back, so that the next chunk brings at
	// least half a window of new text.
	least := max(first, e-c.p.Size/2)
	lo := max(least, e-overlap)
	if lo >= e {
		return e
	}
	for d := 0; d <= overlap/2; d++ {
		if b := lo - d; b >= least && c.rank[b] >= rankLow {
			return b
		}
		if b := lo + d; b < e && c.rank[b] >= rankLow {
			return b
		}
	}
	// Else at the first space after that, or the last one before: a
	// long word in the way makes the overlap larger rather than start
	// the chunk inside it. Then likewise at a boundary between words
	// without a space (punctuation, CJK); then inside a word longer than
	// the overlap allows.
	for _, floor := range [...]int8{rankWord, rankJoin} {
		for b := lo; b < e; b++ {
			if c.rank[b] >= floor {
				return b
			}
		}
		for b := lo - 1; b >= least; b-- {
			if c.rank[b] >= floor {
				return b
			}
		}
	}
	return lo
}

// chunkAt is a Chunk and the token it really ends before, which may be
// before the one asked for (see chunk).
type chunkAt struct {
	Chunk
	lastToken int
}

// chunk returns the chunk of tokens s to e (exclusive).
func (c *chunker) chunk(s, e int) chunkAt {
	start := c.startByte(s)
	end := c.endByte(e)
	tokens := e - s
	if s > 0 && c.rank[s] == rankNone {
		// Starting inside a word, the chunk's text does not give the
		// same pieces: "##ffa" becomes "ffa", which is maybe more than
		// one. Count them as the embedder will, and give the chunk up
		// to the window. (Ending inside a word changes nothing:
		// WordPiece matches from the left.)
		tokens = c.tok.Count(c.text[start:end])
		for tokens > c.p.Size && e > s+1 {
			e--
			end = c.endByte(e)
			tokens = c.tok.Count(c.text[start:end])
		}
	}
	return chunkAt{Chunk{Text: c.text[start:end], Tokens: tokens, Start: start, End: end}, e}
}

// startByte returns where a chunk starting with token s starts: after the
// last space before it, taking in what the tokenizer dropped there, and
// the indentation of the line if the token is the first of its line.
func (c *chunker) startByte(s int) int {
	start := c.toks[s].Start
	prevEnd := 0
	if s > 0 {
		prevEnd = c.toks[s-1].End
	}
	if prevEnd >= start {
		return start
	}
	gap := c.text[prevEnd:start]
	i := len(gap)
	for i > 0 {
		r, size := utf8.DecodeLastRuneInString(gap[:i])
		if unicode.IsSpace(r) {
			break
		}
		i -= size
	}
	if i == 0 && s > 0 {
		// No space: the dropped characters belong with the token before.
		return start
	}
	j := i
	for j > 0 && (gap[j-1] == ' ' || gap[j-1] == '\t') {
		j--
	}
	if j == 0 && s == 0 || j > 0 && gap[j-1] == '\n' {
		return prevEnd + j // indentation
	}
	return prevEnd + i
}

// endByte returns where a chunk ending before token e ends: after its last
// token and what the tokenizer dropped right after it, up to a space.
func (c *chunker) endByte(e int) int {
	end := c.toks[e-1].End
	next := len(c.text)
	if e < len(c.toks) {
		next = c.toks[e].Start
	}
	for end < next {
		r, size := utf8.DecodeRuneInString(c.text[end:next])
		if unicode.IsSpace(r) {
			break
		}
		end += size
	}
	return end
}
