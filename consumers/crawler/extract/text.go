package extract

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// Breaks between rendered blocks, from weakest to strongest. A stronger
// pending break always wins over a weaker one, so nested blocks never add
// up to more than one blank line.
const (
	noBreak   = iota
	softSpace // at the edge of an inline element: a space unless punctuation is next to it
	space
	lineBreak
	paragraphBreak
)

// textWriter renders an HTML subtree as plain text the way a reader sees
// it: inline elements flow together, block elements start a new line, and
// paragraphs are separated by a blank line.
type textWriter struct {
	b       strings.Builder
	pending int  // break to write before the next text
	inPre   int  // depth of <pre> ancestors: whitespace is kept there
	started bool // whether any text has been written yet
}

// renderText returns the readable text of n.
func renderText(n *html.Node) string {
	if n == nil {
		return ""
	}
	var w textWriter
	w.node(n)
	return w.b.String()
}

func (w *textWriter) brk(level int) {
	if level > w.pending {
		w.pending = level
	}
}

func (w *textWriter) text(s string) {
	// A soft hyphen only tells a browser where it may break a word; left
	// in, it splits the word for every reader of the text (search, the
	// embedder) and for substring matches.
	if strings.Contains(s, softHyphen) {
		s = strings.ReplaceAll(s, softHyphen, "")
	}
	if w.inPre == 0 {
		// Collapse whitespace the way a browser does, remembering that a
		// leading or trailing space separates this text from its neighbours.
		lead := s != "" && isSpace(rune(s[0]))
		trail := s != "" && isSpace(rune(s[len(s)-1]))
		s = strings.Join(strings.FieldsFunc(s, isSpace), " ")
		if s == "" {
			if lead || trail {
				w.brk(space)
			}
			return
		}
		if lead {
			w.brk(space)
		}
		w.flush(s)
		w.b.WriteString(s)
		if trail {
			w.brk(space)
		}
		return
	}
	if s == "" {
		return
	}
	w.flush(s)
	w.b.WriteString(s)
}

// flush writes the pending break before next, unless nothing has been
// written yet.
func (w *textWriter) flush(next string) {
	if w.started {
		switch w.pending {
		case softSpace:
			if !strings.ContainsAny(firstRune(next), closingPunct) &&
				!strings.ContainsAny(lastRune(w.b.String()), openingPunct) {
				w.b.WriteByte(' ')
			}
		case space:
			w.b.WriteByte(' ')
		case lineBreak:
			w.b.WriteByte('\n')
		case paragraphBreak:
			w.b.WriteString("\n\n")
		}
	}
	w.started = true
	w.pending = noBreak
}

func (w *textWriter) node(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		w.text(n.Data)
		return
	case html.ElementNode:
	case html.DocumentNode:
		w.children(n)
		return
	default:
		return
	}

	switch n.Data {
	case "script", "style", "noscript", "template", "head", "iframe", "svg", "button", "select", "textarea", "input":
		return
	case "br":
		w.brk(lineBreak)
		return
	case "hr":
		w.brk(paragraphBreak)
		return
	case "img":
		return
	}

	level, ok := blockLevel[n.Data]
	if !ok {
		// Inline elements are kept apart from their neighbours by a space:
		// trafilatura trims the text around the inline elements it keeps,
		// so "for <a>Larry</a>" comes back as "for" and "Larry" with no
		// space between them. Words split by markup ("<b>W</b>ord") are
		// rarer than that.
		w.brk(softSpace)
		w.children(n)
		w.brk(softSpace)
		return
	}
	w.brk(level)
	switch n.Data {
	case "pre":
		w.inPre++
		w.children(n)
		w.inPre--
	case "li":
		w.flush("-")
		w.b.WriteString("- ")
		w.children(n)
	case "td", "th":
		if n.PrevSibling != nil {
			// Cells of a row stay on one line, apart from each other.
			w.flush("|")
			w.b.WriteString("| ")
		}
		w.children(n)
	default:
		w.children(n)
	}
	w.brk(level)
}

func (w *textWriter) children(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.node(c)
	}
}

// blockLevel is the break that HTML block elements put around themselves.
var blockLevel = map[string]int{
	"p": paragraphBreak, "div": lineBreak, "section": paragraphBreak, "article": paragraphBreak,
	"main": paragraphBreak, "header": paragraphBreak, "footer": paragraphBreak, "aside": paragraphBreak,
	"nav": paragraphBreak, "h1": paragraphBreak, "h2": paragraphBreak, "h3": paragraphBreak,
	"h4": paragraphBreak, "h5": paragraphBreak, "h6": paragraphBreak, "ul": paragraphBreak,
	"ol": paragraphBreak, "dl": paragraphBreak, "li": lineBreak, "dt": lineBreak, "dd": lineBreak,
	"blockquote": paragraphBreak, "pre": paragraphBreak, "table": paragraphBreak, "tr": lineBreak,
	"td": space, "th": space, "caption": lineBreak, "thead": lineBreak, "tbody": lineBreak,
	"tfoot": lineBreak, "figure": paragraphBreak, "figcaption": lineBreak, "address": paragraphBreak,
	"fieldset": paragraphBreak, "form": paragraphBreak, "details": paragraphBreak, "summary": lineBreak,
	"body": paragraphBreak, "html": paragraphBreak, "center": paragraphBreak,
}

const softHyphen = "\u00ad"

func isSpace(r rune) bool { return unicode.IsSpace(r) }

// Punctuation that sticks to the word before it (closingPunct) or after it
// (openingPunct): no space is put between it and an inline element.
const (
	closingPunct = ",.;:!?)]}%…’”»"
	openingPunct = "([{¿¡“‘«„"
)

func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}

func lastRune(s string) string {
	r, _ := utf8.DecodeLastRuneInString(s)
	if r == utf8.RuneError {
		return ""
	}
	return string(r)
}
