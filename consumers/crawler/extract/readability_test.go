package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// readabilityCase is one page of Mozilla Readability.js's test suite, with
// the metadata and the main content that Readability.js finds in it.
type readabilityCase struct {
	name     string
	source   []byte
	expected string // text of Readability's expected.html
	meta     struct {
		Title         string `json:"title"`
		Byline        string `json:"byline"`
		Lang          string `json:"lang"`
		PublishedTime string `json:"publishedTime"`
		Readerable    bool   `json:"readerable"`
	}
}

func loadReadabilityCases(tb testing.TB) []readabilityCase {
	tb.Helper()
	dir := filepath.Join(findShared(tb, "mozilla-readability"), "pages")
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var cases []readabilityCase
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c := readabilityCase{name: e.Name()}
		pageDir := filepath.Join(dir, e.Name())
		if c.source, err = readGzip(filepath.Join(pageDir, "source.html.gz")); err != nil {
			tb.Fatal(err)
		}
		expected, err := readGzip(filepath.Join(pageDir, "expected.html.gz"))
		if err != nil {
			tb.Fatal(err)
		}
		doc, err := html.Parse(bytes.NewReader(expected))
		if err != nil {
			tb.Fatal(err)
		}
		c.expected = renderText(doc)
		raw, err := os.ReadFile(filepath.Join(pageDir, "expected-metadata.json"))
		if err != nil {
			tb.Fatal(err)
		}
		if err := json.Unmarshal(raw, &c.meta); err != nil {
			tb.Fatalf("%s: %v", pageDir, err)
		}
		cases = append(cases, c)
	}
	return cases
}

// sameTitle reports whether two titles agree: equal words, or one holds
// the other whole (Readability keeps a site name that trafilatura drops,
// as in "Mozilla - Wikipedia").
func sameTitle(got, want string) bool {
	g, w := wordKey(got), wordKey(want)
	if g == "" || w == "" {
		return g == w
	}
	return g == w || strings.Contains(w, g) || strings.Contains(g, w)
}

// sameByline reports whether the author names share a word: bylines come
// as "By Jane Doe", "Jane Doe, Reuters" or "Jane Doe; John Roe".
func sameByline(got, want string) bool {
	gw := strings.Fields(wordKey(got))
	for _, w := range strings.Fields(wordKey(want)) {
		if w == "by" || len(w) < 3 {
			continue
		}
		for _, g := range gw {
			if g == w {
				return true
			}
		}
	}
	return false
}

// sameLanguage compares a BCP 47 tag ("en-US") with an ISO 639-1 code.
func sameLanguage(got, want string) bool {
	primary, _, _ := strings.Cut(strings.ToLower(want), "-")
	return strings.EqualFold(got, primary)
}

// agreement counts how often the extractor agrees with Readability.js.
type agreement struct{ agree, total int }

func (a *agreement) add(ok bool) {
	a.total++
	if ok {
		a.agree++
	}
}

func (a agreement) rate() float64 {
	if a.total == 0 {
		return 1
	}
	return float64(a.agree) / float64(a.total)
}

// Floors for the agreement with Readability.js, set a little below what was
// measured (see QUALITY.md), so that a regression fails the test while the
// two extractors' honest disagreements do not.
const (
	minTitleAgreement    = 0.70 // measured 88/121 = 0.73
	minBylineAgreement   = 0.70 // measured 57/76 = 0.75
	minLanguageAgreement = 0.90 // measured 68/71 = 0.96
	minDateAgreement     = 0.70 // measured 20/26 = 0.77
	minTextF1            = 0.95 // measured 0.957 (go-trafilatura alone: 0.930)
)

func TestReadabilityAgreement(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 130 pages: skipped in -short mode")
	}
	cases := loadReadabilityCases(t)
	base := readabilityAgreement(t, cases, Options{libraryOnly: true})
	t.Logf("go-trafilatura alone: %s", base)
	got := readabilityAgreement(t, cases, Options{})
	t.Logf("extract: %s", got)
	for _, check := range []struct {
		name      string
		got, want float64
	}{
		{"title", got.title.rate(), minTitleAgreement},
		{"byline", got.byline.rate(), minBylineAgreement},
		{"language", got.lang.rate(), minLanguageAgreement},
		{"date", got.date.rate(), minDateAgreement},
		{"text F1", got.text.f1, minTextF1},
	} {
		if check.got < check.want {
			t.Errorf("%s agreement with Readability.js %.2f, want at least %.2f", check.name, check.got, check.want)
		}
	}
}

// readabilityReport is how well Extract agrees with Readability.js.
type readabilityReport struct {
	pages                     int
	title, byline, lang, date agreement
	text                      quality
}

func (r readabilityReport) String() string {
	return fmt.Sprintf("%d pages: title %d/%d (%.2f), byline %d/%d (%.2f), language %d/%d (%.2f), date %d/%d (%.2f); text vs Readability's: P %.3f R %.3f F1 %.3f",
		r.pages, r.title.agree, r.title.total, r.title.rate(), r.byline.agree, r.byline.total, r.byline.rate(),
		r.lang.agree, r.lang.total, r.lang.rate(), r.date.agree, r.date.total, r.date.rate(),
		r.text.precision, r.text.recall, r.text.f1)
}

func readabilityAgreement(t *testing.T, cases []readabilityCase, opts Options) readabilityReport {
	t.Helper()
	ctx := context.Background()
	opts.URL = "http://fakehost/test/page.html"
	r := readabilityReport{pages: len(cases)}
	title, byline, lang, date := &r.title, &r.byline, &r.lang, &r.date
	var scores []pageScore
	for _, c := range cases {
		res, err := Extract(ctx, c.source, opts)
		if err != nil && !c.meta.Readerable {
			continue // both agree there is no article here
		}
		if err != nil {
			t.Logf("%s: %v", c.name, err)
		}
		if !c.meta.Readerable {
			continue // Readability's expectations describe a page it would not show
		}
		scores = append(scores, scorePage(c.expected, res.Text))
		if c.meta.Title != "" {
			title.add(sameTitle(res.Title, c.meta.Title))
			if testing.Verbose() && !opts.libraryOnly && !sameTitle(res.Title, c.meta.Title) {
				t.Logf("%s: title %q, Readability %q", c.name, res.Title, c.meta.Title)
			}
		}
		if c.meta.Byline != "" {
			byline.add(sameByline(res.Author, c.meta.Byline))
		}
		if c.meta.Lang != "" {
			lang.add(sameLanguage(res.Language, c.meta.Lang))
		}
		if c.meta.PublishedTime != "" {
			want, err := time.Parse(time.RFC3339, c.meta.PublishedTime)
			if err != nil {
				want, err = time.Parse("2006-01-02T15:04", c.meta.PublishedTime)
			}
			if err == nil {
				date.add(res.Date.Format(time.DateOnly) == want.Format(time.DateOnly))
			}
		}
	}
	r.text = summarize(scores)
	return r
}
