package embed

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxTokenBytes drops longer tokens: past this length a "word" is almost
// always a hash, a base64 blob or a URL fragment that no query will ever
// type, and the hashed model would pay for its character n-grams.
const maxTokenBytes = 64

// Tokens splits text into lowercase word tokens: maximal runs of Unicode
// letters, digits and combining marks. Everything else, underscores and
// hyphens included, separates tokens, so "snake_case" and "IL-10" give two
// tokens each, like a Unicode \w+ that also splits on "_". Tokens longer
// than 64 bytes are dropped. Invalid UTF-8 bytes are separators.
//
// BM25 and the hashed model both start from these tokens, so a query and a
// chunk are always cut the same way.
func Tokens(text string) []string {
	return appendTokens(nil, text)
}

// appendTokens appends the tokens of text to dst. A token that is already
// lowercase ASCII is a substring of text (no allocation); others are
// lowered into a new string.
func appendTokens(dst []string, text string) []string {
	start := -1   // byte offset of the current token, -1 outside one
	plain := true // the current token is lowercase ASCII letters and digits
	for i := 0; i < len(text); {
		c := text[i]
		word, lowerASCII, size := false, false, 1
		if c < utf8.RuneSelf {
			word = isASCIIWord(c)
			lowerASCII = word && (c < 'A' || c > 'Z')
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(text[i:])
			// RuneError of width 1 is an invalid byte: a separator.
			word = r != utf8.RuneError && isWordRune(r)
		}
		if word {
			if start < 0 {
				start, plain = i, true
			}
			plain = plain && lowerASCII
		} else if start >= 0 {
			dst = appendToken(dst, text[start:i], plain)
			start = -1
		}
		i += size
	}
	if start >= 0 {
		dst = appendToken(dst, text[start:], plain)
	}
	return dst
}

func appendToken(dst []string, tok string, plain bool) []string {
	if len(tok) > maxTokenBytes {
		return dst
	}
	if !plain {
		tok = strings.ToLower(tok)
	}
	return append(dst, tok)
}

func isASCIIWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}
