package extract

import (
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// This file holds the signals that judge a block by where it sits and what
// its text looks like, rather than by the names a site gives it.

// Bounds of recoverLede: how far back from the body it looks, and what a
// lede is.
const (
	ledeMaxElements = 150 // elements between the headline and the body
	ledeMinWords    = 10  // a standfirst is a sentence or two, not a label
	ledeMaxLinks    = 0.3 // share of its text in links
	ledeMaxBlocks   = 2   // a standfirst, maybe a second line of it
	ledeMaxGapWords = 4   // words between a lede and the body
	ledeHeadWords   = 8   // words that find the body's start in the page
)

// recoverLede puts back the standfirst that sits between a page's headline
// and its body: news and government pages put the summary of the article
// in a box of its own ("intro", "teaser", "lead") beside the body, and
// trafilatura, which keeps one container, leaves it out. A block there is
// taken when it reads as prose: enough words, a sentence end, few links,
// no byline or date markup, not a caption. The headline bounds the search:
// without an <h1> before the body, nothing is added. visible is the
// page's visibleElements.
func recoverLede(visible []*html.Node, content *html.Node) {
	if content == nil {
		return
	}
	head := leadingWords(content, ledeHeadWords)
	if head == "" {
		return
	}
	// The body starts at the last element in page order whose text starts
	// with the content's first words: the innermost one.
	start := -1
	for i, n := range visible {
		if blockTags[n.DataAtom] && strings.HasPrefix(leadingWords(n, ledeHeadWords)+" ", head+" ") {
			start = i
		}
	}
	if start < 0 {
		return
	}
	body := visible[start]
	extracted := wordKey(renderText(content))
	var ledes []*html.Node
	var taken []string
	gap := 0 // words passed on the way back that are not a lede
	for i := start - 1; i >= 0 && i >= start-ledeMaxElements; i-- {
		n := visible[i]
		if isAncestor(n, body) {
			continue
		}
		if n.DataAtom == atom.H1 {
			// Found the headline: what was taken sits between it and the
			// body.
			for j := len(ledes) - 1; j >= 0; j-- {
				p := &html.Node{Type: html.ElementNode, Data: "p", DataAtom: atom.P}
				p.AppendChild(&html.Node{Type: html.TextNode, Data: strings.TrimSpace(renderText(ledes[j]))})
				content.InsertBefore(p, content.FirstChild)
			}
			return
		}
		if len(ledes) >= ledeMaxBlocks || gap > ledeMaxGapWords || !isLedeCandidate(n) {
			if !inFigure(n) {
				gap += ownWords(n)
			}
			continue
		}
		key := wordKey(renderText(n))
		if strings.Contains(extracted, key) || containsAny(taken, key) {
			continue
		}
		ledes = append(ledes, n)
		taken = append(taken, key)
	}
}

// isLedeCandidate reports whether n reads as a paragraph of the article:
// a block without block children, of prose with few links, outside
// figures and metadata boxes.
func isLedeCandidate(n *html.Node) bool {
	switch n.DataAtom {
	case atom.P, atom.Div, atom.Section, atom.Span, atom.Strong, atom.B, atom.Em:
	default:
		return false
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && blockTags[c.DataAtom] && hasWord(renderText(c)) {
			return false
		}
	}
	for a := n; a != nil && a.Type == html.ElementNode; a = a.Parent {
		if a.DataAtom == atom.Figure || a.DataAtom == atom.Figcaption || isMetadata(a) ||
			strings.Contains(strings.ToLower(attr(a, "class")), "caption") {
			return false
		}
	}
	text := renderText(n)
	if wordsUpTo(n, ledeMinWords) < ledeMinWords || !sentenceEndRE.MatchString(text) {
		return false
	}
	return linkDensity(n) < ledeMaxLinks
}

// visibleElements returns the elements of doc that a reader can see, in
// page order.
func visibleElements(doc *html.Node) []*html.Node {
	var order []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if neverContent[n.DataAtom] && n.DataAtom != atom.Header || isHidden(n) {
				return
			}
			order = append(order, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return order
}

// Bounds of recoverSummary.
const (
	summaryMinWords = 10  // a description shorter than this is a label
	summaryMaxWords = 150 // a summary is a paragraph or two, not the article
)

// recoverSummary puts back, at the top of the text, the block of the page
// that shows the page's own summary (its meta description) when the text
// lacks it. Sites write that summary for readers and search engines, and
// many show it on the page as a standfirst or teaser, in a box that
// trafilatura, which keeps one container, leaves out; on a page where
// trafilatura took the wrong container, it is the one block known to be
// about the page. The block is found by the description's first words, and
// taken whole (the description is often cut short); it must read as prose
// (few links, not a caption) and be no longer than a summary. visible is
// the page's visibleElements.
func recoverSummary(visible []*html.Node, content *html.Node, description string) {
	if content == nil {
		return
	}
	words := strings.Fields(wordKey(description))
	if len(words) < summaryMinWords {
		return
	}
	head := strings.Join(words[:min(len(words), ledeHeadWords)], " ")
	extracted := wordKey(renderText(content))
	if strings.Contains(extracted, head) {
		return
	}
	// The first block that starts with the description's words, and of its
	// descendants that do too, the innermost.
	var found *html.Node
	for _, n := range visible {
		if !blockTags[n.DataAtom] || found != nil && !isAncestor(found, n) {
			continue
		}
		if leadingWords(n, ledeHeadWords) == head {
			found = n
		}
	}
	if found == nil || inFigure(found) || linkDensity(found) >= ledeMaxLinks ||
		wordsUpTo(found, summaryMaxWords+1) > summaryMaxWords {
		return
	}
	text := strings.TrimSpace(renderText(found))
	if strings.Contains(extracted, wordKey(text)) {
		return
	}
	p := &html.Node{Type: html.ElementNode, Data: "p", DataAtom: atom.P}
	p.AppendChild(&html.Node{Type: html.TextNode, Data: text})
	content.InsertBefore(p, content.FirstChild)
}

func isAncestor(a, n *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p == a {
			return true
		}
	}
	return false
}

func containsAny(keys []string, k string) bool {
	for _, t := range keys {
		if strings.Contains(t, k) {
			return true
		}
	}
	return false
}

// leadingWords returns the first count words of n's visible text as a
// word key, reading no further than it needs to: it runs on every block
// of the page.
func leadingWords(n *html.Node, count int) string {
	var words []string
	var walk func(*html.Node) bool
	walk = func(n *html.Node) bool {
		switch n.Type {
		case html.TextNode:
			for _, w := range wordRE.FindAllString(n.Data, count-len(words)) {
				words = append(words, strings.ToLower(w))
			}
			return len(words) < count
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Head, atom.Iframe, atom.Svg,
				atom.Button, atom.Select, atom.Textarea, atom.Input:
				return true
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if !walk(c) {
				return false
			}
		}
		return true
	}
	walk(n)
	return strings.Join(words, " ")
}

// ownWords counts the words of n's own text nodes outside links.
func ownWords(n *html.Node) int {
	if n.DataAtom == atom.A {
		return 0
	}
	count := 0
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			count += len(wordRE.FindAllStringIndex(c.Data, -1))
		}
	}
	return count
}

func inFigure(n *html.Node) bool {
	for a := n; a != nil && a.Type == html.ElementNode; a = a.Parent {
		if a.DataAtom == atom.Figure || a.DataAtom == atom.Figcaption || a.DataAtom == atom.A {
			return true
		}
	}
	return false
}

// dropComments removes readers' comment sections (a list or box whose id
// or class starts with "comment", or a known comment system's thread)
// before the extraction when comments are not wanted. Trafilatura prunes
// them only in its precision mode; in its balanced mode a comment thread
// inside the article box stays in the text.
func dropComments(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		if c.Type == html.ElementNode {
			if isCommentSection(c) {
				n.RemoveChild(c)
			} else {
				dropComments(c)
			}
		}
		c = next
	}
}

func isCommentSection(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Div, atom.Ol, atom.Ul, atom.Dl, atom.Section:
	default:
		return false
	}
	id, class := strings.ToLower(attr(n, "id")), strings.ToLower(attr(n, "class"))
	return strings.HasPrefix(id, "comment") || strings.HasPrefix(class, "comment") ||
		strings.Contains(class, "article-comments") || strings.Contains(class, "post-comments") ||
		strings.HasPrefix(id, "disqus_thread") || strings.HasPrefix(id, "dsq-comments")
}

// dropNav removes <nav> elements, which HTML defines as the navigation of
// a page. Trafilatura drops them from its main extraction, but its last
// resort on a page with little text reads the whole body, menus included.
func dropNav(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		if c.Type == html.ElementNode {
			if c.DataAtom == atom.Nav {
				n.RemoveChild(c)
			} else {
				dropNav(c)
			}
		}
		c = next
	}
}

// Bounds of trimTail.
const (
	tailMaxBlocks = 3   // blocks looked at from the end of the text
	tailMaxWords  = 40  // longer blocks are text, whatever their links
	tailMinLinks  = 0.6 // share of a block's text in links, in the page
	tailMinSocial = 2   // links to social networks or app stores, in the page
)

// socialHosts are the social networks and app stores that sites ask their
// readers to follow them on or to get their app from.
var socialHosts = []string{
	"facebook.com", "twitter.com", "x.com", "instagram.com", "t.me", "telegram.me", "youtube.com",
	"linkedin.com", "tiktok.com", "pinterest.com", "whatsapp.com", "wa.me", "threads.net",
	"bsky.app", "mastodon.social", "apps.apple.com", "itunes.apple.com", "play.google.com",
}

// trimTail removes, from the end of the extracted text, short blocks that
// the page shows as links elsewhere: when linkDense, blocks mostly made of
// links (teasers of other articles, tag lists, "more from" lines that
// trafilatura kept because the links were gone from its copy); when
// social, blocks that link to two or more social networks or app stores
// (a call to follow the site or get its app, in whatever language). A
// block is found again in the page by its first words.
func trimTail(doc, content *html.Node, linkDense, social bool) {
	if content == nil {
		return
	}
	var blocks []*html.Node
	for c := content.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && hasWord(renderText(c)) {
			blocks = append(blocks, c)
		}
	}
	if len(blocks) <= tailMaxBlocks {
		return // a short text is more likely all content
	}
	order := findAll(doc, func(n *html.Node) bool { return blockTags[n.DataAtom] })
	for i := len(blocks) - 1; i >= len(blocks)-tailMaxBlocks; i-- {
		b := blocks[i]
		if wordsUpTo(b, tailMaxWords+1) > tailMaxWords {
			return
		}
		key := wordKey(renderText(b))
		var found *html.Node
		for _, n := range order {
			if strings.HasPrefix(key+" ", leadingWords(n, ledeHeadWords)+" ") && wordKey(renderText(n)) == key {
				found = n
			}
		}
		if found == nil || !(linkDense && linkDensity(found) >= tailMinLinks || social && socialLinks(found) >= tailMinSocial) {
			return
		}
		content.RemoveChild(b)
	}
}

// socialLinks counts the links under n to socialHosts.
func socialLinks(n *html.Node) int {
	count := 0
	for _, a := range findAll(n, func(n *html.Node) bool { return n.DataAtom == atom.A }) {
		u, err := url.Parse(attr(a, "href"))
		if err != nil {
			continue
		}
		host := strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
		for _, s := range socialHosts {
			if host == s || strings.HasSuffix(host, "."+s) {
				count++
				break
			}
		}
	}
	return count
}
