package llm

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// splitSentences cuts text into sentences, trimmed of surrounding space,
// in order. A sentence ends at '.', '!' or '?' (with any closing quotes or
// brackets after it) followed by space, at a blank line, and at a line
// break before a line that does not start with a lowercase letter (a list
// item, a heading, a code line). It does not end at a '.' after a known
// abbreviation ("e.g.", "Dr.") or an initial ("J."), nor before a word in
// lowercase ("etc. and"), which is how most false stops look.
//
// Every cut is at a space, so the words (strings.Fields) of the sentences
// are exactly the words of text: the extractive answerer can quote a
// sentence without changing a word of it. Any input is accepted; text
// without stops (code, a table) is one long sentence.
func splitSentences(text string) []string {
	var out []string
	start := 0
	cut := func(end int) {
		if s := strings.TrimSpace(text[start:end]); s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\n':
			if lineBreakEndsSentence(text[i+1:]) {
				cut(i)
			}
		case '.', '!', '?':
			end, ok := sentenceStop(text, i)
			if ok {
				cut(end)
			}
			// A run of stops ("...") ends a sentence at its first stop or
			// not at all: going on after it keeps a long run linear.
			i = end - 1
		}
	}
	cut(len(text))
	return out
}

// sentenceStop reports whether the stop at text[i] ends a sentence, and
// where the sentence would end: after the run of stops and closing marks
// that starts at i, where a space must follow.
func sentenceStop(text string, i int) (int, bool) {
	j := i + 1
	for j < len(text) && (text[j] == '.' || text[j] == '!' || text[j] == '?') {
		j++ // "...", "?!"
	}
	for j < len(text) {
		r, size := utf8.DecodeRuneInString(text[j:])
		if !isClosing(r) {
			break
		}
		j += size
	}
	if j == len(text) {
		return j, true
	}
	r, size := utf8.DecodeRuneInString(text[j:])
	if !unicode.IsSpace(r) {
		return j, false // "3.14", "example.com", "a.b()"
	}
	next := strings.TrimLeftFunc(text[j+size:], unicode.IsSpace)
	if startsLower(next) {
		return j, false
	}
	if j == i+1 && text[i] == '.' && isAbbreviation(wordBefore(text, i)) {
		return j, false
	}
	return j, true
}

// lineBreakEndsSentence reports whether a line break followed by rest ends
// a sentence. Hard-wrapped prose continues in lowercase; anything else
// after a line break (a capital, a digit, a list marker, code) is taken as
// a new sentence, so lists and code lines are quoted line by line.
func lineBreakEndsSentence(rest string) bool {
	rest = strings.TrimLeft(rest, " \t\r")
	if rest == "" || rest[0] == '\n' {
		return true
	}
	return !startsLower(rest)
}

// wordBefore returns the letters and dots just before text[i] ("e.g" for
// the last stop of "e.g."), up to the length of the longest abbreviation
// and one more, enough to tell one.
func wordBefore(text string, i int) string {
	j := i
	for j > 0 && i-j <= len("approx") {
		c := text[j-1]
		if c != '.' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			break
		}
		j--
	}
	return text[j:i]
}

func startsLower(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLower(r)
}

func isClosing(r rune) bool {
	switch r {
	case '"', '\'', ')', ']', '}', '\u2019', '\u201d', '\u00bb', '*', '_', '`':
		return true
	}
	return false
}

// isAbbreviation reports whether word (the letters before a '.') is an
// abbreviation that rarely ends a sentence. "etc." is not one: it ends
// sentences as often as not, and "etc. and" is caught by the lowercase
// rule.
func isAbbreviation(word string) bool {
	if len(word) == 1 {
		return true // an initial: "J. R. R. Tolkien"
	}
	switch strings.ToLower(word) {
	case "e.g", "i.e", "cf", "vs", "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st",
		"fig", "figs", "eq", "vol", "approx", "al", "inc", "ltd", "jan", "feb",
		"mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k":
		return true
	}
	return false
}

// Sentences cuts text into sentences as the extractive answerer does (see
// splitSentences): the evaluation of answers judges them sentence by
// sentence with the same cut.
func Sentences(text string) []string { return splitSentences(text) }
