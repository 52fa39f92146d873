// Package markdown reads the pieces of markdown syntax that the extractive
// answerer (which quotes passages) and `twin chat` (which prints answers
// on a terminal) must read alike: code fences and inline links. It parses
// single lines and spans, not documents; any input is accepted.
package markdown

import "strings"

// Fence returns the fence a line, trimmed, opens ("```", "~~~~"), or "".
// Backticks followed by another backtick on the line ("```x```") are a
// code span, not a fence.
func Fence(t string) string {
	if len(t) < 3 || t[0] != '`' && t[0] != '~' {
		return ""
	}
	n := 0
	for n < len(t) && t[n] == t[0] {
		n++
	}
	if n < 3 || t[0] == '`' && strings.ContainsRune(t[n:], '`') {
		return ""
	}
	return t[:n]
}

// ClosesFence reports whether a line, trimmed, closes the code block that
// fence opened: the same character, at least as many, nothing else.
func ClosesFence(t, fence string) bool {
	return fence != "" && strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == ""
}

// Link parses an inline link "[text](url)" that starts at s[i] == '[':
// end is the index just past its ')', 0 when there is none there. Brackets
// nest in the text; a url with white space in it is no link.
func Link(s string, i int) (text, url string, end int) {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '[':
			depth++
		case ']':
			depth--
			if depth > 0 {
				continue
			}
			if j+1 >= len(s) || s[j+1] != '(' {
				return "", "", 0
			}
			k := strings.IndexByte(s[j+1:], ')')
			if k < 0 || strings.ContainsAny(s[j+2:j+1+k], " \t") {
				return "", "", 0
			}
			return s[i+1 : j], s[j+2 : j+1+k], j + 2 + k
		}
	}
	return "", "", 0
}
