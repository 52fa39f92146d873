// Package tokenizer is the WordPiece tokenizer of the all-MiniLM-L6-v2
// sentence embedding model, in pure Go, with its real vocabulary embedded.
//
// It reproduces what Hugging Face tokenizers does with the model's
// tokenizer.json, so that a text cut into chunks of N tokens here is N
// word pieces for the model too:
//
//   - special tokens ([PAD], [UNK], [CLS], [SEP], [MASK]) written in the
//     text are matched first, exactly and case-sensitively, as HF does for
//     added tokens that are not normalized;
//   - BertNormalizer: NUL, U+FFFD and control, format and private-use
//     characters (categories Cc, Cf, Co, except \t \n \r) are removed;
//     whitespace becomes a word break; CJK ideographs become words of
//     their own; accents are stripped (NFD, then nonspacing marks Mn are
//     removed); letters are lowercased;
//   - BertPreTokenizer: words split at whitespace, and every punctuation
//     character (ASCII punctuation, or Unicode category P) is a word;
//   - WordPiece: greedy longest match first, continuation pieces prefixed
//     by "##"; a word of more than 100 characters, or one that cannot be
//     covered by vocabulary pieces, is one [UNK].
//
// Every token carries the byte offsets, in the original text, of the
// characters it came from, through normalization: "Café" gives "cafe" with
// offsets 0 and 5. When normalization turns one character into several
// (a Hangul syllable into its jamo), pieces cut inside it share its
// offsets, so offsets never decrease but may overlap.
//
// Character classes come from Go's unicode tables and golang.org/x/text's
// normalization tables, which may be a newer Unicode version than the
// tables HF was built with; only characters assigned in between can differ.
package tokenizer

import (
	_ "embed"
	"errors"
	"fmt"
	"iter"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Name is the model whose tokenizer this is; chunking parameters record it.
const Name = "all-MiniLM-L6-v2"

// vocabTxt is the model's vocabulary, one token per line, line n being id
// n. See NOTICE for where it comes from.
//
//go:embed vocab.txt
var vocabTxt string

const (
	// vocabSize is the number of entries of vocab.txt.
	vocabSize = 30522
	// maxCharsPerWord is WordPiece's max_input_chars_per_word: a longer
	// word (counted in characters after normalization) is one [UNK].
	maxCharsPerWord = 100
	// continuation prefixes the pieces that continue a word.
	continuation = "##"
)

// The special tokens, as HF matches them in raw text (added tokens with
// normalized=false, single_word=false, lstrip=rstrip=false).
var specialTokens = [...]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}

// Token is one word piece of a text.
type Token struct {
	ID   int
	Text string // the vocabulary entry: "##" starts a continuation piece
	// Start and End are byte offsets into the original text: the token
	// came from text[Start:End].
	Start, End int
}

// Tokenizer splits text into all-MiniLM-L6-v2 word pieces. Build it once
// with New and share it: it is safe for concurrent use. Its only state is a
// cache of how words missing from the vocabulary split, which changes no
// result.
type Tokenizer struct {
	vocab         *vocabulary
	special       [len(specialTokens)]int
	unk, cls, sep int
	oov           *splits // how words missing from the vocabulary split
}

// New indexes the embedded vocabulary. It takes about a millisecond: call
// it once and share the Tokenizer.
func New() (*Tokenizer, error) {
	v, err := parseVocabulary(vocabTxt)
	if err != nil {
		return nil, err
	}
	if v.size() != vocabSize {
		return nil, fmt.Errorf("tokenizer: embedded vocabulary has %d entries, want %d", v.size(), vocabSize)
	}
	t := &Tokenizer{vocab: v, oov: &splits{}}
	for i, s := range specialTokens {
		id := v.lookup([]byte(s), false)
		if id < 0 {
			return nil, errors.New("tokenizer: embedded vocabulary lacks " + s)
		}
		t.special[i] = id
	}
	t.unk, t.cls, t.sep = t.special[1], t.special[2], t.special[3]
	return t, nil
}

// Vocab returns the size of the vocabulary (30,522).
func (t *Tokenizer) Vocab() int { return t.vocab.size() }

// Tokenize returns the word pieces of text, without [CLS] and [SEP].
func (t *Tokenizer) Tokenize(text string) []Token {
	// About one token per 4 bytes of English: one allocation, mostly.
	return t.AppendTokens(make([]Token, 0, len(text)/4+1), text)
}

// AppendTokens appends the word pieces of text to dst and returns the
// extended slice, so that a caller can reuse one buffer across texts.
func (t *Tokenizer) AppendTokens(dst []Token, text string) []Token {
	w := walker{t: t, out: dst}
	w.run(text)
	return w.out
}

// Encode returns the token ids the model takes for text: [CLS], the word
// pieces, [SEP]. It does not truncate: the model reads at most 256 ids.
func (t *Tokenizer) Encode(text string) []int {
	toks := t.Tokenize(text)
	ids := make([]int, 0, len(toks)+2)
	ids = append(ids, t.cls)
	for _, tok := range toks {
		ids = append(ids, tok.ID)
	}
	return append(ids, t.sep)
}

// Tokens returns an iterator over the word pieces of text, the same as
// Tokenize's, for callers that keep only part of each token: it does not
// build the slice.
func (t *Tokenizer) Tokens(text string) iter.Seq[Token] {
	return func(yield func(Token) bool) {
		w := walker{t: t, yield: yield}
		w.run(text)
	}
}

// Span is where a word piece of a text is, without the piece: the token's
// offsets, and whether it continues a word (its vocabulary entry starts
// with "##").
type Span struct {
	Start, End int
	Continues  bool
}

// AppendSpans appends the spans of the word pieces of text to dst, one per
// token of Tokenize, for callers that only cut the text (a chunker): it
// builds no Token.
func (t *Tokenizer) AppendSpans(dst []Span, text string) []Span {
	w := walker{t: t, spanning: true, spans: dst}
	w.run(text)
	return w.spans
}

// Count returns the number of word pieces of text, without [CLS] and
// [SEP]: len(Tokenize(text)), without building the tokens.
func (t *Tokenizer) Count(text string) int {
	w := walker{t: t, counting: true}
	w.run(text)
	return w.count
}

// walker holds the state of one pass over a text: the word being built,
// in normalized form, and where each of its bytes came from.
type walker struct {
	t        *Tokenizer
	out      []Token
	counting bool // count tokens instead of appending them to out
	count    int
	spanning bool // append spans instead
	spans    []Span
	// yield, when set, takes the tokens instead; stop is set when it
	// says to.
	yield func(Token) bool
	stop  bool
	// pending holds the pieces of the word being split until it is
	// done, since they can be taken back (see wordPiece). It holds no
	// pointers, unlike Tokens, so filling it costs the collector
	// nothing.
	pending []piece

	// word is the normalized word being built; from[i] and to[i] are the
	// offsets, in the original text, of the character that produced
	// word[i]. Once the word is known to be too long for WordPiece, its
	// bytes are no longer kept: only chars and end grow.
	word     []byte
	from, to []int
	chars    int // characters in the word, kept or not
	end      int // end offset of the word's last character
	// While simple is true, from and to are left empty because word[i]
	// came from text[start+i] alone: most words are runs of ASCII, and
	// this saves two appends a byte.
	simple bool
	start  int
}

// piece is a token before it is delivered; cont marks a continuation
// piece ("##...").
type piece struct {
	id, start, end int
	cont           bool
}

func (w *walker) emit(id, start, end int) {
	w.pending = append(w.pending, piece{id, start, end, false})
}

// emitPiece emits a piece of a split word.
func (w *walker) emitPiece(id, start, end int, cont bool) {
	w.pending = append(w.pending, piece{id, start, end, cont})
}

// deliver hands the pieces of the word just done to whoever takes them.
func (w *walker) deliver() {
	switch {
	case w.counting:
		w.count += len(w.pending)
	case w.spanning:
		for _, p := range w.pending {
			w.spans = append(w.spans, Span{Start: p.start, End: p.end, Continues: p.cont})
		}
	case w.yield != nil:
		for _, p := range w.pending {
			if w.stop {
				break // yield must not be called again
			}
			w.stop = !w.yield(Token{ID: p.id, Text: w.t.vocab.entry(p.id), Start: p.start, End: p.end})
		}
	default:
		for _, p := range w.pending {
			w.out = append(w.out, Token{ID: p.id, Text: w.t.vocab.entry(p.id), Start: p.start, End: p.end})
		}
	}
	w.pending = w.pending[:0]
}

// run tokenizes text. The cases follow HF's order: special tokens on the
// raw text, then BertNormalizer's cleaning, Chinese characters, accents
// and case, then BertPreTokenizer's whitespace and punctuation splits.
func (w *walker) run(text string) {
	for i := 0; i < len(text) && !w.stop; {
		c := text[i]
		if c < utf8.RuneSelf {
			switch class := asciiClass[c]; class {
			case asciiDrop:
			case asciiSpace:
				w.flush()
			case asciiPunct:
				if c == '[' {
					if n := w.special(text[i:], i); n > 0 {
						i += n
						continue
					}
				}
				w.flush()
				w.add(c, i, i+1)
				w.flush()
			default: // asciiLetter, asciiUpper: take the whole run
				j := i + 1
				for j < len(text) && text[j] < utf8.RuneSelf && asciiClass[text[j]] <= asciiUpper {
					j++
				}
				w.addASCII(text[i:j], i)
				i = j
				continue
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == utf8.RuneError:
			// U+FFFD, which BertNormalizer removes, or a byte that is
			// not UTF-8 (a Go string may hold any bytes; Rust's may
			// not), which Go decodes as U+FFFD: drop both.
		case isControl(r):
		case unicode.IsSpace(r):
			w.flush()
		case isChinese(r):
			w.flush()
			w.addRune(r, i, i+size)
			w.flush()
		default:
			w.addRune(r, i, i+size)
		}
		i += size
	}
	w.flush()
}

// special emits the special token s starts with, if any, and returns its
// length.
func (w *walker) special(s string, at int) int {
	for k, name := range specialTokens {
		if strings.HasPrefix(s, name) {
			w.flush()
			w.emit(w.t.special[k], at, at+len(name))
			w.deliver()
			return len(name)
		}
	}
	return 0
}

// addRune adds the non-ASCII character r, found at text[from:to], to the
// word: decomposed (NFD), without its nonspacing marks, lowercased, and
// with punctuation split off.
func (w *walker) addRune(r rune, from, to int) {
	if r >= hangulBase && r < hangulBase+hangulCount {
		// x/text/norm does not expose Hangul decompositions, which are
		// computed rather than stored (Unicode 3.12).
		s := r - hangulBase
		w.addNormalized(hangulL+s/(hangulV*hangulT), from, to)
		w.addNormalized(hangulVBase+s%(hangulV*hangulT)/hangulT, from, to)
		if t := s % hangulT; t != 0 {
			w.addNormalized(hangulTBase+t, from, to)
		}
		return
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	d := norm.NFD.Properties(buf[:n]).Decomposition()
	if d == nil {
		w.addNormalized(r, from, to)
		return
	}
	for len(d) > 0 {
		dr, size := utf8.DecodeRune(d)
		d = d[size:]
		w.addNormalized(dr, from, to)
	}
}

// addNormalized adds one character of a decomposition.
func (w *walker) addNormalized(r rune, from, to int) {
	if r < utf8.RuneSelf {
		// A decomposition may end in ASCII: é is e + U+0301, and U+037E
		// (Greek question mark) is ';', which is punctuation.
		switch class := asciiClass[r]; class {
		case asciiDrop:
		case asciiSpace:
			w.flush()
		case asciiPunct:
			w.flush()
			w.add(byte(r), from, to)
			w.flush()
		default:
			if class == asciiUpper {
				r += 'a' - 'A'
			}
			w.add(byte(r), from, to)
		}
		return
	}
	switch {
	case unicode.Is(unicode.Mn, r):
		return
	case unicode.IsSpace(r):
		w.flush()
		return
	}
	r = unicode.ToLower(r)
	if unicode.IsPunct(r) {
		w.flush()
		w.addUTF8(r, from, to)
		w.flush()
		return
	}
	w.addUTF8(r, from, to)
}

// add appends one normalized ASCII byte that came from text[from:to].
func (w *walker) add(c byte, from, to int) {
	if len(w.word) == 0 {
		w.simple, w.start = true, from
	}
	w.end = to
	w.chars++
	if w.chars > maxCharsPerWord+1 {
		return // already too long: only the count and the end matter
	}
	if w.simple {
		if from == w.start+len(w.word) && to == from+1 {
			w.word = append(w.word, c)
			return
		}
		w.materialize()
	}
	w.word = append(w.word, c)
	w.from = append(w.from, from)
	w.to = append(w.to, to)
}

// addASCII appends run, letters and digits found at text[at:], lowercased.
func (w *walker) addASCII(run string, at int) {
	if len(w.word) == 0 {
		w.simple, w.start = true, at
	}
	w.end = at + len(run)
	keep := maxCharsPerWord + 1 - w.chars // enough to tell a word is too long
	w.chars += len(run)
	if keep <= 0 {
		return
	}
	run = run[:min(len(run), keep)]
	if w.simple && at != w.start+len(w.word) {
		w.materialize()
	}
	n := len(w.word)
	w.word = append(w.word, run...)
	for k := n; k < len(w.word); k++ {
		if c := w.word[k]; 'A' <= c && c <= 'Z' {
			w.word[k] = c + 'a' - 'A'
		}
	}
	if !w.simple {
		for k := range len(run) {
			w.from = append(w.from, at+k)
			w.to = append(w.to, at+k+1)
		}
	}
}

// addUTF8 appends one normalized character that came from text[from:to].
func (w *walker) addUTF8(r rune, from, to int) {
	if len(w.word) == 0 {
		w.simple, w.start = false, from
	}
	w.end = to
	w.chars++
	if w.chars > maxCharsPerWord+1 {
		return
	}
	if w.simple {
		w.materialize()
	}
	w.word = utf8.AppendRune(w.word, r)
	for len(w.from) < len(w.word) {
		w.from = append(w.from, from)
		w.to = append(w.to, to)
	}
}

// materialize fills from and to for the bytes of a simple word, which
// stops being simple.
func (w *walker) materialize() {
	for i := range w.word {
		w.from = append(w.from, w.start+i)
		w.to = append(w.to, w.start+i+1)
	}
	w.simple = false
}

// span returns the original offsets of word[i:j].
func (w *walker) span(i, j int) (start, end int) {
	if w.simple {
		return w.start + i, w.start + j
	}
	return w.from[i], w.to[j-1]
}

// flush splits the word built so far into word pieces and starts a new
// one.
func (w *walker) flush() {
	if len(w.word) == 0 {
		return
	}
	w.wordPiece()
	w.deliver()
	w.word, w.from, w.to = w.word[:0], w.from[:0], w.to[:0]
	w.chars = 0
}

// wordPiece emits the pieces of the word: the longest vocabulary entry
// that starts it, then the longest continuation piece of the rest, and so
// on. A word no pieces cover is one [UNK], as in HF: partial pieces are
// taken back.
func (w *walker) wordPiece() {
	t := w.t
	start, end := w.start, w.end
	if w.chars > maxCharsPerWord {
		w.emit(t.unk, start, end)
		return
	}
	v := t.vocab
	if id := v.lookup(w.word, false); id >= 0 { // most words: no split
		w.emit(id, start, end)
		return
	}
	// A word that splits costs a lookup per candidate piece, a dozen for
	// a long word: remember the split of words whose bytes map one to one
	// to the text (all the common ones), in offsets from their start.
	if w.simple {
		if pieces, ok := t.oov.get(w.word); ok {
			for k, p := range pieces {
				w.emitPiece(int(p.id), start+int(p.from), start+int(p.to), k > 0)
			}
			return
		}
		defer func() {
			pieces := make([]split, len(w.pending))
			for k, p := range w.pending {
				pieces[k] = split{id: int32(p.id), from: uint8(p.start - start), to: uint8(p.end - start)}
			}
			t.oov.put(w.word, pieces)
		}()
	}
	for i := 0; i < len(w.word); {
		cont, longest := i > 0, v.maxWord
		if cont {
			longest = v.maxPiece
		}
		// Candidates end at every byte, not only at character
		// boundaries: one that splits a character is not valid UTF-8,
		// so it is in no vocabulary and the search moves on, as HF's
		// character-wise search would.
		id := -1
		j := min(len(w.word), i+longest)
		for ; j > i; j-- {
			if id = v.lookup(w.word[i:j], cont); id >= 0 {
				break
			}
		}
		if id < 0 {
			w.pending = w.pending[:0]
			w.emit(t.unk, start, end)
			return
		}
		from, to := w.span(i, j)
		w.emitPiece(id, from, to, cont)
		i = j
	}
}

// ASCII character classes, after BertNormalizer and BertPreTokenizer.
const (
	asciiLetter = iota // kept as is: lowercase letters, digits
	asciiUpper         // lowercased
	asciiDrop          // control characters other than \t \n \r: removed
	asciiSpace         // \t \n \r and space: word break
	asciiPunct         // Rust's is_ascii_punctuation: a word of its own
)

var asciiClass = func() (c [utf8.RuneSelf]uint8) {
	for i := range c {
		switch b := byte(i); {
		case b == '\t' || b == '\n' || b == '\r' || b == ' ':
			c[i] = asciiSpace
		case b < 0x20 || b == 0x7f:
			// \v and \f are whitespace to Rust, but control
			// characters first: the cleaning removes them.
			c[i] = asciiDrop
		case 'A' <= b && b <= 'Z':
			c[i] = asciiUpper
		case strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", b) >= 0:
			c[i] = asciiPunct
		default:
			c[i] = asciiLetter
		}
	}
	return c
}()

// isControl reports whether BertNormalizer removes r: Rust's is_other
// (from the unicode_categories crate) is Cc, Cf or Co; \t \n \r are
// handled before.
func isControl(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co)
}

// isChinese reports whether r is in one of the CJK ideograph blocks that
// BertNormalizer makes words of their own (its table, including its gap
// between 0x2B81F and 0x2B920).
func isChinese(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF,
		r >= 0x3400 && r <= 0x4DBF,
		r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F,
		r >= 0x2B740 && r <= 0x2B81F,
		r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF,
		r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// Hangul syllable decomposition constants (Unicode 3.12).
const (
	hangulBase  = 0xAC00
	hangulL     = 0x1100
	hangulVBase = 0x1161
	hangulTBase = 0x11A7
	hangulV     = 21
	hangulT     = 28
	hangulCount = 19 * hangulV * hangulT
)
