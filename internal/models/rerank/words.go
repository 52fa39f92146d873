package rerank

import (
	"unicode"
	"unicode/utf8"
)

// maxWordBytes is embed.Tokens' limit: longer "words" are hashes, base64
// or URL fragments, and are dropped.
const maxWordBytes = 64

// ASCII byte classes for wordScanner.
const (
	sepByte   = 0
	lowerByte = 1 // a-z, 0-9
	upperByte = 2 // A-Z
)

// wordScanner cuts text into the tokens embed.Tokens returns, lowercased
// (TestWordsAreEmbedTokens holds it to that), without allocating: the
// reranker reads every passage in full on every query, so it cannot afford
// a string per word as the indexer can.
type wordScanner struct {
	text  string
	pos   int
	buf   []byte
	class [utf8.RuneSelf]uint8
}

func newWordScanner() *wordScanner {
	s := &wordScanner{buf: make([]byte, 0, maxWordBytes)}
	for c := range utf8.RuneSelf {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			s.class[c] = lowerByte
		case 'A' <= c && c <= 'Z':
			s.class[c] = upperByte
		}
	}
	return s
}

func (s *wordScanner) reset(text string) { s.text, s.pos = text, 0 }

// next returns the next word, or nil at the end of the text. The word is
// in the scanner's buffer, valid until the next call.
func (s *wordScanner) next() []byte {
	text := s.text
	i := s.pos
	for i < len(text) {
		// Skip to the start of a word.
		if c := text[i]; c < utf8.RuneSelf {
			if s.class[c] == sepByte {
				i++
				continue
			}
		} else if r, size := utf8.DecodeRuneInString(text[i:]); !isWordRune(r) {
			i += size
			continue
		}
		// Find its end. kinds ORs the classes seen; above upperByte, a
		// letter outside ASCII.
		start, kinds := i, uint8(0)
		for i < len(text) {
			c := text[i]
			if c < utf8.RuneSelf {
				k := s.class[c]
				if k == sepByte {
					break
				}
				kinds |= k
				i++
				continue
			}
			r, size := utf8.DecodeRuneInString(text[i:])
			if !isWordRune(r) {
				break
			}
			kinds |= 4
			i += size
		}
		if i-start > maxWordBytes {
			continue
		}
		s.pos = i
		s.buf = s.buf[:0]
		if kinds == lowerByte {
			s.buf = append(s.buf, text[start:i]...)
			return s.buf
		}
		for _, r := range text[start:i] {
			switch {
			case r < utf8.RuneSelf:
				if s.class[r] == upperByte {
					r += 'a' - 'A'
				}
				s.buf = append(s.buf, byte(r))
			default:
				s.buf = utf8.AppendRune(s.buf, unicode.ToLower(r))
			}
		}
		return s.buf
	}
	s.pos = len(text)
	return nil
}

// isWordRune is embed's definition; RuneError (an invalid byte) is not one.
func isWordRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r))
}
