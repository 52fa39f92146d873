package extract

import (
	"net/url"
	"slices"
	"strings"

	"github.com/go-shiori/dom"
	readability "github.com/go-shiori/go-readability"
	distiller "github.com/markusmobius/go-domdistiller"
	"golang.org/x/net/html"
)

// This file holds the vote of the other extractors: a short line that
// neither Readability nor DOM Distiller finds in the page's main text is
// more likely a label, a call to subscribe or a link to another article
// than a line of the article. Comparisons of content extractors found
// that a vote among several beats each of them alone; this is the
// smallest form of it, and it only ever removes short lines.

// voteMaxWords bounds the lines put to the vote: a longer line is prose,
// and the other extractors miss whole paragraphs more often than
// trafilatura keeps boilerplate that long (QUALITY.md).
const voteMaxWords = 20

// voteMaxPageBytes bounds the pages that get a vote: DOM Distiller's time
// grows with the square of a page's text blocks (a page of 2 MB of short
// paragraphs costs it seconds), and trafilatura, left to itself, runs it
// only when its own text is short. The largest page of the development
// sets is 1.3 MB.
const voteMaxPageBytes = 2 << 20

// voters holds the other extractors' results for a page: their trees,
// which trafilatura compares with its own as fallbacks, and their text,
// which votes on the lines trafilatura keeps.
type voters struct {
	readability, distiller *html.Node
	texts                  []wordIndex
}

// wordIndex finds a run of words in a text in time that grows with how
// often the run's rarest pair of words occurs, not with the text: a page
// can have thousands of short lines, and searching the whole text for each
// would make a large page take minutes.
type wordIndex struct {
	words []string            // the text's words, lowercased
	pairs map[string][]int    // where each pair of words starts
	vocab map[string]struct{} // every word, for lines of one word
}

func newWordIndex(text string) wordIndex {
	idx := wordIndex{
		words: strings.Fields(wordKey(text)),
		pairs: make(map[string][]int),
		vocab: make(map[string]struct{}),
	}
	for i, w := range idx.words {
		idx.vocab[w] = struct{}{}
		if i+1 < len(idx.words) {
			pair := w + " " + idx.words[i+1]
			idx.pairs[pair] = append(idx.pairs[pair], i)
		}
	}
	return idx
}

// holds reports whether words occur in the text one after the other. It
// looks only where the line's rarest pair of words occurs, so that a text
// full of lines that start alike ("Posted by", "Line 1") stays fast.
func (idx wordIndex) holds(words []string) bool {
	switch len(words) {
	case 0:
		return false
	case 1:
		_, ok := idx.vocab[words[0]]
		return ok
	}
	offset, starts := 0, []int(nil)
	for j := 0; j+1 < len(words); j++ {
		at, ok := idx.pairs[words[j]+" "+words[j+1]]
		if !ok {
			return false
		}
		if starts == nil || len(at) < len(starts) {
			offset, starts = j, at
		}
	}
	for _, at := range starts {
		if i := at - offset; i >= 0 && i+len(words) <= len(idx.words) && slices.Equal(idx.words[i:i+len(words)], words) {
			return true
		}
	}
	return false
}

// runVoters runs Readability and DOM Distiller on doc, which neither
// changes. Their trees are rendered at once: trafilatura cleans the one
// it takes in place.
func runVoters(doc *html.Node, pageURL *url.URL) voters {
	var v voters
	if art, err := readability.FromDocument(doc, pageURL); err == nil {
		v.readability = art.Node
	}
	if res, err := distiller.Apply(dom.Clone(doc, true), &distiller.Options{OriginalURL: pageURL, SkipPagination: true}); err == nil && res != nil {
		v.distiller = res.Node
	}
	for _, n := range []*html.Node{v.readability, v.distiller} {
		if n != nil {
			v.texts = append(v.texts, newWordIndex(renderText(n)))
		}
	}
	return v
}

// confirmed reports whether line is found whole, by its words, in the
// text of another extractor.
func (v voters) confirmed(line string) bool {
	words := strings.Fields(wordKey(line))
	for _, t := range v.texts {
		if t.holds(words) {
			return true
		}
	}
	return false
}

// dropUnconfirmed removes from text the lines of voteMaxWords words or
// fewer that no other extractor found, except the lines of code: a line of
// a program that the others left out is still part of it. A paragraph
// that loses every line goes with its blank line; the rest of the text is
// left exactly as it was. Without a vote (both extractors found nothing)
// nothing goes.
func dropUnconfirmed(text string, v voters, code map[string]bool) string {
	if len(v.texts) == 0 {
		return text
	}
	paras := strings.Split(text, "\n\n")
	kept := paras[:0]
	for _, para := range paras {
		lines := strings.Split(para, "\n")
		left := lines[:0]
		for _, line := range lines {
			if !code[line] && hasWord(line) && wordsIn(line, voteMaxWords+1) <= voteMaxWords && !v.confirmed(line) {
				continue
			}
			left = append(left, line)
		}
		switch {
		case len(left) == len(lines):
			kept = append(kept, para)
		case hasWord(strings.Join(left, "\n")):
			kept = append(kept, strings.Join(left, "\n"))
		}
	}
	return strings.Join(kept, "\n\n")
}

// codeLines returns the lines of the <pre> blocks under n, as the text
// shows them.
func codeLines(n *html.Node) map[string]bool {
	lines := make(map[string]bool)
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "pre" {
			for _, line := range strings.Split(renderText(n), "\n") {
				lines[line] = true
			}
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return lines
}

// wordsIn counts the words of s, stopping at limit.
func wordsIn(s string, limit int) int {
	return len(wordRE.FindAllStringIndex(s, limit))
}
