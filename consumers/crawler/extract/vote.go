package extract

import (
	"net/url"
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

// voters holds the other extractors' results for a page: their trees,
// which trafilatura compares with its own as fallbacks, and their text,
// which votes on the lines trafilatura keeps.
type voters struct {
	readability, distiller *html.Node
	keys                   []string // " word key " of each text
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
			v.keys = append(v.keys, " "+wordKey(renderText(n))+" ")
		}
	}
	return v
}

// confirmed reports whether line is found whole, by its words, in the
// text of another extractor.
func (v voters) confirmed(line string) bool {
	k := " " + wordKey(line) + " "
	for _, t := range v.keys {
		if strings.Contains(t, k) {
			return true
		}
	}
	return false
}

// dropUnconfirmed removes from text the lines of voteMaxWords words or
// fewer that no other extractor found. Without a vote (both extractors
// found nothing) the text is kept as it is.
func dropUnconfirmed(text string, v voters) string {
	if len(v.keys) == 0 {
		return text
	}
	lines := strings.Split(text, "\n")
	kept := lines[:0]
	for _, line := range lines {
		if hasWord(line) && wordsIn(line, voteMaxWords+1) <= voteMaxWords && !v.confirmed(line) {
			continue
		}
		kept = append(kept, line)
	}
	// A removed paragraph leaves its blank lines behind: keep one.
	var b strings.Builder
	blank := false
	for _, line := range kept {
		if strings.TrimSpace(line) == "" {
			blank = b.Len() > 0
			continue
		}
		if blank {
			b.WriteString("\n\n")
		} else if b.Len() > 0 {
			b.WriteByte('\n')
		}
		blank = false
		b.WriteString(line)
	}
	return b.String()
}

// wordsIn counts the words of s, stopping at limit.
func wordsIn(s string, limit int) int {
	return len(wordRE.FindAllStringIndex(s, limit))
}
