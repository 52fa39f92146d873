package extract

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// neverContent are the elements that a reader never counts as the text of
// a page.
var neverContent = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Nav: true, atom.Header: true, atom.Footer: true, atom.Aside: true, atom.Form: true,
	atom.Button: true, atom.Select: true, atom.Textarea: true, atom.Input: true, atom.Label: true,
	atom.Iframe: true, atom.Svg: true, atom.Canvas: true, atom.Dialog: true, atom.Menu: true,
	atom.Head: true, atom.Object: true, atom.Embed: true,
}

// fallbackContent returns the part of the page that most likely holds its
// text, for pages where trafilatura found nothing: the <article> with the
// most text, else <main> or role="main", else <body>; in each case without
// the navigation, forms, hidden parts and other elements that are never
// content. The result is a copy; doc is left as it is.
func fallbackContent(doc *html.Node) *html.Node {
	var best *html.Node
	var bestLen int
	for _, a := range findAll(doc, func(n *html.Node) bool { return n.DataAtom == atom.Article }) {
		if l := len(wordKey(renderText(a))); l > bestLen {
			best, bestLen = a, l
		}
	}
	if best == nil {
		best = findFirst(doc, func(n *html.Node) bool { return n.DataAtom == atom.Main || attr(n, "role") == "main" })
	}
	if best == nil {
		best = findFirst(doc, func(n *html.Node) bool { return n.DataAtom == atom.Body })
	}
	if best == nil {
		return nil
	}
	return cleanCopy(best)
}

// cleanCopy copies n without the elements that are never content and
// without hidden elements.
func cleanCopy(n *html.Node) *html.Node {
	out := &html.Node{Type: n.Type, Data: n.Data, DataAtom: n.DataAtom, Attr: n.Attr, Namespace: n.Namespace}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch c.Type {
		case html.TextNode:
			out.AppendChild(&html.Node{Type: html.TextNode, Data: c.Data})
		case html.ElementNode:
			if neverContent[c.DataAtom] || isHidden(c) {
				continue
			}
			out.AppendChild(cleanCopy(c))
		}
	}
	return out
}

// isHidden reports whether n is hidden from readers by its attributes.
func isHidden(n *html.Node) bool {
	for _, a := range n.Attr {
		switch a.Key {
		case "hidden":
			return true
		case "aria-hidden":
			if a.Val == "true" {
				return true
			}
		case "style":
			s := strings.ReplaceAll(strings.ToLower(a.Val), " ", "")
			if strings.Contains(s, "display:none") || strings.Contains(s, "visibility:hidden") {
				return true
			}
		}
	}
	return false
}

func findFirst(n *html.Node, match func(*html.Node) bool) *html.Node {
	if n.Type == html.ElementNode && match(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := findFirst(c, match); f != nil {
			return f
		}
	}
	return nil
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// documentElement returns the <html> element of doc, or doc itself.
func documentElement(doc *html.Node) *html.Node {
	if h := findFirst(doc, func(n *html.Node) bool { return n.DataAtom == atom.Html }); h != nil {
		return h
	}
	return doc
}

// minLinkText is the shortest anchor text that links checks against the
// extracted text: shorter ones ("Home", "More") match words anywhere.
const minLinkText = 12

// links returns the absolute http(s) links of the page whose anchor text
// is part of the extracted text, in page order and without duplicates.
// Trafilatura drops the links from its output, so they are matched back
// by their text; short anchors are skipped because they match by chance.
func links(doc *html.Node, text string, base *url.URL) []string {
	key := wordKey(text)
	seen := make(map[string]bool)
	var out []string
	for _, a := range findAll(doc, func(n *html.Node) bool { return n.DataAtom == atom.A }) {
		anchor := wordKey(renderText(a))
		if len(anchor) < minLinkText || !strings.Contains(key, anchor) {
			continue
		}
		u, err := url.Parse(strings.TrimSpace(attr(a, "href")))
		if err != nil {
			continue
		}
		if base != nil {
			u = base.ResolveReference(u)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			continue
		}
		u.Fragment = ""
		if s := u.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// shortText is go-trafilatura's MinExtractedSize, in characters: under it,
// trafilatura reads the page with its last resort.
const shortText = 250

// unflatten gives back the paragraphs of a short page. On a page with
// little text, trafilatura's last resort reads the <article> or the <body>
// as one run of text, which glues the words of adjacent blocks ("boats.The
// council"), and on the shortest pages it puts that run after the
// paragraphs it found, so that the text comes twice. When the simple
// reading of the page holds every line of trafilatura's text and is no
// longer, it is the same text with its paragraphs.
func unflatten(text string, doc *html.Node) string {
	if !hasWord(text) || utf8.RuneCountInString(text) >= shortText {
		return text // nothing to give back, or not a short page
	}
	simple := strings.TrimSpace(renderText(fallbackContent(doc)))
	all := letters(simple)
	if !hasWord(simple) || simple == text || len(all) > len(letters(text)) {
		return text
	}
	for _, line := range strings.Split(text, "\n") {
		if !strings.Contains(all, letters(line)) {
			return text
		}
	}
	return simple
}

// letters is s without anything but its letters and digits, lowercased.
func letters(s string) string {
	return strings.ReplaceAll(wordKey(s), " ", "")
}
