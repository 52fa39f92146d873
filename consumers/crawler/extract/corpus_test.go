package extract

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// ablate, when set, runs the ablation study: every rule left out in turn,
// on the three development sets and on both halves of each.
var (
	ablate = flag.Bool("extract.ablate", false, "run the per-rule ablation study on the three development sets")
	only   = flag.String("extract.only", "", "run only the ablation variants whose name holds this text")
)

// snippetPage is one page of trafilatura's evaluation corpus: snippets of
// text that its main content holds, and snippets of boilerplate that it
// must not.
type snippetPage struct {
	id, url       string
	html          []byte
	with, without []string
}

func loadSnippetPages(tb testing.TB) []snippetPage {
	tb.Helper()
	dir := findShared(tb, "extraction-trafilatura")
	raw, err := os.ReadFile(filepath.Join(dir, "evaldata.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var items map[string]struct {
		URL     string   `json:"url"`
		With    []string `json:"with"`
		Without []string `json:"without"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		tb.Fatalf("evaldata.json: %v", err)
	}
	pages := make([]snippetPage, 0, len(items))
	for id, it := range items {
		b, err := readGzip(filepath.Join(dir, "html", id+".html.gz"))
		if err != nil {
			tb.Fatal(err)
		}
		pages = append(pages, snippetPage{id: id, url: it.URL, html: b, with: it.With, without: it.Without})
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i].id < pages[j].id })
	return pages
}

// normSpace collapses every run of whitespace to one space, as
// trafilatura's evaluation does before it looks for a snippet.
func normSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// snippetCounts is trafilatura's evaluation of one or many pages: "with"
// snippets found (tp) or missed (fn), "without" snippets found (fp) or
// not (tn).
type snippetCounts struct{ tp, fp, fn, tn int }

func countSnippets(p snippetPage, text string) snippetCounts {
	text = normSpace(text)
	var c snippetCounts
	for _, w := range p.with {
		if strings.Contains(text, normSpace(w)) {
			c.tp++
		} else {
			c.fn++
		}
	}
	for _, w := range p.without {
		if strings.Contains(text, normSpace(w)) {
			c.fp++
		} else {
			c.tn++
		}
	}
	return c
}

func (c *snippetCounts) add(d snippetCounts) {
	c.tp += d.tp
	c.fp += d.fp
	c.fn += d.fn
	c.tn += d.tn
}

// quality sums the counts over the pages, then takes precision, recall and
// their F1, as trafilatura's evaluation does.
func (c snippetCounts) quality() quality {
	var q quality
	if c.tp+c.fp > 0 {
		q.precision = float64(c.tp) / float64(c.tp+c.fp)
	}
	if c.tp+c.fn > 0 {
		q.recall = float64(c.tp) / float64(c.tp+c.fn)
	}
	if q.precision+q.recall > 0 {
		q.f1 = 2 * q.precision * q.recall / (q.precision + q.recall)
	}
	return q
}

// corpusPage is a page of any of the three sets, with what is needed to
// score an extraction of it.
type corpusPage struct {
	id, url string
	html    []byte
	score   func(text string) any // pageScore or snippetCounts
}

// corpus is one development set and the way its scores add up.
type corpus struct {
	name    string
	pages   []corpusPage
	summary func(scores []any) quality
}

func summarizeShingles(scores []any) quality {
	ps := make([]pageScore, len(scores))
	for i, s := range scores {
		ps[i] = s.(pageScore)
	}
	return summarize(ps)
}

func summarizeSnippets(scores []any) quality {
	var c snippetCounts
	for _, s := range scores {
		c.add(s.(snippetCounts))
	}
	return c.quality()
}

// loadCorpora loads the three development sets; it skips the test when
// one is absent.
func loadCorpora(tb testing.TB) []corpus {
	tb.Helper()
	var zyte, traf, moz corpus
	zyte = corpus{name: "zyte", summary: summarizeShingles}
	for _, p := range loadDevPages(tb) {
		truth := p.truth
		zyte.pages = append(zyte.pages, corpusPage{id: p.id, url: p.url, html: p.html,
			score: func(text string) any { return scorePage(truth, text) }})
	}
	traf = corpus{name: "trafilatura", summary: summarizeSnippets}
	for _, p := range loadSnippetPages(tb) {
		traf.pages = append(traf.pages, corpusPage{id: p.id, url: p.url, html: p.html,
			score: func(text string) any { return countSnippets(p, text) }})
	}
	moz = corpus{name: "mozilla", summary: summarizeShingles}
	for _, c := range loadReadabilityCases(tb) {
		if !c.meta.Readerable {
			continue
		}
		expected := c.expected
		moz.pages = append(moz.pages, corpusPage{id: c.name, url: "http://fakehost/test/page.html", html: c.source,
			score: func(text string) any { return scorePage(expected, text) }})
	}
	return []corpus{zyte, traf, moz}
}

// half tells which half of its set a page is in: a hash of its id decides,
// so the split is fixed and independent of how the set is sorted.
func half(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % 2)
}

// corpusScore is an extractor's quality on a set and on each half of it.
type corpusScore struct{ all, a, b quality }

// runCorpus extracts every page of c with opts, on every core, and scores
// the whole set and each half.
func runCorpus(tb testing.TB, c corpus, opts Options) corpusScore {
	tb.Helper()
	scores := make([]any, len(c.pages))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				p := c.pages[i]
				o := opts
				o.URL = p.url
				res, _ := Extract(context.Background(), p.html, o)
				scores[i] = p.score(res.Text)
			}
		})
	}
	for i := range c.pages {
		next <- i
	}
	close(next)
	wg.Wait()
	var a, b []any
	for i, p := range c.pages {
		if half(p.id) == 0 {
			a = append(a, scores[i])
		} else {
			b = append(b, scores[i])
		}
	}
	return corpusScore{all: c.summary(scores), a: c.summary(a), b: c.summary(b)}
}

func (s corpusScore) String() string {
	return fmt.Sprintf("P %.4f R %.4f F1 %.4f (halves %.4f / %.4f)", s.all.precision, s.all.recall, s.all.f1, s.a.f1, s.b.f1)
}

// TestAblation leaves each rule out in turn and reports F1 on the three
// sets and their halves (go test -run Ablation -extract.ablate -v).
func TestAblation(t *testing.T) {
	if !*ablate {
		t.Skip("the ablation study runs only with -extract.ablate")
	}
	corpora := loadCorpora(t)
	variants := []struct {
		name string
		opts Options
	}{
		{"go-trafilatura alone", Options{libraryOnly: true}},
		{"default rules", Options{}},
	}
	if *only != "" {
		variants = variants[1:]
	}
	for _, r := range ruleNames {
		name, rules := "without "+r.name, defaultRules&^r.rule
		if defaultRules&r.rule == 0 {
			name, rules = "with "+r.name, defaultRules|r.rule
		}
		if *only != "" && !strings.Contains(name, *only) && !strings.Contains(*only, "all") {
			continue
		}
		variants = append(variants, struct {
			name string
			opts Options
		}{name, Options{rules: rules}})
	}
	for _, v := range variants {
		var cells []string
		for _, c := range corpora {
			s := runCorpus(t, c, v.opts)
			cells = append(cells, fmt.Sprintf("%.4f (%.4f/%.4f)", s.all.f1, s.a.f1, s.b.f1))
		}
		t.Logf("| %s | %s |", v.name, strings.Join(cells, " | "))
	}
}

// ruleNames names the rules for the ablation study.
var ruleNames = []struct {
	name string
	rule rule
}{
	{"lowercased class names", ruleLowerClass},
	{"lifted tweets", ruleTweets},
	{"promo links", rulePromos},
	{"unmarked captions", ruleCaptions},
	{"loose text", ruleLooseText},
	{"repeated headline", ruleHeadline},
	{"simple fallback", ruleSimpleFallback},
	{"library fallbacks", ruleLibFallback},
	{"precision focus", rulePrecision},
	{"lede", ruleLede},
	{"comment sections", ruleComments},
	{"nav elements", ruleNav},
	{"link-dense tail", ruleLinkTail},
	{"vote of the other extractors", ruleVote},
	{"summary", ruleSummary},
	{"social tail", ruleSocialTail},
}

// TestDumpCorpora writes every page's extraction to -extract.dump, one
// folder per set, to study the failures offline.
func TestDumpCorpora(t *testing.T) {
	if *dumpDir == "" || !*ablate {
		t.Skip("runs only with -extract.ablate and -extract.dump")
	}
	opts := Options{}
	for _, r := range ruleNames {
		if *only == "with "+r.name {
			opts.rules = defaultRules | r.rule
		}
		if *only == "without "+r.name {
			opts.rules = defaultRules &^ r.rule
		}
	}
	for _, c := range loadCorpora(t) {
		dir := filepath.Join(*dumpDir, c.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range c.pages {
			o := opts
			o.URL = p.url
			res, err := Extract(context.Background(), p.html, o)
			if err != nil {
				t.Logf("%s %s: %v", c.name, p.id, err)
			}
			if err := os.WriteFile(filepath.Join(dir, p.id+".txt"), []byte(res.Text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
