package featurizer

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The categories of documents, named as the warehouse collections that
// hold them. Clean, Chunk's parameters and DefaultParams depend on them.
const (
	CategoryArticles     = "articles"
	CategoryPosts        = "posts"
	CategoryRepositories = "repositories"
)

// What Clean does with URLs in prose (CleanOptions.URLs).
const (
	URLKeep    = "keep"    // leave them as they are (also "")
	URLReplace = "replace" // put URLPlaceholder in their place
	URLDrop    = "drop"    // remove them
)

// URLPlaceholder stands for a URL with URLReplace.
const URLPlaceholder = "[URL]"

// CleanOptions tunes Clean. The zero value keeps URLs and typography.
type CleanOptions struct {
	// URLs is URLKeep (or ""), URLReplace or URLDrop. URLs are http,
	// https and ftp addresses, and bare ones starting with "www.".
	// Code blocks are left alone whatever it says.
	URLs string
	// ASCIIPunctuation folds typographic quotes, dashes, primes and the
	// ellipsis to their ASCII forms (’ → ', “ ” → ", – — → -, … → ...).
	// The tokenizer knows both forms, so this is for consistency, not
	// for the model.
	ASCIIPunctuation bool
}

// rules are what sets the categories apart.
type rules struct {
	// fences: fenced code blocks (``` or ~~~) are kept verbatim.
	// Repositories are rendered as markdown with one fenced block per
	// file, and technical articles quote code whose indentation is
	// meaning; posts (LinkedIn, X) have no markdown, so a line of
	// backticks there is just text.
	fences bool
	// indent: the indentation of lines outside code blocks is kept, as
	// markdown nests lists and code by it. Articles come from HTML
	// extraction, where leading spaces are noise.
	indent bool
}

func rulesFor(category string) rules {
	switch Category(category) {
	case CategoryRepositories:
		return rules{fences: true, indent: true}
	case CategoryPosts:
		return rules{}
	default:
		return rules{fences: true}
	}
}

// Category returns the category a name stands for: the collection names
// ("articles"), or the document kinds of the crawl messages ("article").
// Anything else is an article, the most general kind of prose.
func Category(name string) string {
	switch name {
	case CategoryPosts, "post":
		return CategoryPosts
	case CategoryRepositories, "repository":
		return CategoryRepositories
	default:
		return CategoryArticles
	}
}

// Clean returns text ready to be chunked and embedded. It is idempotent:
// Clean(Clean(x)) == Clean(x), and its output is valid UTF-8.
//
// Outside code blocks, it:
//   - keeps paragraphs, with exactly one blank line between them, and
//     the line breaks inside them (lists, headings, verse); line endings
//     become \n, and there are no blank lines at either end;
//   - collapses runs of spaces inside a line, turns tabs and Unicode
//     spaces into spaces, and trims lines (keeping their indentation for
//     repositories);
//   - folds the letters and digits that stand in for styled text —
//     mathematical bold, italic, script, double-struck, monospace
//     (𝐛𝐨𝐥𝐝, 𝘪𝘵𝘢𝘭𝘪𝘤, 𝚖𝚘𝚗𝚘), the letterlike symbols among them (ℎ,
//     ℝ), circled and squared letters and numbers (Ⓐ, 🅰, ①, ❶),
//     fullwidth forms (ＡＢＣ) and Latin ligatures (ﬁ) — to plain ones:
//     posts use them for emphasis, and the tokenizer would make each
//     such word an unknown token;
//   - drops emoji and other pictographs, with their variation selectors,
//     skin tones, keycaps, flags and joiners (a space takes the place of
//     one that stood between two words), and control and format
//     characters (zero-width spaces, soft hyphens, bidi marks);
//   - treats URLs as opts.URLs says;
//   - composes characters (NFC), so that é is one character however it
//     was typed.
//
// Fenced code blocks (for articles and repositories) are kept verbatim,
// bar their line endings (a paragraph separator, U+2029, is a blank line
// there too) and their control characters other than tabs.
func Clean(text, category string, opts CleanOptions) string {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "")
	}
	text = normalizeBreaks(text)
	c := cleaner{rules: rulesFor(category), opts: opts}
	c.out.Grow(len(text))
	for text != "" {
		line, rest, _ := strings.Cut(text, "\n")
		c.line(line)
		text = rest
	}
	return strings.TrimRight(c.out.String(), " \t\n")
}

// cleaner holds the state of one Clean call.
type cleaner struct {
	rules rules
	opts  CleanOptions
	out   strings.Builder
	wrote bool // something was written to out
	blank bool // a blank line is due before the next prose line
	// fence is the character of the open code fence (0 outside code
	// blocks); fenceLen is how many of them opened it.
	fence    byte
	fenceLen int
	buf, tmp []byte // scratch space for one line
}

// line adds one line of the input, without its line ending.
func (c *cleaner) line(raw string) {
	if c.fence != 0 {
		code := codeLine(raw, c.buf[:0])
		c.buf = code
		c.out.WriteByte('\n')
		c.out.Write(code)
		if closesFence(code, c.fence, c.fenceLen) {
			c.fence = 0
		}
		return
	}
	cleaned := c.prose(raw)
	if len(cleaned) == 0 {
		c.blank = c.wrote
		return
	}
	if c.wrote {
		c.out.WriteByte('\n')
		if c.blank {
			c.out.WriteByte('\n')
		}
	}
	c.out.Write(cleaned)
	c.wrote, c.blank = true, false
	if c.rules.fences {
		// The fence is looked for in the cleaned line, not the raw one,
		// so that cleaning the output again finds the same fences.
		c.fence, c.fenceLen = opensFence(cleaned)
	}
}

// prose returns the cleaned form of a line outside code blocks, empty if
// nothing but spaces remain. It is only valid until the next call.
func (c *cleaner) prose(raw string) []byte {
	indent := ""
	if c.rules.indent {
		n := 0
		for n < len(raw) && (raw[n] == ' ' || raw[n] == '\t') {
			n++
		}
		indent, raw = raw[:n], raw[n:]
	}
	var nonASCII bool
	c.buf, nonASCII = c.mapRunes(c.buf[:0], raw)
	if nonASCII && !norm.NFC.IsNormal(c.buf) {
		c.tmp = norm.NFC.Append(c.tmp[:0], c.buf...)
		c.buf, c.tmp = c.tmp, c.buf
	}
	if mode := c.opts.URLs; mode == URLReplace || mode == URLDrop {
		if out, ok := rewriteURLs(c.tmp[:0], c.buf, mode); ok {
			c.buf, c.tmp = out, c.buf
		}
	}
	// Collapse spaces, trim, and put the indentation back, in tmp.
	b := c.buf
	if len(b) > 0 && b[0] != ' ' && b[len(b)-1] != ' ' && !bytes.Contains(b, []byte("  ")) {
		if indent == "" {
			return b // the most common case: nothing to collapse
		}
		c.tmp = append(append(c.tmp[:0], indent...), b...)
		return c.tmp
	}
	// Copy the runs between spaces whole, one space between two runs.
	out := append(c.tmp[:0], indent...)
	start := len(out)
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	for i < len(b) {
		j := bytes.IndexByte(b[i:], ' ')
		if j < 0 {
			out = append(out, b[i:]...)
			break
		}
		out = append(out, b[i:i+j]...)
		for i += j; i < len(b) && b[i] == ' '; i++ {
		}
		if i < len(b) {
			out = append(out, ' ')
		}
	}
	if len(out) == start {
		out = out[:0] // indentation alone is a blank line
	}
	c.tmp = out
	return out
}

// mapRunes appends to dst the characters of s, mapped one by one: tabs
// and spaces to ' ', styled letters folded, emoji and invisible
// characters dropped. It reports whether it kept any non-ASCII character.
func (c *cleaner) mapRunes(dst []byte, s string) ([]byte, bool) {
	m := mapper{dst: dst, last: ' '}
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '\t':
				m.space()
			case b < 0x20 || b == 0x7f:
			case m.gap:
				m.keep(rune(b))
			default:
				// Most text is runs of printable ASCII: copy them
				// whole.
				j := printableRun(s, i+1)
				m.dst = append(m.dst, s[i:j]...)
				m.last = rune(s[j-1])
				i = j
				continue
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if folded, ok := fold(r); ok {
			m.keepString(folded)
			continue
		}
		switch {
		case isInvisible(r):
		case isPictograph(r):
			m.gap = true
		case unicode.IsSpace(r):
			m.space()
		default:
			if c.opts.ASCIIPunctuation {
				if a := asciiPunctuation(r); a != "" {
					m.keepString(a)
					continue
				}
			}
			m.keep(r)
		}
	}
	return m.dst, m.nonASCII
}

// printableRun returns the index of the first byte from i on that is not
// printable ASCII (0x20 to 0x7e), or len(s), testing eight bytes at a time.
func printableRun(s string, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// A byte below 0x20, a 0x7f (a zero byte after the XOR), or a
		// high bit: the byte loop below decides.
		del := x ^ (ones * 0x7f)
		if ((x-ones*0x20)&^x|(del-ones)&^del|x)&highs != 0 {
			break
		}
	}
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	return i
}

// mapper is the output of mapRunes. gap records that a pictograph was
// dropped since the last character kept, so that "great🎉news" stays two
// words while "done👍." loses nothing but the emoji.
type mapper struct {
	dst      []byte
	gap      bool
	last     rune
	nonASCII bool
}

func (m *mapper) keep(r rune) {
	if m.gap && isAlnum(m.last) && isAlnum(r) {
		m.dst = append(m.dst, ' ')
	}
	m.gap, m.last = false, r
	m.nonASCII = m.nonASCII || r >= utf8.RuneSelf
	m.dst = utf8.AppendRune(m.dst, r)
}

func (m *mapper) keepString(s string) {
	for _, r := range s {
		m.keep(r)
	}
}

func (m *mapper) space() {
	m.dst = append(m.dst, ' ')
	m.gap, m.last = false, ' '
}

func isAlnum(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// isInvisible reports whether r is dropped without a trace: control and
// format characters (zero-width space and joiners, soft hyphen, bidi
// controls, emoji tags), variation selectors and the keycap mark.
func isInvisible(r rune) bool {
	switch {
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF, r == 0x20E3:
		return true
	}
	return unicode.In(r, unicode.Cc, unicode.Cf)
}

// isPictograph reports whether r is an emoji or another pictograph: the
// blocks of them, the emoji scattered among text symbols, and what stands
// for a missing picture (private-use icon-font glyphs, U+FFFC, U+FFFD).
// Arrows, ©, ® and ™ are text and stay.
func isPictograph(r rune) bool {
	switch {
	case r == 0xFFFC, r == 0xFFFD, unicode.Is(unicode.Co, r):
		return true
	case r >= 0x1F000 && r <= 0x1FAFF, // mahjong to symbols and pictographs extended-A
		r >= 0x2600 && r <= 0x27BF, // miscellaneous symbols, dingbats
		r >= 0x2B00 && r <= 0x2BFF, // miscellaneous symbols and arrows (⭐ ⬛ ⬆)
		r == 0x231A, r == 0x231B, r == 0x2328, r == 0x23CF,
		r >= 0x23E9 && r <= 0x23F3, r >= 0x23F8 && r <= 0x23FA, // ⏩ ⏰ ⏳ ⏸
		r == 0x25AA, r == 0x25AB, r == 0x25B6, r == 0x25C0,
		r >= 0x25FB && r <= 0x25FE, // ▪ ▶ ◀ ◻ ◼
		r == 0x2934, r == 0x2935, r == 0x3030, r == 0x303D, r == 0x3297, r == 0x3299:
		return true
	}
	return false
}

// fold returns the plain form of a styled letter or digit.
func fold(r rune) (string, bool) {
	switch {
	case r < 0x2102:
		return "", false
	case r >= 0x1F130 && r <= 0x1F189:
		// Squared, negative circled and negative squared Latin capitals
		// (🄰, 🅐, 🅰); NFKC folds only the first of the three sets.
		off := (r - 0x1F130) % 0x20
		if off >= 26 {
			return "", false
		}
		return string('A' + off), true
	case r >= 0x2776 && r <= 0x2793:
		// Dingbat circled digits ❶ to ❿, three sets of ten.
		return digits[(r-0x2776)%10], true
	case r >= 0x1D400 && r <= 0x1D7FF, // mathematical alphanumerics
		r >= 0x2460 && r <= 0x24FF, // circled and parenthesized ① ⑴ Ⓐ
		r >= 0xFF01 && r <= 0xFF5E, // fullwidth ASCII
		r >= 0xFB00 && r <= 0xFB06, // Latin ligatures
		isMathLetterlike(r):
		var b [utf8.UTFMax]byte
		n := utf8.EncodeRune(b[:], r)
		if d := norm.NFKC.Properties(b[:n]).Decomposition(); d != nil {
			return string(d), true
		}
	}
	return "", false
}

var digits = [10]string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}

// isMathLetterlike reports whether r is one of the letterlike symbols
// that fill the holes of the mathematical alphanumerics block (italic h
// is ℎ, double-struck R is ℝ), which generators of styled text use.
// Other letterlike symbols (™, ℃, №) are left alone.
func isMathLetterlike(r rune) bool {
	switch {
	case r == 0x2102, r >= 0x210A && r <= 0x2113, r == 0x2115,
		r >= 0x2119 && r <= 0x211D, r == 0x2124, r == 0x2128,
		r == 0x212C, r == 0x212D, r >= 0x212F && r <= 0x2131,
		r == 0x2133, r == 0x2134:
		return true
	}
	return false
}

// asciiPunctuation returns the ASCII form of a typographic quote, dash,
// prime or ellipsis, or "".
func asciiPunctuation(r rune) string {
	switch r {
	case '‘', '’', '‚', '‛', '′':
		return "'"
	case '“', '”', '„', '‟', '″':
		return `"`
	case '‐', '‑', '‒', '–', '—', '―', '−':
		return "-"
	case '…':
		return "..."
	}
	return ""
}

// normalizeBreaks returns s with every line break made \n: \r\n, \r, \v,
// \f, NEL (U+0085) and the line separator (U+2028); the paragraph
// separator (U+2029) becomes a blank line. Most texts have none of them,
// and come back as they are.
func normalizeBreaks(s string) string {
	// Searching for each kind apart is faster than one pass of our own:
	// these searches are vectorized.
	if strings.IndexByte(s, '\r') < 0 && strings.IndexByte(s, '\v') < 0 && strings.IndexByte(s, '\f') < 0 &&
		!strings.Contains(s, "\u0085") && !strings.Contains(s, "\u2028") && !strings.Contains(s, "\u2029") {
		return s
	}
	i := 0
	for i < len(s) && !(breakStart[s[i]] && breakAt(s[i:]) > 0) {
		i++
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for done := 0; ; {
		b.WriteString(s[done:i])
		n := breakAt(s[i:])
		if strings.HasPrefix(s[i:], "\u2029") {
			b.WriteString("\n\n")
		} else {
			b.WriteByte('\n')
		}
		i += n
		done = i
		for i < len(s) && !(breakStart[s[i]] && breakAt(s[i:]) > 0) {
			i++
		}
		if i == len(s) {
			b.WriteString(s[done:])
			return b.String()
		}
	}
}

// breakStart marks the bytes that may start a line break other than \n.
var breakStart = [256]bool{'\r': true, '\v': true, '\f': true, 0xC2: true, 0xE2: true}

// breakAt returns the length of the line break other than \n that s
// starts with, or 0.
func breakAt(s string) int {
	switch {
	case strings.HasPrefix(s, "\r\n"):
		return 2
	case s[0] == '\r', s[0] == '\v', s[0] == '\f':
		return 1
	case strings.HasPrefix(s, "\u0085"):
		return 2
	case strings.HasPrefix(s, "\u2028"), strings.HasPrefix(s, "\u2029"):
		return 3
	}
	return 0
}

// codeLine appends to dst a line of a code block as it is, but for
// control characters other than tabs, which no source needs.
func codeLine(raw string, dst []byte) []byte {
	clean := true
	for i := 0; i < len(raw) && clean; i++ {
		b := raw[i]
		clean = b >= 0x20 && b != 0x7f && b != 0xC2 || b == '\t' // C1 controls start with C2
	}
	if clean {
		return append(dst, raw...)
	}
	for i := 0; i < len(raw); {
		b := raw[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != 0x7f || b == '\t' {
				dst = append(dst, b)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(raw[i:])
		if !unicode.Is(unicode.Cc, r) {
			dst = append(dst, raw[i:i+size]...)
		}
		i += size
	}
	return dst
}

// opensFence returns the character and length of the code fence line
// opens (CommonMark: up to three spaces, then three or more backticks or
// tildes; a backtick fence's info string has no backtick), or 0.
func opensFence(line []byte) (byte, int) {
	line = trimIndent(line)
	if len(line) < 3 || (line[0] != '`' && line[0] != '~') {
		return 0, 0
	}
	ch, n := line[0], 0
	for n < len(line) && line[n] == ch {
		n++
	}
	if n < 3 || (ch == '`' && bytes.IndexByte(line[n:], '`') >= 0) {
		return 0, 0
	}
	return ch, n
}

// closesFence reports whether line closes a fence of n characters ch: at
// least as many of them, then nothing but spaces.
func closesFence(line []byte, ch byte, n int) bool {
	line = trimIndent(line)
	k := 0
	for k < len(line) && line[k] == ch {
		k++
	}
	return k >= n && len(bytes.Trim(line[k:], " \t")) == 0
}

func trimIndent(line []byte) []byte {
	for k := 0; k < 3 && len(line) > 0 && line[0] == ' '; k++ {
		line = line[1:]
	}
	return line
}

// rewriteURLs appends line to dst with its URLs replaced by
// URLPlaceholder, or by a space (mode URLDrop), and reports whether it
// found any; dst is unchanged if it did not.
func rewriteURLs(dst, line []byte, mode string) ([]byte, bool) {
	if !bytes.Contains(line, []byte("://")) && !containsWWW(line) {
		return dst, false
	}
	found := false
	done := 0 // line[:done] is in dst already
	for i := 0; i < len(line); i++ {
		switch line[i] | 0x20 { // a quick no for most positions
		case 'h', 'f', 'w':
		default:
			continue
		}
		n := urlAt(line, i)
		if n == 0 {
			continue
		}
		if !found {
			dst, found = dst[:0], true
		}
		dst = append(dst, line[done:i]...)
		if mode == URLDrop {
			// A space, not nothing: the text either side might
			// otherwise join into a new word, or a new URL.
			dst = append(dst, ' ')
		} else {
			dst = append(dst, URLPlaceholder...)
		}
		i += n - 1
		done = i + 1
	}
	if !found {
		return dst, false
	}
	return append(dst, line[done:]...), true
}

// urlAt returns the length of the URL that starts at line[i], or 0. A URL
// starts a word, with a scheme (http, https, ftp) and "://" or with
// "www.", and runs to a space, a quote, a backtick or an angle bracket,
// without the punctuation that ends a sentence or closes a bracket it did
// not open.
func urlAt(line []byte, i int) int {
	if i > 0 && isASCIIAlnum(line[i-1]) {
		return 0
	}
	rest := line[i:]
	body := schemeLen(rest)
	if body == 0 {
		return 0
	}
	end := body
	for end < len(rest) && strings.IndexByte(" \"`<>", rest[end]) < 0 {
		end++
	}
	for end > body && !belongsToURL(rest[:end]) {
		end--
	}
	if end == body || (body == len("www.") && !isASCIIAlnum(rest[body])) {
		return 0
	}
	return end
}

// schemeLen returns the length of the scheme and "://", or of "www.", that
// b starts with, or 0.
func schemeLen(b []byte) int {
	for _, p := range [...]string{"https://", "http://", "ftp://", "www."} {
		if len(b) >= len(p) && strings.EqualFold(string(b[:len(p)]), p) {
			return len(p)
		}
	}
	return 0
}

// belongsToURL reports whether the last byte of u is part of the URL u:
// not trailing punctuation, nor a bracket closing one opened before the
// URL ("(see https://example.com)").
func belongsToURL(u []byte) bool {
	last := u[len(u)-1]
	if strings.IndexByte(".,;:!?'*_~", last) >= 0 {
		return false
	}
	for _, pair := range [...][2]byte{{'(', ')'}, {'[', ']'}, {'{', '}'}} {
		if last == pair[1] {
			return count(u, pair[0]) >= count(u, pair[1])
		}
	}
	return true
}

// containsWWW reports whether b holds "www." in any case.
func containsWWW(b []byte) bool {
	for i := 0; i+4 <= len(b); i++ {
		if b[i]|0x20 == 'w' && b[i+1]|0x20 == 'w' && b[i+2]|0x20 == 'w' && b[i+3] == '.' {
			return true
		}
	}
	return false
}

func count(b []byte, c byte) int {
	n := 0
	for _, x := range b {
		if x == c {
			n++
		}
	}
	return n
}

func isASCIIAlnum(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}
