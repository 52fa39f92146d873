package datasets

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lengths of an extract, in bytes of text (the characters of the issue
// are bytes here: the author's texts are mostly ASCII, and bytes are what
// a trainer's context budget is closest to).
const (
	MinExtractChars = 1000
	MaxExtractChars = 2000
)

// blockKind is what a markdown block is.
type blockKind int

const (
	paragraph blockKind = iota
	heading
	code
)

// block is one markdown block: a heading line, a fenced code block (kept
// whole, fences included) or a paragraph (the lines up to a blank line).
type block struct {
	kind blockKind
	text string
}

// parseBlocks cuts markdown (or plain text) into blocks. It knows what
// matters for cutting: ATX headings ("## Title"), fenced code ("```" or
// "~~~", up to the same fence or the end), blank lines. Anything else is
// paragraph text; an unclosed fence runs to the end of the text.
func parseBlocks(text string) []block {
	var out []block
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var para []string
	flush := func() {
		if s := strings.TrimSpace(strings.Join(para, "\n")); s != "" {
			out = append(out, block{paragraph, s})
		}
		para = para[:0]
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			flush()
		case isFence(trimmed):
			flush()
			fence := trimmed[:3]
			j := i + 1
			for j < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[j]), fence) {
				j++
			}
			end := min(j, len(lines)-1)
			out = append(out, block{code, strings.Join(lines[i:end+1], "\n")})
			i = end
		case headingText(trimmed) != "":
			flush()
			out = append(out, block{heading, trimmed})
		default:
			para = append(para, line)
		}
	}
	flush()
	return out
}

func isFence(line string) bool {
	return strings.HasPrefix(line, "```") || strings.HasPrefix(line, "~~~")
}

// headingText is the text of an ATX heading line ("## Why queues" is "Why
// queues"), or "" when line is not one.
func headingText(line string) string {
	n := 0
	for n < len(line) && line[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || n == len(line) || line[n] != ' ' {
		return ""
	}
	return strings.TrimSpace(strings.TrimRight(strings.TrimSpace(line[n:]), "#"))
}

// unit is the smallest piece an extract is cut around: a sentence, a
// heading or a whole code block. sep is what joins it to the previous unit
// ("\n\n" at a block boundary, " " inside a paragraph).
type unit struct {
	text    string
	sep     string
	heading string // the heading in force where the unit starts
	isHead  bool
}

// units flattens blocks into units, splitting paragraphs into sentences.
func units(blocks []block) []unit {
	var out []unit
	current := ""
	for _, b := range blocks {
		switch b.kind {
		case heading:
			current = headingText(b.text)
			out = append(out, unit{text: b.text, sep: "\n\n", heading: current, isHead: true})
		case code:
			out = append(out, unit{text: b.text, sep: "\n\n", heading: current})
		default:
			for i, s := range splitSentences(b.text) {
				sep := " "
				if i == 0 {
					sep = "\n\n"
				}
				out = append(out, unit{text: s, sep: sep, heading: current})
			}
		}
	}
	return out
}

// Extract is a piece of a document of MinExtractChars to MaxExtractChars,
// cut at sentence ends, headings or around whole code blocks.
type Extract struct {
	DocumentID string
	Title      string
	// Heading is the heading in force where the extract starts, if any.
	Heading string
	Index   int
	Text    string
}

// Extracts cuts a document's content into extracts. An extract ends at a
// sentence end, before a heading or around a code block, never inside
// one, and holds MinExtractChars to MaxExtractChars bytes, with two
// exceptions: a document shorter than MinExtractChars is one extract
// (when it is at least minChars long), and a last piece too short to
// stand alone is joined to the one before when that stays within the
// maximum (else it is left out). A single unit longer than the maximum (a
// long code block, a sentence without stops) is left out too; skipped
// counts those.
func Extracts(docID, title, content string, minChars int) (out []Extract, skipped int) {
	var cur strings.Builder
	curHeading := ""
	emit := func() {
		if cur.Len() > 0 {
			out = append(out, Extract{DocumentID: docID, Title: title, Heading: curHeading, Index: len(out), Text: cur.String()})
		}
		cur.Reset()
	}
	for _, u := range units(parseBlocks(content)) {
		if len(u.text) > MaxExtractChars {
			skipped++
			continue
		}
		grow := len(u.text)
		if cur.Len() > 0 {
			grow += len(u.sep)
		}
		// A heading starts a new extract once the current one is long
		// enough, so an extract is a section rather than the end of one
		// and the start of the next.
		if cur.Len() >= MinExtractChars && (u.isHead || cur.Len()+grow > MaxExtractChars) {
			emit()
		} else if cur.Len()+grow > MaxExtractChars {
			// Too short to stand alone, and the unit does not fit: the
			// short piece goes on its own and the filters judge it.
			emit()
		}
		if cur.Len() == 0 {
			curHeading = u.heading
			cur.WriteString(u.text)
			continue
		}
		cur.WriteString(u.sep)
		cur.WriteString(u.text)
	}
	emit()
	// The tail: joined to the previous extract when it fits.
	if n := len(out); n >= 2 && len(out[n-1].Text) < MinExtractChars {
		if len(out[n-2].Text)+2+len(out[n-1].Text) <= MaxExtractChars {
			out[n-2].Text += "\n\n" + out[n-1].Text
			out = out[:n-1]
		}
	}
	// Only a document that is short as a whole may give a short extract.
	kept := out[:0]
	for _, e := range out {
		if len(e.Text) >= MinExtractChars || (len(out) == 1 && len(e.Text) >= minChars) {
			e.Index = len(kept)
			kept = append(kept, e)
		} else {
			skipped++
		}
	}
	return kept, skipped
}

// Section is a heading and the text under it, up to the next heading.
type Section struct {
	Heading string
	Text    string
}

// Sections returns the headed sections of content whose text is not
// empty. The text is cut at a sentence end (or around a code block) to at
// most MaxExtractChars.
func Sections(content string) []Section {
	var out []Section
	var cur *Section
	var b strings.Builder
	closeSection := func() {
		if cur != nil && b.Len() > 0 {
			cur.Text = b.String()
			out = append(out, *cur)
		}
		cur = nil
		b.Reset()
	}
	for _, u := range units(parseBlocks(content)) {
		if u.isHead {
			closeSection()
			cur = &Section{Heading: u.heading}
			continue
		}
		if cur == nil {
			continue
		}
		grow := len(u.text)
		if b.Len() > 0 {
			grow += len(u.sep)
		}
		if b.Len()+grow > MaxExtractChars {
			continue // the section is long enough; what follows is skipped up to the next heading
		}
		if b.Len() > 0 {
			b.WriteString(u.sep)
		}
		b.WriteString(u.text)
	}
	closeSection()
	return out
}

// splitSentences cuts a paragraph into sentences: a sentence ends at '.',
// '!' or '?' (and any closing quotes or brackets) followed by a space and
// a word that does not start in lowercase, and not after a common
// abbreviation or an initial. Every cut is at a space, so joining the
// sentences with spaces gives the paragraph back up to whitespace.
func splitSentences(text string) []string {
	var out []string
	start := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '.' && c != '!' && c != '?' {
			continue
		}
		j := i + 1
		for j < len(text) && strings.IndexByte(".!?\"')]*_`", text[j]) >= 0 {
			j++
		}
		if j >= len(text) {
			break
		}
		r, _ := utf8.DecodeRuneInString(text[j:])
		if !unicode.IsSpace(r) {
			i = j - 1
			continue
		}
		next := strings.TrimLeftFunc(text[j:], unicode.IsSpace)
		if n, _ := utf8.DecodeRuneInString(next); next == "" || unicode.IsLower(n) {
			i = j - 1
			continue
		}
		if c == '.' && j == i+1 && isAbbreviation(wordBefore(text, i)) {
			continue
		}
		if s := strings.TrimSpace(text[start:j]); s != "" {
			out = append(out, s)
		}
		start = j
		i = j - 1
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// wordBefore returns the letters and dots just before text[i].
func wordBefore(text string, i int) string {
	j := i
	for j > 0 && i-j <= 6 {
		c := text[j-1]
		if c != '.' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			break
		}
		j--
	}
	return text[j:i]
}

func isAbbreviation(word string) bool {
	if len(word) == 1 {
		return true // an initial
	}
	switch strings.ToLower(word) {
	case "e.g", "i.e", "cf", "vs", "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st",
		"fig", "eq", "vol", "approx", "al", "inc", "ltd", "u.s", "u.k":
		return true
	}
	return false
}

// sentenceShaped reports whether s reads as prose sentences: it starts
// with an uppercase letter, a digit or an opening quote, ends with '.',
// '!' or '?' (before any closing quotes or brackets), and has at least
// three words.
func sentenceShaped(s string) bool {
	s = strings.TrimSpace(s)
	if len(strings.Fields(s)) < 3 {
		return false
	}
	first, _ := utf8.DecodeRuneInString(s)
	if !unicode.IsUpper(first) && !unicode.IsDigit(first) && !strings.ContainsRune("\"'“‘", first) {
		return false
	}
	end := strings.TrimRight(s, "\"')]*_”’")
	return strings.HasSuffix(end, ".") || strings.HasSuffix(end, "!") || strings.HasSuffix(end, "?")
}

// proseRuns are the runs of consecutive paragraphs of text (between its
// headings and code blocks), each ending at its last sentence that ends
// with '.', '!' or '?' (a paragraph that introduces code ends with ':')
// and kept within MaxExtractChars. A chosen text must read as the
// author's sentences: a code block or a heading in it would teach a
// half-finished answer.
func proseRuns(text string) []string {
	var out []string
	var sentences []string
	flush := func() {
		for len(sentences) > 0 && !endsSentence(sentences[len(sentences)-1]) {
			sentences = sentences[:len(sentences)-1]
		}
		var b strings.Builder
		for _, s := range sentences {
			if b.Len()+1+len(s) > MaxExtractChars {
				break
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(s)
		}
		if b.Len() > 0 {
			out = append(out, b.String())
		}
		sentences = nil
	}
	for _, b := range parseBlocks(text) {
		if b.kind != paragraph {
			flush()
			continue
		}
		sentences = append(sentences, splitSentences(b.text)...)
	}
	flush()
	return out
}

// longestProse is the longest of text's prose runs, "" when it has none.
func longestProse(text string) string {
	best := ""
	for _, r := range proseRuns(text) {
		if len(r) > len(best) {
			best = r
		}
	}
	return best
}

func endsSentence(s string) bool {
	end := strings.TrimRight(s, "\"')]*_”’")
	return strings.HasSuffix(end, ".") || strings.HasSuffix(end, "!") || strings.HasSuffix(end, "?")
}
