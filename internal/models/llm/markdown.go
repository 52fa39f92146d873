package llm

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/markdown"
)

// blockKind is what a block of a passage's markdown is.
type blockKind uint8

const (
	blockPara    blockKind = iota // a paragraph of prose
	blockHeading                  // "# Title": a label, never quoted
	blockItem                     // one item of a list
	blockQuote                    // "> ..."
	blockCode                     // a fenced code block
	blockSkip                     // a table, raw HTML, a rule: never quoted
)

// mdBlock is one block of a passage's markdown.
type mdBlock struct {
	kind blockKind
	// text is the block's inline text: for prose, its lines joined by
	// spaces; for code, its lines as they are, fences excluded.
	text string
	lang string // code: the fence's info string ("python")
	// marker is an item's list marker ("-", "3."); list numbers the
	// lists of one chunk, so items of one list share it.
	marker string
	list   int
	// whole: a code block whose both fences are in the chunk. A chunk
	// (a window of the document) can start or end inside a code block,
	// and half a code block is not worth quoting.
	whole bool
}

// ChunkSeparator joins the chunks of one document merged into one Passage
// (the chat merges a document's passages so that [n] is its n-th source).
// The extractive answerer parses each chunk on its own, since a chunk can
// start inside a code block.
const ChunkSeparator = "\n…\n"

// parseBlocks cuts one chunk of markdown into blocks, in order. It knows
// the markdown that blog posts and READMEs use (ATX headings, fenced
// code, lists, quotes, tables, HTML lines, rules); anything else is
// prose. Any input is accepted.
func parseBlocks(text string) []mdBlock {
	p := mdParser{}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if startsInsideCode(lines) {
		p.inFence, p.fence, p.openEnded = true, "```", true
	}
	for _, raw := range lines {
		p.line(raw)
	}
	p.flush()
	if p.inFence && len(p.code) > 0 {
		// Cut off by the end of the chunk: not whole.
		p.out = append(p.out, mdBlock{kind: blockCode, text: strings.Join(p.code, "\n"), lang: p.lang})
	}
	return p.out
}

// mdParser holds the state of one parseBlocks.
type mdParser struct {
	out []mdBlock
	// The open prose block: its kind, lines and item marker.
	cur    blockKind
	lines  []string
	marker string
	open   bool
	lists  int  // lists started so far
	inList bool // the previous block was an item, with no blank line since
	// The open code block.
	inFence   bool
	fence     string // the fence that closes it ("```", "~~~~")
	lang      string
	code      []string
	openEnded bool // it began before the chunk did
	indented  bool // the last line with text was indented code
}

func (p *mdParser) line(raw string) {
	if p.inFence {
		if markdown.ClosesFence(strings.TrimSpace(raw), p.fence) {
			p.out = append(p.out, mdBlock{kind: blockCode, text: strings.Join(p.code, "\n"), lang: p.lang, whole: !p.openEnded})
			p.inFence, p.code, p.lang, p.openEnded = false, nil, "", false
			p.inList = false
			return
		}
		p.code = append(p.code, raw)
		return
	}
	t := strings.TrimSpace(raw)
	if t != "" && indentOf(raw) >= 4 && !(p.open && p.cur == blockItem) {
		// An indented code block, or the indented rest of a fenced one
		// whose fence is in an earlier chunk: code either way, and never
		// whole (its start is not known).
		p.flush()
		p.inList = false
		if n := len(p.out); p.indented && n > 0 {
			p.out[n-1].text += "\n" + raw
		} else {
			p.out = append(p.out, mdBlock{kind: blockCode, text: raw})
		}
		p.indented = true
		return
	}
	if t != "" {
		p.indented = false
	}
	switch {
	case t == "":
		p.flush()
		p.inList = false
	case markdown.Fence(t) != "":
		p.flush()
		p.inFence, p.fence, p.lang = true, markdown.Fence(t), strings.TrimSpace(strings.TrimLeft(t, t[:1]))
	case headingText(t) != "":
		p.flush()
		p.out = append(p.out, mdBlock{kind: blockHeading, text: headingText(t)})
		p.inList = false
	case isRule(t) || t[0] == '|' || isHTMLLine(t):
		p.flush()
		p.out = append(p.out, mdBlock{kind: blockSkip, text: t})
		p.inList = false
	case t[0] == '>':
		if !p.open || p.cur != blockQuote {
			p.flush()
			p.start(blockQuote, "")
		}
		p.lines = append(p.lines, strings.TrimSpace(strings.TrimLeft(t, ">")))
	default:
		if marker, rest, ok := listItem(t); ok {
			p.flush()
			if !p.inList {
				p.lists++
			}
			p.start(blockItem, marker)
			p.lines = append(p.lines, rest)
			return
		}
		if !p.open {
			p.start(blockPara, "")
		}
		p.lines = append(p.lines, t) // a continuation line, even lazy
	}
}

func (p *mdParser) start(kind blockKind, marker string) {
	p.cur, p.marker, p.open, p.lines = kind, marker, true, p.lines[:0]
}

// flush ends the open prose block.
func (p *mdParser) flush() {
	if !p.open {
		return
	}
	p.open = false
	text := strings.TrimSpace(strings.Join(p.lines, " "))
	p.lines = p.lines[:0]
	if text == "" {
		return
	}
	b := mdBlock{kind: p.cur, text: text}
	if p.cur == blockItem {
		b.marker, b.list = p.marker, p.lists
		p.inList = true
	} else {
		p.inList = false
	}
	p.out = append(p.out, b)
}

// startsInsideCode guesses whether a chunk starts inside a code block: its
// fence lines are odd in number (one is unpaired), the first opens no
// block by its looks (no language named), and the lines before it read
// as code rather than prose (no line is a sentence: a capital, spaces, a
// stop or a colon at the end). Otherwise the
// unpaired fence is taken to open a block the chunk's end cut off.
func startsInsideCode(lines []string) bool {
	first, fences := -1, 0
	for i, l := range lines {
		if markdown.Fence(strings.TrimSpace(l)) != "" {
			if first < 0 {
				first = i
			}
			fences++
		}
	}
	if fences%2 == 0 {
		return false
	}
	if t := strings.TrimSpace(lines[first]); strings.TrimLeft(t, t[:1]) != "" {
		return false // "```python" opens a block
	}
	before := false
	for _, l := range lines[:first] {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		before = true
		// YAML's "steps:" and a comment's "# done." are code; a
		// sentence has a capital and spaces.
		prose := startsLikeSentence(t) && strings.ContainsRune(t, ' ') && (endsSentence(t) || strings.HasSuffix(t, ":"))
		if prose {
			return false
		}
	}
	return before
}

// indentOf is the indentation of a line, a tab counting four spaces.
func indentOf(raw string) int {
	n := 0
	for _, c := range []byte(raw) {
		switch c {
		case ' ':
			n++
		case '\t':
			n += 4
		default:
			return n
		}
	}
	return n
}

// headingText is the text of an ATX heading line, or "".
func headingText(t string) string {
	n := 0
	for n < len(t) && n < 7 && t[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || n < len(t) && t[n] != ' ' && t[n] != '\t' {
		return ""
	}
	return strings.TrimSpace(strings.TrimRight(strings.TrimSpace(t[n:]), "#"))
}

// isRule reports a thematic break: "---", "***", "___" (spaces allowed).
func isRule(t string) bool {
	c := t[0]
	if c != '-' && c != '*' && c != '_' {
		return false
	}
	n := 0
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case c:
			n++
		case ' ', '\t':
		default:
			return false
		}
	}
	return n >= 3
}

// isHTMLLine reports a line that starts with an HTML tag or comment: raw
// HTML is never quoted.
func isHTMLLine(t string) bool {
	if len(t) < 2 || t[0] != '<' {
		return false
	}
	c := t[1]
	return c == '/' || c == '!' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// listItem splits a list item line into its marker and text. A marker
// alone ("4.", where a chunk's end cut the item) is an item without text,
// which is dropped, rather than the end of the item before it.
func listItem(t string) (marker, rest string, ok bool) {
	switch {
	case t == "-" || t == "*" || t == "+":
		return "-", "", true
	case len(t) >= 2 && len(t) <= 10 && (t[len(t)-1] == '.' || t[len(t)-1] == ')') && strings.Trim(t[:len(t)-1], "0123456789") == "":
		return t[:len(t)-1] + ".", "", true
	}
	if len(t) >= 2 && (t[0] == '-' || t[0] == '*' || t[0] == '+') && t[1] == ' ' {
		rest = strings.TrimSpace(t[2:])
		// "- [ ] task" keeps its text; the box is markup.
		for _, box := range []string{"[ ] ", "[x] ", "[X] "} {
			rest = strings.TrimPrefix(rest, box)
		}
		return "-", rest, rest != ""
	}
	n := 0
	for n < len(t) && n < 9 && t[n] >= '0' && t[n] <= '9' {
		n++
	}
	if n > 0 && n+1 < len(t) && (t[n] == '.' || t[n] == ')') && t[n+1] == ' ' {
		rest = strings.TrimSpace(t[n+2:])
		return t[:n] + ".", rest, rest != ""
	}
	return "", "", false
}

// cleanInline returns a block's inline markdown as the answer quotes it:
// images and HTML tags removed (an answer shows no pictures and no raw
// HTML), links kept, and a bracketed number that is not a citation
// escaped ("\[2]"), so that only the answer's own citations read as
// such. Code spans are left as they are.
func cleanInline(s string) string {
	if !strings.ContainsAny(s, "![<") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '`':
			// A code span: copied up to its closing run of backticks.
			n := 0
			for i+n < len(s) && s[i+n] == '`' {
				n++
			}
			end := strings.Index(s[i+n:], s[i:i+n])
			if end < 0 {
				b.WriteString(s[i : i+n])
				i += n
				continue
			}
			end += i + 2*n
			b.WriteString(s[i:end])
			i = end
		case c == '!' && i+1 < len(s) && s[i+1] == '[':
			if _, _, end := markdown.Link(s, i+1); end > 0 {
				i = end // an image: dropped
				continue
			}
			b.WriteByte(c)
			i++
		case c == '[':
			if _, _, end := markdown.Link(s, i); end > 0 {
				b.WriteString(s[i:end])
				i = end
				continue
			}
			if n := citationLen(s[i:]); n > 0 {
				b.WriteString(`\`)
				b.WriteString(s[i : i+n])
				i += n
				continue
			}
			b.WriteByte(c)
			i++
		case c == '<':
			if end := tagEnd(s, i); end > 0 {
				i = end
				continue
			}
			b.WriteByte(c)
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	// What was dropped may leave two spaces side by side ("see ![x](y) it").
	out := strings.TrimSpace(b.String())
	if !strings.Contains(out, "  ") {
		return out
	}
	return strings.Join(strings.Fields(out), " ")
}

// citationLen is the length of a "[n]" at the start of s, or 0.
func citationLen(s string) int {
	n := 1
	for n < len(s) && n < 5 && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n > 1 && n < len(s) && s[n] == ']' {
		return n + 1
	}
	return 0
}

// tagEnd returns the end of an HTML tag or comment starting at s[i] ==
// '<', or 0 when it is not one ("a < b", "<3").
func tagEnd(s string, i int) int {
	if i+1 >= len(s) {
		return 0
	}
	if strings.HasPrefix(s[i:], "<!--") {
		if k := strings.Index(s[i+4:], "-->"); k >= 0 {
			return i + 4 + k + 3
		}
		return 0
	}
	j := i + 1
	if s[j] == '/' {
		j++
	}
	start := j
	for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || j > start && s[j] >= '0' && s[j] <= '9') {
		j++
	}
	if j == start || j >= len(s) || s[j] != '>' && s[j] != ' ' && s[j] != '/' {
		return 0
	}
	k := strings.IndexByte(s[j:], '>')
	if k < 0 {
		return 0
	}
	return j + k + 1
}

// startsLikeFragment reports whether a sentence starts as the rest of one
// does: in lowercase or with punctuation that continues a clause.
func startsLikeFragment(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	if unicode.IsLower(r) {
		return true
	}
	switch r {
	case ',', ';', ':', ')', ']', '}', '.', '-', '–', '—', '…', '|', '=':
		return true
	}
	return false
}

// startsLikeSentence reports whether s starts as a sentence of prose
// does: with a capital, a digit, or markup that opens one (a code span,
// emphasis, a link, a quote, a bracket). A line of shell or a sentence's
// rest does not.
func startsLikeSentence(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	if unicode.IsUpper(r) || unicode.IsDigit(r) || unicode.IsLetter(r) && !unicode.IsLower(r) {
		return true
	}
	return strings.ContainsRune("`*_[\"'(“‘¿¡", r)
}

// endsSentence reports whether s ends with a stop ('.', '!', '?'),
// closing marks allowed after it.
func endsSentence(s string) bool {
	s = strings.TrimRightFunc(s, func(r rune) bool { return isClosing(r) && r != '`' })
	return strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") ||
		strings.HasSuffix(s, "。")
}
