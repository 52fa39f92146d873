package llm

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/models/embed"
)

// maxTermBytes drops longer words, as embed.Tokens does: a "word" that
// long is a hash or a URL fragment, never a question's term.
const maxTermBytes = 64

// eachWord calls fn with each word of text, as embed.Tokens cuts words
// (maximal runs of letters, digits and combining marks) but without
// lowercasing them or allocating: the extractive answerer reads thousands
// of words per answer and looks at few of them closely. It returns the
// number of words strings.Fields would find, which the answerer needs
// too and which costs nothing more in the same pass.
func eachWord(text string, fn func(word string)) (fields int) {
	start := -1      // start of the current word, -1 outside one
	inField := false // inside a run of non-space
	for i := 0; i < len(text); {
		c, size := rune(text[i]), 1
		var isWord, isSpace bool
		if c < utf8.RuneSelf {
			isWord = isASCIIWordByte(byte(c))
			isSpace = c == ' ' || c >= '\t' && c <= '\r'
		} else {
			c, size = utf8.DecodeRuneInString(text[i:])
			isWord = c != utf8.RuneError && (unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.Is(unicode.Mn, c))
			isSpace = unicode.IsSpace(c)
		}
		switch {
		case isWord && start < 0:
			start = i
		case !isWord && start >= 0:
			if i-start <= maxTermBytes {
				fn(text[start:i])
			}
			start = -1
		}
		if !isSpace && !inField {
			fields++
		}
		inField = !isSpace
		i += size
	}
	if start >= 0 && len(text)-start <= maxTermBytes {
		fn(text[start:])
	}
	return fields
}

func isASCIIWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// termSet is the question's terms: lowercase Porter stems, as the BM25
// index cuts them, without stop words and question words, each with its
// index.
type termSet struct {
	index map[string]int
	// Stemming only ever rewrites a word's ending after its second
	// letter, but for one case: a 'y' second letter becomes 'i' when the
	// stem is those two letters ("eyed" → "ei"). So a stem of two letters
	// or more starts with the word's first two (or with 'i' for 'y'), a
	// stem of one with its first, and a word whose first two letters
	// (lowercased) start no term cannot match one: most words of a
	// passage are dismissed here without being lowercased or stemmed.
	// heads holds the first two bytes of the terms of two bytes or more,
	// short[c] is set for a one-byte term c, and nonASCII when a term
	// starts with a byte outside ASCII (those words take the slow path).
	heads    []uint16
	short    [128]bool
	nonASCII bool
}

// maxQueryTerms bounds the terms taken from a question: past it the
// "question" is a pasted document, and its first terms are enough.
const maxQueryTerms = 64

func newTermSet(question string) *termSet {
	ts := &termSet{index: make(map[string]int)}
	eachWord(question, func(word string) {
		if len(ts.index) == maxQueryTerms {
			return
		}
		word = strings.ToLower(word)
		if isStopWord(word) || isQuestionWord(word) {
			return
		}
		st := embed.Stem(word)
		if _, ok := ts.index[st]; ok {
			return
		}
		ts.index[st] = len(ts.index)
		switch {
		case st[0] >= utf8.RuneSelf || len(st) > 1 && st[1] >= utf8.RuneSelf:
			ts.nonASCII = true
		case len(st) == 1:
			ts.short[st[0]] = true
		default:
			ts.heads = append(ts.heads, uint16(st[0])<<8|uint16(st[1]))
		}
	})
	return ts
}

func (ts *termSet) len() int { return len(ts.index) }

// lookup returns the index of word's term, if word (as cut by eachWord,
// in any case) is one of the question's terms.
func (ts *termSet) lookup(word string) (int, bool) {
	if !ts.mayMatch(word) {
		return 0, false
	}
	word = strings.ToLower(word) // no allocation when already lowercase
	if isStopWord(word) {
		return 0, false
	}
	t, ok := ts.index[embed.Stem(word)]
	return t, ok
}

// mayMatch is the test on the first two letters of word described at
// termSet.
func (ts *termSet) mayMatch(word string) bool {
	c0 := lowerASCII(word[0])
	if c0 >= utf8.RuneSelf || len(word) > 1 && word[1] >= utf8.RuneSelf {
		return ts.nonASCII
	}
	if ts.short[c0] {
		return true
	}
	if len(word) < 2 {
		return false
	}
	c1 := lowerASCII(word[1])
	head, alt := uint16(c0)<<8|uint16(c1), uint16(0)
	if c1 == 'y' {
		alt = uint16(c0)<<8 | 'i'
	}
	for _, h := range ts.heads {
		if h == head || h == alt {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// countWords is len(strings.Fields(s)) without the slice.
func countWords(s string) int {
	n, inWord := 0, false
	for i := 0; i < len(s); {
		var space bool
		if c := s[i]; c < utf8.RuneSelf {
			space = c == ' ' || c >= '\t' && c <= '\r'
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			space = unicode.IsSpace(r)
			i += size
		}
		if space {
			inWord = false
		} else if !inWord {
			inWord = true
			n++
		}
	}
	return n
}
