package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	trafilatura "github.com/markusmobius/go-trafilatura"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/unicode/norm"
)

// ErrNoContent reports a page without any main text: an empty page, a page
// made only of navigation, a script shell rendered by JavaScript.
var ErrNoContent = errors.New("extract: no main content")

// errPanic marks the error of a page on which an extraction library
// panicked; the fuzz test looks for it.
var errPanic = errors.New("extract: recovered from panic")

// Result is what a page holds for a reader.
type Result struct {
	Title       string
	Author      string
	Language    string // ISO 639-1 code, from the text, else from the page
	SiteName    string
	Description string
	Text        string    // main text; paragraphs separated by a blank line
	Date        time.Time // published date, when found
	Links       []string  // absolute links found in the main text
	Method      string    // which path produced Text: "trafilatura" or "fallback"
}

// Options tune Extract.
type Options struct {
	// URL is the address of the page: it resolves relative links and is a
	// hint for metadata. Optional.
	URL string
	// ContentType is the Content-Type header of the response; its charset
	// parameter decides the encoding when the page does not. Optional.
	ContentType string
	// IncludeComments keeps reader comments after the main text.
	IncludeComments bool

	// libraryOnly runs go-trafilatura alone, with its default options: the
	// baseline that the quality tests measure the rules against.
	libraryOnly bool
	// rules, when not zero, replaces defaultRules: the ablation study of
	// the quality tests turns single rules on and off with it.
	rules rule
}

// rule names one of the steps around trafilatura, so that the quality
// tests can measure what each is worth by leaving it out.
type rule uint32

const (
	ruleLowerClass rule = 1 << iota
	ruleTweets
	rulePromos
	ruleCaptions
	ruleLooseText
	ruleHeadline
	ruleSimpleFallback
	ruleLibFallback
	rulePrecision
	ruleLede
	ruleComments
	ruleNav
	ruleLinkTail
	ruleVote
	ruleSummary
	ruleSocialTail
)

// defaultRules are the rules that Extract runs: those that helped on at
// least two of the three development sets and hurt none, and four kept on
// other grounds that QUALITY.md gives (the summary, comment sections,
// <nav>, the simple fallback).
const defaultRules = ruleLowerClass | ruleTweets | rulePromos | ruleCaptions | ruleLooseText | ruleHeadline |
	ruleSimpleFallback | ruleLibFallback | ruleLede | ruleComments | ruleNav | ruleLinkTail | ruleVote | ruleSummary |
	ruleSocialTail

// on reports whether rule r runs under opts.
func (o Options) on(r rule) bool {
	if o.libraryOnly {
		return false
	}
	set := o.rules
	if set == 0 {
		set = defaultRules
	}
	return set&r != 0
}

// Extract finds the main text and the metadata of an HTML page. It returns
// ErrNoContent when the page has no main text. The extraction itself does
// not watch ctx once it runs (the libraries take no context): a page takes
// milliseconds, and the crawler caps the page size.
func Extract(ctx context.Context, page []byte, opts Options) (res Result, err error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	// The extraction libraries walk untrusted markup; a bug in them must
	// fail one page, not the crawler.
	defer func() {
		if r := recover(); r != nil {
			res, err = Result{}, fmt.Errorf("%w: %v", errPanic, r)
		}
	}()

	doc, err := parse(page, opts.ContentType)
	if err != nil {
		return Result{}, fmt.Errorf("extract: parse html: %w", err)
	}
	pageURL, err := url.Parse(opts.URL)
	if err != nil || !pageURL.IsAbs() || pageURL.Host == "" {
		pageURL = nil
	}
	// Read before the rules change the tree.
	h1 := firstText(doc, atom.H1)
	htmlLang := attr(documentElement(doc), "lang")

	topts := trafilatura.Options{
		OriginalURL:     pageURL,
		ExcludeComments: !opts.IncludeComments,
		HtmlDateMode:    trafilatura.Fast,
		// Measured on the three development sets: the balanced focus,
		// with Readability and DOM Distiller as fallbacks, scores best;
		// the precision focus helps on the Zyte pages only (QUALITY.md).
		EnableFallback: opts.on(ruleLibFallback),
	}
	if opts.on(rulePrecision) {
		topts.Focus = trafilatura.FavorPrecision
	}
	if opts.on(ruleNav) {
		dropNav(doc)
	}
	if opts.on(ruleComments) && !opts.IncludeComments {
		dropComments(doc)
	}
	if opts.on(ruleLowerClass) {
		lowerClassNames(doc)
	}
	if opts.on(ruleTweets) {
		liftTweets(doc)
	}
	if opts.on(rulePromos) {
		dropPromos(doc)
	}
	if opts.on(ruleCaptions) {
		dropCaptions(doc)
	}
	if opts.on(ruleLooseText) {
		wrapLooseText(doc)
	}

	var votes voters
	if opts.on(ruleVote) && len(page) <= voteMaxPageBytes {
		// The fallbacks that trafilatura would run are run here once: their
		// texts vote on trafilatura's lines, and trafilatura still compares
		// their trees with its own.
		votes = runVoters(doc, pageURL)
		topts.FallbackCandidates = &trafilatura.FallbackCandidates{
			Readability: votes.readability, Distiller: votes.distiller,
		}
	}
	tr, err := trafilatura.ExtractDocument(doc, topts)
	var content *html.Node
	if err == nil && tr != nil {
		res = Result{
			Title:       tr.Metadata.Title,
			Author:      tr.Metadata.Author,
			Language:    tr.Metadata.Language,
			SiteName:    tr.Metadata.Sitename,
			Description: tr.Metadata.Description,
			Date:        tr.Metadata.Date,
			Method:      "trafilatura",
		}
		content = tr.ContentNode
		if opts.on(ruleHeadline) {
			dropLeadingTitle(content, tr.Metadata.Title, h1)
		}
		trimTail(doc, content, opts.on(ruleLinkTail), opts.on(ruleSocialTail))
		if opts.on(ruleLede) || opts.on(ruleSummary) {
			// Both look for blocks in the page, which the rules no longer
			// change: it is read once.
			visible := visibleElements(doc)
			if opts.on(ruleLede) {
				recoverLede(visible, content)
			}
			if opts.on(ruleSummary) {
				recoverSummary(visible, content, tr.Metadata.Description)
			}
		}
		res.Text = strings.TrimSpace(renderText(content))
		if opts.on(ruleSimpleFallback) {
			res.Text = unflatten(res.Text, doc)
		}
		if opts.on(ruleVote) {
			res.Text = dropUnconfirmed(res.Text, votes, codeLines(content))
		}
	}
	if !hasWord(res.Text) && opts.on(ruleSimpleFallback) {
		// Trafilatura found nothing (its own fallbacks included): read
		// the page the simple way, from its <article>, <main> or <body>
		// without the parts that are never content.
		content = fallbackContent(doc)
		res.Text = strings.TrimSpace(renderText(content))
		res.Method = "fallback"
		if res.Title == "" {
			res.Title = strings.TrimSpace(firstText(doc, atom.Title))
		}
	}
	if !hasWord(res.Text) {
		return Result{}, ErrNoContent
	}

	if opts.IncludeComments && tr != nil && tr.CommentsNode != nil {
		if comments := strings.TrimSpace(renderText(tr.CommentsNode)); comments != "" {
			res.Text += "\n\n" + comments
		}
	}
	if res.Language == "" {
		res.Language, _, _ = strings.Cut(strings.ToLower(htmlLang), "-")
	}
	res.Links = links(doc, res.Text, pageURL)
	return res, nil
}

// parse decodes page to UTF-8 and parses it. A byte order mark decides
// first; then bytes that are valid UTF-8 are read as UTF-8, whatever the
// page declares: text in another encoding is practically never valid UTF-8
// by chance, while sites often declare Latin-1 or GB2312 by mistake, or
// declare nothing in the first 1 KB where the declaration is looked for.
// Otherwise the Content-Type charset, <meta charset>, then Windows-1252.
// The page is parsed as a browser without scripts reads it, as a crawler
// does: what a <noscript> holds is markup, not text (some blogs put their
// whole article there).
func parse(page []byte, contentType string) (*html.Node, error) {
	enc, name, _ := charset.DetermineEncoding(page, contentType)
	switch {
	case utf8.Valid(page):
		enc = unicode.UTF8BOM // strips a leading byte order mark
	case name == "utf-8":
		// Declared or guessed UTF-8 with invalid bytes in it: the charset
		// package's UTF-8 passes them through, this one replaces them
		// with U+FFFD, so that the text is valid UTF-8.
		enc = unicode.UTF8
	}
	r := enc.NewDecoder().Reader(bytes.NewReader(page))
	// NFC, so that composed and decomposed accents compare equal downstream.
	return html.ParseWithOptions(norm.NFC.Reader(r), html.ParseOptionEnableScripting(false))
}
