package extract

import (
	"regexp"
	"slices"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// This file holds the rules that run around trafilatura: they fix kinds of
// markup it misreads, found by reading where it failed on the benchmark's
// development pages, and stated for markup in general.

// wordRE matches a word: letters, digits and underscores, like `\w` in
// Unicode-aware regexp engines.
var wordRE = regexp.MustCompile(`[\p{L}\p{N}_]+`)

// blockTags are the elements that break the flow of inline text.
var blockTags = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Aside: true, atom.Blockquote: true,
	atom.Center: true, atom.Details: true, atom.Dialog: true, atom.Dd: true, atom.Div: true,
	atom.Dl: true, atom.Dt: true, atom.Fieldset: true, atom.Figcaption: true, atom.Figure: true,
	atom.Footer: true, atom.Form: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true,
	atom.H5: true, atom.H6: true, atom.Header: true, atom.Hgroup: true, atom.Hr: true, atom.Li: true,
	atom.Main: true, atom.Nav: true, atom.Ol: true, atom.P: true, atom.Pre: true, atom.Section: true,
	atom.Table: true, atom.Ul: true, atom.Iframe: true, atom.Summary: true, atom.Menu: true,
	atom.Tr: true, atom.Td: true, atom.Th: true, atom.Tbody: true, atom.Thead: true, atom.Tfoot: true,
}

// looseTextParents are the containers whose loose text gets paragraphs.
var looseTextParents = map[atom.Atom]bool{
	atom.Div: true, atom.Section: true, atom.Article: true, atom.Main: true, atom.Center: true,
	atom.Body: true,
}

// wrapLooseText puts the text that sits directly in a container, between
// its block children or in runs separated by <br><br>, into <p> elements.
// Browsers show such text as paragraphs, but trafilatura reads paragraphs
// from <p> and drops loose text in a <div> that also holds other elements
// (a lede in <div class="summary">, a whole article written as text and
// <br> in <div class="content">). The container itself is kept, with its
// attributes, because trafilatura's selectors look at them.
func wrapLooseText(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			wrapLooseText(c)
		}
	}
	if n.Type != html.ElementNode || !looseTextParents[n.DataAtom] || !hasOwnText(n) || !hasBreakingChild(n) {
		return
	}
	// Split the children in runs of inline nodes, then wrap every run with
	// words of its own, but only if one of them reads as prose: a
	// container of labels and dates is left alone, and in a container of
	// prose the short runs (a line without a full stop) are part of it.
	var runs [][]*html.Node
	var run []*html.Node
	end := func() {
		if len(run) > 0 {
			runs = append(runs, run)
			run = nil
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch {
		case c.Type == html.ElementNode && isBlock(c):
			end()
		case c.Type == html.ElementNode && c.DataAtom == atom.Br && isDoubleBreak(c):
			end()
		default:
			run = append(run, c)
		}
	}
	end()
	if !slices.ContainsFunc(runs, runIsProse) {
		return
	}
	for _, run := range runs {
		if !runHasOwnText(run) {
			continue
		}
		p := &html.Node{Type: html.ElementNode, Data: "p", DataAtom: atom.P}
		n.InsertBefore(p, run[0])
		for _, c := range run {
			n.RemoveChild(c)
			p.AppendChild(c)
		}
		trimBreaks(p)
	}
}

// hasOwnText reports whether n has a text child with a word in it.
func hasOwnText(n *html.Node) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode && hasWord(c.Data) {
			return true
		}
	}
	return false
}

// hasBreakingChild reports whether n has a block or <br> child: whether its
// text is split in several parts. A container holding one run of text
// ("Advertisement", a caption, a date line) is a label more often than a
// paragraph, and trafilatura already judges those.
func hasBreakingChild(n *html.Node) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (c.DataAtom == atom.Br || isBlock(c)) {
			return true
		}
	}
	return false
}

// runHasOwnText reports whether a run of inline nodes holds words outside
// links: a run of bare links is navigation, and wrapping it in a paragraph
// would only make it look like prose.
func runHasOwnText(run []*html.Node) bool {
	for _, c := range run {
		if c.Type == html.TextNode && hasWord(c.Data) {
			return true
		}
		if c.Type == html.ElementNode && c.DataAtom != atom.A && hasOwnTextDeep(c) {
			return true
		}
	}
	return false
}

func hasOwnTextDeep(n *html.Node) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch {
		case c.Type == html.TextNode && hasWord(c.Data):
			return true
		case c.Type == html.ElementNode && c.DataAtom != atom.A && c.DataAtom != atom.Script &&
			c.DataAtom != atom.Style && hasOwnTextDeep(c):
			return true
		}
	}
	return false
}

// isBlock reports whether n breaks the inline flow: a block element, or an
// inline one that wraps blocks (<a><div>…</div></a>).
func isBlock(n *html.Node) bool {
	if blockTags[n.DataAtom] {
		return true
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && isBlock(c) {
			return true
		}
	}
	return false
}

// isDoubleBreak reports whether br is followed by another <br>, with only
// whitespace between them: the way text-and-<br> pages mark paragraphs.
func isDoubleBreak(br *html.Node) bool {
	for c := br.NextSibling; c != nil; c = c.NextSibling {
		switch {
		case c.Type == html.TextNode && strings.TrimSpace(c.Data) == "":
			continue
		case c.Type == html.CommentNode:
			continue
		case c.Type == html.ElementNode && c.DataAtom == atom.Br:
			return true
		}
		return false
	}
	return false
}

// trimBreaks removes <br> elements at the edges of a new paragraph.
func trimBreaks(p *html.Node) {
	for _, edge := range []func() *html.Node{func() *html.Node { return p.FirstChild }, func() *html.Node { return p.LastChild }} {
		for c := edge(); c != nil; c = edge() {
			if c.Type == html.ElementNode && c.DataAtom == atom.Br || c.Type == html.TextNode && strings.TrimSpace(c.Data) == "" {
				p.RemoveChild(c)
				continue
			}
			break
		}
	}
}

// sentenceEndRE finds the end of a sentence: a full stop, question or
// exclamation mark (Latin or CJK), maybe followed by a closing quote, at
// the end of the text or before a space.
var sentenceEndRE = regexp.MustCompile(`[.!?…。！？]['"’”»)]*(\s|$)`)

// runIsProse reports whether a run of inline nodes reads as prose: it has
// words outside links, and at least one sentence ends in it. Labels such as
// "Advertisement" or "First published: Tuesday, 08:38" are left as they are.
func runIsProse(run []*html.Node) bool {
	if !runHasOwnText(run) {
		return false
	}
	var b strings.Builder
	for _, c := range run {
		b.WriteString(renderText(c))
		b.WriteByte(' ')
	}
	return sentenceEndRE.MatchString(b.String())
}

// tag returns the element's atom. Trafilatura builds its output with
// elements that have a name but no atom.
func tag(n *html.Node) atom.Atom {
	if n.DataAtom != 0 {
		return n.DataAtom
	}
	return atom.Lookup([]byte(n.Data))
}

func hasWord(s string) bool {
	return wordRE.MatchString(s)
}

// dropLeadingTitle removes the page's headline from the start of the
// extracted content: Result.Title carries it, and a body that repeats it
// reads it twice downstream (chunks, embeddings, the benchmark's human
// annotators, who leave it out of the article body). titles are the
// candidates: the metadata title and the page's <h1>.
func dropLeadingTitle(content *html.Node, titles ...string) {
	var keys []string
	for _, t := range titles {
		if k := wordKey(t); k != "" {
			keys = append(keys, k)
		}
	}
	if content == nil || len(keys) == 0 {
		return
	}
	for c := content.FirstChild; c != nil; {
		next := c.NextSibling
		switch {
		case c.Type == html.TextNode && strings.TrimSpace(c.Data) == "":
		case c.Type == html.ElementNode && (isHeading(c) || tag(c) == atom.P) && slices.Contains(keys, wordKey(renderText(c))):
			content.RemoveChild(c)
			return
		default:
			return
		}
		c = next
	}
}

func isHeading(n *html.Node) bool {
	switch tag(n) {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		return true
	}
	return false
}

// wordKey is s reduced to its lowercased words, for comparing texts that
// differ only in punctuation, case and spacing.
func wordKey(s string) string {
	return strings.ToLower(strings.Join(wordRE.FindAllString(s, -1), " "))
}

// firstText returns the rendered text of the first element a.
func firstText(n *html.Node, a atom.Atom) string {
	if n.Type == html.ElementNode && n.DataAtom == a {
		return renderText(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if t := firstText(c, a); t != "" {
			return t
		}
	}
	return ""
}

// promoLabel matches the labels that announce links to other articles:
// "Related:", "Read more:", "SEE ALSO", "Don't miss", "More Great WIRED
// Stories", "You may also like"...
var promoLabel = `(?:related(?: \pL+)?|(?:read|see|watch|listen)(?: (?:more|also|next))?(?: (?:on|from|about|at) [\pL\pN ]{1,30})?|more(?: \pL+){0,3} (?:stories|articles|news|coverage|reading|videos|posts|headlines)|more(?: (?:on|from|about) [\pL\pN ]{1,30})?|(?:also|further|recommended|suggested) (?:read|reading|see|watch|stories|articles|for you)|recommended|don'?t miss(?: this)?|you (?:may|might) (?:also )?(?:like|enjoy|be interested in)|what to read next|up next|trending(?: now)?|most (?:popular|read))`

// promoLabelRE matches a whole label, promoLeadRE a label that leads a
// line: "Read more: <a>...</a>".
var (
	promoLabelRE = regexp.MustCompile(`(?i)^` + promoLabel + `\s*[:|»›>\-–—]?$`)
	promoLeadRE  = regexp.MustCompile(`(?i)^` + promoLabel + `\s*[:|»›>\-–—]`)
)

// dropPromos removes links to other articles from the article: a line that
// starts with a promo label and is mostly links ("Related: <a>Photos of
// Europa</a>"), and a promo label standing alone followed by lists or
// lines of links. Trafilatura removes such blocks when their class says so
// ("related"), but many sites put them in plain <p> and <ul> inside the
// article body.
func dropPromos(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		if c.Type != html.ElementNode {
			c = next
			continue
		}
		if isLine(c) {
			text := strings.TrimSpace(renderText(c))
			switch {
			case promoLabelRE.MatchString(text):
				// A label alone: it goes with the link blocks after it.
				for s := next; s != nil; {
					after := s.NextSibling
					if s.Type == html.ElementNode {
						// Teasers mix words and links ("YouTubers must
						// unionize, <a>no matter what Google says</a>"):
						// after a label, a third of links is enough.
						if linkDensity(s) < 0.3 {
							break
						}
						n.RemoveChild(s)
					}
					s = after
					next = after
				}
				n.RemoveChild(c)
				c = next
				continue
			case len(text) < 400 && promoLeadRE.MatchString(text) && linkDensity(c) >= 0.5:
				n.RemoveChild(c)
				c = next
				continue
			}
		}
		dropPromos(c)
		c = next
	}
}

// isLine reports whether n is an element that holds one line or paragraph
// of text: a paragraph, heading or list item, or a container without
// block children.
func isLine(n *html.Node) bool {
	switch n.DataAtom {
	case atom.P, atom.Li, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Dt, atom.Strong, atom.B:
		return true
	case atom.Div, atom.Span, atom.Section, atom.Header:
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && isBlock(c) {
				return false
			}
		}
		return true
	}
	return false
}

// linkDensity is the share of n's text, in letters and digits, that sits
// inside links.
func linkDensity(n *html.Node) float64 {
	var all, linked int
	var walk func(*html.Node, bool)
	walk = func(n *html.Node, inLink bool) {
		switch n.Type {
		case html.TextNode:
			k := len(wordKey(n.Data))
			all += k
			if inLink {
				linked += k
			}
			return
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Noscript, atom.Template:
				return
			case atom.A:
				inLink = true
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inLink)
		}
	}
	walk(n, false)
	if all == 0 {
		return 0
	}
	return float64(linked) / float64(all)
}

// maxCaptionWords is the longest text that still counts as a caption.
const maxCaptionWords = 25

// dropCaptions removes image captions that are not marked as such: a
// <div> holding an image and a short text, or a short line that follows
// an image (<img><br><center><em>Photo: …</em></center>). Trafilatura drops
// <figure> and <figcaption>, but older markup has neither, and readers
// (and the benchmark's annotators) do not count captions as the text.
// Boxes that hold a byline or a date are left alone (an author's name
// after an avatar looks like a caption): trafilatura reads the metadata
// from them, and keeps them out of the text by itself.
func dropCaptions(doc *html.Node) {
	// walk removes the captions under n and reports whether n holds an
	// image and whether it holds metadata, so that each node is looked
	// at once.
	var walk func(n *html.Node) (image, meta bool)
	walk = func(n *html.Node) (image, meta bool) {
		image = n.DataAtom == atom.Img || n.DataAtom == atom.Picture
		meta = isMetadata(n)
		for c := n.FirstChild; c != nil; {
			next := c.NextSibling
			if c.Type == html.ElementNode {
				ci, cm := walk(c)
				if !cm && isCaption(c, ci) {
					n.RemoveChild(c)
				} else {
					image = image || ci
					meta = meta || cm
				}
			}
			c = next
		}
		return image, meta
	}
	walk(doc)
}

// metadataWords are found in the class or id of the elements that hold a
// page's byline and dates.
var metadataWords = []string{"author", "byline", "writer", "contributor", "profile", "date", "time", "meta"}

// isMetadata reports whether n holds the byline or the date, judged from
// its class, id, rel or itemprop.
func isMetadata(n *html.Node) bool {
	for _, a := range n.Attr {
		if a.Key != "class" && a.Key != "id" && a.Key != "rel" && a.Key != "itemprop" {
			continue
		}
		v := strings.ToLower(a.Val)
		for _, w := range metadataWords {
			if strings.Contains(v, w) {
				return true
			}
		}
	}
	return false
}

// isCaption reports whether n is an image caption; image tells whether n
// holds an image.
func isCaption(n *html.Node, image bool) bool {
	switch n.DataAtom {
	case atom.Div, atom.Center, atom.Span:
		if image && !hasTextBlock(n) {
			if w := wordsUpTo(n, maxCaptionWords+1); w > 0 && w <= maxCaptionWords {
				return true
			}
		}
	}
	switch n.DataAtom {
	case atom.Center, atom.Span, atom.Em, atom.I, atom.Small, atom.Div:
		// A line after an image is less surely its caption: it may be
		// the first sentence of the text. It must read as a title, not
		// as prose.
		prev := prevElement(n)
		if prev == nil || prev.DataAtom != atom.Img && !(hasImage(prev) && wordsUpTo(prev, 1) == 0) {
			return false
		}
		if image || hasTextBlock(n) {
			return false
		}
		if w := wordsUpTo(n, maxCaptionWords+1); w == 0 || w > maxCaptionWords {
			return false
		}
		return !sentenceEndRE.MatchString(renderText(n))
	}
	return false
}

// prevElement returns the element before n, skipping whitespace and one
// <br>; nil when text comes first.
func prevElement(n *html.Node) *html.Node {
	brs := 0
	for c := n.PrevSibling; c != nil; c = c.PrevSibling {
		switch {
		case c.Type == html.TextNode && strings.TrimSpace(c.Data) == "", c.Type == html.CommentNode:
		case c.Type == html.ElementNode && c.DataAtom == atom.Br && brs == 0:
			brs++
		case c.Type == html.ElementNode && c.DataAtom != atom.Br:
			return c
		default:
			return nil
		}
	}
	return nil
}

func hasImage(n *html.Node) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (c.DataAtom == atom.Img || c.DataAtom == atom.Picture || hasImage(c)) {
			return true
		}
	}
	return false
}

// hasTextBlock reports whether n holds paragraphs, headings or lists: it
// is then more than a caption.
func hasTextBlock(n *html.Node) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		switch c.DataAtom {
		case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Ul, atom.Ol, atom.Table, atom.Blockquote, atom.Pre:
			return true
		}
		if hasTextBlock(c) {
			return true
		}
	}
	return false
}

// wordsUpTo counts the words of n's visible text, stopping at limit so
// that asking about a big subtree stays cheap. Words split by markup count
// twice, which is fine for a bound.
func wordsUpTo(n *html.Node, limit int) int {
	count := 0
	var walk func(*html.Node) bool
	walk = func(n *html.Node) bool {
		switch n.Type {
		case html.TextNode:
			count += len(wordRE.FindAllStringIndex(n.Data, limit-count+1))
			return count < limit
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Noscript, atom.Template:
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
	return min(count, limit)
}

// embedWrapperRE matches the class or id of the boxes that sites put
// around embedded posts.
var embedWrapperRE = regexp.MustCompile(`(?i)embed|social|tweet|twitter`)

// liftTweets takes embedded tweets (<blockquote class="twitter-tweet">)
// out of their wrapper box when the box holds nothing else. Articles quote
// tweets as they quote people, but the wrappers' classes ("social-embed")
// look like share buttons, and trafilatura drops them with the tweet.
func liftTweets(n *html.Node) {
	var quotes []*html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			if c.DataAtom == atom.Blockquote && strings.Contains(attr(c, "class"), "twitter-tweet") {
				quotes = append(quotes, c)
				continue
			}
			find(c)
		}
	}
	find(n)
	for _, q := range quotes {
		words := wordsUpTo(q, 1<<20)
		wrapper := q
		for p := q.Parent; p != nil && p.Type == html.ElementNode; p = p.Parent {
			if (p.DataAtom != atom.Div && p.DataAtom != atom.Figure && p.DataAtom != atom.Aside && p.DataAtom != atom.Span) ||
				!embedWrapperRE.MatchString(attr(p, "class")+" "+attr(p, "id")) || wordsUpTo(p, words+1) != words {
				break
			}
			wrapper = p
		}
		if wrapper != q {
			q.Parent.RemoveChild(q)
			wrapper.Parent.InsertBefore(q, wrapper)
			wrapper.Parent.RemoveChild(wrapper)
		}
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// lowerClassNames lowercases class and id attributes. Trafilatura's
// selectors compare them case-sensitively ("newsletter", "related"), so
// they miss the CamelCase and BEM names of many sites
// ("Newsletter-container", "RelatedArticles").
func lowerClassNames(n *html.Node) {
	if n.Type == html.ElementNode {
		for i, a := range n.Attr {
			if a.Key == "class" || a.Key == "id" {
				n.Attr[i].Val = strings.ToLower(a.Val)
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		lowerClassNames(c)
	}
}
