// Package extract finds the main text of a web page and its metadata: what
// the article crawler stores for a page, and what `twin extract` prints.
//
// The engine is go-trafilatura (a port of Python's trafilatura), run with
// its balanced focus and its two fallback extractors (go-readability and
// go-domdistiller). It also gives the metadata: title, author, published
// date, site name, description, and the language detected from the text
// (the page's lang attribute when the text says nothing).
//
// Around it, a few rules fix kinds of markup that trafilatura misreads.
// Each is stated for markup in general, never for a site, and each was
// kept only if it helped on at least two of three development sets (the
// Zyte article-extraction benchmark, trafilatura's own evaluation corpus,
// Mozilla Readability's test pages) and hurt none beyond noise; <nav>
// removal and the last fallback guard cases the sets do not measure, and
// the summary rule follows one set's convention where the sets disagree
// (QUALITY.md says why):
//
//   - Before: <nav> elements and readers' comment sections (unless
//     comments are asked for) are removed; class and id names are
//     lowercased, because trafilatura's selectors compare them
//     case-sensitively and miss "Newsletter-box"; embedded tweets are
//     lifted out of "social embed" boxes that would be dropped with them;
//     lines of links to other articles announced by a label ("Related:",
//     "Read more:") are removed; image captions without <figure> markup
//     are removed; text that sits loose in a <div> between <br><br> or
//     blocks is put in paragraphs, as a browser shows it.
//   - After: the headline is not repeated at the top of the text (Title
//     carries it); a standfirst that sits between the page's <h1> and the
//     body, in a box of its own, is put back at the top when it reads as
//     prose and nothing but a few words separate it from the body; so is
//     the block that shows the page's own summary (its meta description)
//     when the text lacks it; the last blocks of the text are dropped
//     while, found again in the page, they are short and mostly links
//     (teasers of other articles) or link to two or more social networks
//     or app stores (calls to follow).
//   - The vote: Readability and DOM Distiller run on every page (they are
//     also trafilatura's fallbacks), and a line of the text of 20 words or
//     fewer that neither of them finds is dropped: labels, calls to
//     subscribe, credits that one extractor keeps and the others do not.
//     Lines of code (<pre>) are never put to the vote.
//   - When trafilatura finds nothing, the text of <article>, <main> or
//     <body> is used without navigation, forms and hidden parts
//     (Result.Method tells which path produced the text). The same simple
//     reading replaces trafilatura's on a short page when it holds the same
//     text with its paragraphs (trafilatura's last resort glues the blocks
//     of a short page into one line, or gives them twice). A page without
//     any words gives ErrNoContent.
//
// The text is plain: one blank line between paragraphs, list items on
// their own lines, table cells separated by " | ", a space around inline
// elements except next to the punctuation that sticks to a word, no soft
// hyphens.
//
// Pages are parsed as a browser without scripts reads them, as a crawler
// does: what a <noscript> holds is markup.
//
// Pages are decoded to UTF-8 first: bytes that are valid UTF-8 are read as
// such whatever the page declares, otherwise the Content-Type charset, the
// <meta charset> declaration, then Windows-1252 decide; invalid bytes in a
// page read as UTF-8 become U+FFFD.
//
// QUALITY.md beside this file gives the measured quality and speed, and how
// to measure them again (TestExtractionQuality, TestAblation,
// TestReadabilityAgreement and BenchmarkExtract read the evaluation data in
// ../shared/data from the repository root and skip when it is absent).
package extract
