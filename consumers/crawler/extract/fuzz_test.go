package extract

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/evaldata"
)

// maxExtractTime bounds one extraction of a fuzzed input, which is small:
// real pages of a few hundred kilobytes take tens of milliseconds.
const maxExtractTime = 10 * time.Second

func FuzzExtract(f *testing.F) {
	for _, seed := range []string{
		"",
		"<",
		"<html>",
		"<p>text</p>",
		"<html><head><title>t</title></head><body><article><p>One sentence. Two sentences.</p></article></body></html>",
		"<div>loose text<br><br>more loose text.<div>block</div>tail</div>",
		"<table><tr><td>a<td>b<tr><td>c</table>",
		"<ul><li>one<li>two<ol><li>nested</ol></ul>",
		"<p><strong>Related:</strong> <a href='/x'>link</a></p>",
		"<div class=social-embed><blockquote class=twitter-tweet><p>tweet</p></blockquote></div>",
		"<div><img src=x><span>caption</span></div>",
		"<meta charset=iso-8859-1><p>caf\xe9</p>",
		"\xff\xfe<\x00p\x00>\x00",
		"<svg><foreignObject><p>x</p></foreignObject></svg><math><mi>y</mi></math>",
		"<template><p>hidden</p></template><noscript><p>no script</p></noscript>",
		"<pre>  code\n  block</pre><script>var a = '</p>';</script>",
		"<body><h1>Title</h1><h1>Title</h1></body>",
		"<a href='javascript:alert(1)'>a long enough anchor text</a>",
		strings.Repeat("<div>", 2000) + "deep" + strings.Repeat("</div>", 2000),
		strings.Repeat("<p>word ", 500),
	} {
		f.Add([]byte(seed))
	}
	// A few real pages, when the evaluation data is beside the repository.
	if pages, err := filepath.Glob(filepath.Join(evaldata.Path("extraction-dev"), "html", "0*.html.gz")); err == nil {
		for _, p := range pages[:min(3, len(pages))] {
			if b, err := readGzip(p); err == nil {
				f.Add(b)
			}
		}
	}

	f.Fuzz(func(t *testing.T, page []byte) {
		start := time.Now()
		res, err := Extract(context.Background(), page, Options{URL: "https://example.com/a/b"})
		if d := time.Since(start); d > maxExtractTime {
			t.Fatalf("Extract took %v on %d bytes", d, len(page))
		}
		if errors.Is(err, errPanic) {
			t.Fatalf("an extraction library panicked: %v", err)
		}
		if err != nil {
			// ErrNoContent, or a page the HTML parser refuses (more than
			// 512 nested elements): errors, not crashes.
			return
		}
		if !hasWord(res.Text) {
			t.Fatalf("Extract returned text without words: %q", res.Text)
		}
		if !utf8.ValidString(res.Text) {
			t.Fatalf("Extract returned invalid UTF-8: %q", res.Text)
		}
		// Preformatted text keeps its blank lines; elsewhere paragraphs are
		// one blank line apart.
		if strings.Contains(res.Text, "\n\n\n") && !bytes.Contains(bytes.ToLower(page), []byte("<pre")) {
			t.Fatalf("Text has more than one blank line between paragraphs: %q", res.Text)
		}
	})
}
