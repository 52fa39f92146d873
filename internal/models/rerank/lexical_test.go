package rerank

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/twin-llm/twin/internal/models/embed"
)

func TestLexicalPrefersPassagesThatAnswerTheWholeQuestion(t *testing.T) {
	t.Parallel()
	l := NewLexical(WithRankPrior(0))
	for _, tc := range []struct {
		name  string
		query string
		// passages, best first, as the reranker must order them
		passages []string
	}{
		{
			"all terms beat some terms",
			"How do mRNA vaccines train T cells?",
			[]string{
				"mRNA vaccines train T cells to recognise the spike protein.",
				"Vaccines were first given in 1796; T cells were found much later.",
				"The weather in Lisbon is mild in winter.",
			},
		},
		{
			"terms together beat the same terms scattered",
			"interleukin 10 suppresses inflammation",
			[]string{
				"We show that interleukin 10 suppresses inflammation in mice. " + strings.Repeat("Filler words about methods. ", 10),
				"Interleukin levels were measured. " + strings.Repeat("Filler words about methods. ", 5) +
					"Ten mice were used. " + strings.Repeat("Filler words about methods. ", 5) + "Inflammation suppresses growth.",
			},
		},
		{
			"the whole question beats one rare word repeated",
			"What did the author write about Kubernetes operators?",
			[]string{
				"The author wrote a series on Kubernetes operators and reconcile loops.",
				"Kubernetes, Kubernetes, Kubernetes: the word of the year.",
			},
		},
		{
			"word forms match through their stems",
			"studies of relational databases",
			[]string{
				"This study compares relational database engines.",
				"A comparison of key-value stores.",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Score them worst first, so that order alone cannot pass.
			texts := slices.Clone(tc.passages)
			slices.Reverse(texts)
			scores, err := l.Score(context.Background(), tc.query, texts)
			if err != nil {
				t.Fatal(err)
			}
			slices.Reverse(scores)
			for i := 1; i < len(scores); i++ {
				if !(scores[i-1] > scores[i]) {
					t.Errorf("passage %d scored %.4f, not above passage %d's %.4f:\n  %q\n  %q",
						i-1, scores[i-1], i, scores[i], tc.passages[i-1], tc.passages[i])
				}
			}
		})
	}
}

func TestLexicalScoresAreInTheUnitRangeAndRepeatable(t *testing.T) {
	t.Parallel()
	texts := benchPassages(40, 120)
	texts = append(texts, "", "   ", "!!!", strings.Repeat("reranker ", 500), "\xff\xfe invalid UTF-8 reranker")
	for _, query := range []string{
		"How does the reranker score passages for a hybrid search in Qdrant?",
		"reranker",
		"reranker reranker reranker",
		"Qdrant",
		"zzzz unknown words only",
	} {
		for _, l := range []*Lexical{NewLexical(), NewLexical(WithRankPrior(0)), NewLexical(WithRankPrior(1))} {
			first, err := l.Score(context.Background(), query, texts)
			if err != nil {
				t.Fatal(err)
			}
			again, err := l.Score(context.Background(), query, texts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(first, again) {
				t.Errorf("%s, %q: two calls gave different scores", l.Name(), query)
			}
			if len(first) != len(texts) {
				t.Fatalf("%s, %q: %d scores for %d texts", l.Name(), query, len(first), len(texts))
			}
			for i, s := range first {
				if !(s >= 0 && s <= 1) {
					t.Errorf("%s, %q: text %d scored %v, outside [0, 1]", l.Name(), query, i, s)
				}
			}
		}
	}
}

func TestLexicalRankPriorFavoursEarlierCandidates(t *testing.T) {
	t.Parallel()
	texts := []string{"same passage about vaccines", "same passage about vaccines", "same passage about vaccines"}
	for _, tc := range []struct {
		name       string
		l          *Lexical
		decreasing bool
	}{
		{"default", NewLexical(), true},
		{"out of range falls back to the default", NewLexical(WithRankPrior(7)), true},
		{"lexical alone", NewLexical(WithRankPrior(0)), false},
	} {
		scores, err := tc.l.Score(context.Background(), "vaccines", texts)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(scores); i++ {
			if tc.decreasing && !(scores[i] < scores[i-1]) || !tc.decreasing && scores[i] != scores[i-1] {
				t.Errorf("%s: scores %v of identical texts; want decreasing with position: %v", tc.name, scores, tc.decreasing)
				break
			}
		}
	}
}

func TestLexicalQueryWithoutContentWords(t *testing.T) {
	t.Parallel()
	texts := []string{"What is it?", "It is what it is."}
	scores, err := NewLexical(WithRankPrior(0)).Score(context.Background(), "What is it?", texts)
	if err != nil || !slices.Equal(scores, []float64{0, 0}) {
		t.Errorf("lexical alone: %v, %v; want zeros: stop words carry no evidence", scores, err)
	}
	scores, err = NewLexical().Score(context.Background(), "", texts)
	if err != nil || !(scores[0] > scores[1]) {
		t.Errorf("with the rank prior: %v, %v; want the retrieval order kept", scores, err)
	}
}

func TestLexicalNoTexts(t *testing.T) {
	t.Parallel()
	scores, err := NewLexical().Score(context.Background(), "query", nil)
	if err != nil || len(scores) != 0 {
		t.Errorf("Score(no texts) = %v, %v; want no scores, no error", scores, err)
	}
}

func TestLexicalStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewLexical().Score(ctx, "query", []string{"a query"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Score with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestLexicalIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	l := NewLexical()
	texts := benchPassages(10, 50)
	want, err := l.Score(context.Background(), "reranker latency", texts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				got, err := l.Score(context.Background(), "reranker latency", texts)
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("concurrent Score = %v, %v; want %v", got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestRarityFollowsWordFrequency(t *testing.T) {
	t.Parallel()
	l := NewLexical()
	if l.vocab == nil {
		t.Fatal("the embedded vocabulary did not load")
	}
	words := []string{"the", "time", "protein", "biomaterials"} // commoner first
	prev := -1.0
	for _, w := range words {
		r := l.rarity(w)
		if !(r > prev) || math.IsInf(r, 0) {
			t.Errorf("rarity(%q) = %v, want above %v (the word before it is commoner)", w, r, prev)
		}
		prev = r
	}
}

func TestLexicalName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		l    *Lexical
		want string
	}{
		{NewLexical(), "lexical/v1/rank=0.25"},
		{NewLexical(WithRankPrior(0)), "lexical/v1/rank=0"},
	} {
		if got := tc.l.Name(); got != tc.want {
			t.Errorf("Name() = %q, want %q", got, tc.want)
		}
	}
}

func TestStopSetHoldsTheListAndNothingElse(t *testing.T) {
	t.Parallel()
	s := newStopSet(stopWordList())
	for _, w := range stopWordList() {
		if !s.has([]byte(w)) || !s.hasString(w) {
			t.Errorf("stop word %q not found", w)
		}
	}
	for _, w := range []string{"", "vaccine", "the1", "th", "whatever", "describes", "abouts", "tell me", "THE"} {
		if s.has([]byte(w)) || s.hasString(w) {
			t.Errorf("%q found among the stop words", w)
		}
	}
}

// TestWordsAreEmbedTokens holds the reranker's scanner to the analysis of
// the BM25 model that retrieved the passages.
func TestWordsAreEmbedTokens(t *testing.T) {
	t.Parallel()
	for _, text := range wordSamples() {
		checkWords(t, text)
	}
}

// FuzzWords checks the scanner against embed.Tokens, and the two facts
// about Porter's stemmer that the matcher relies on to skip stemming most
// words: a stem keeps its word's first byte and is never longer.
func FuzzWords(f *testing.F) {
	for _, s := range wordSamples() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkWords(t, text)
		for _, w := range embed.Tokens(text) {
			if stem := embed.Stem(w); stem == "" || stem[0] != w[0] || len(stem) > len(w) {
				t.Fatalf("Stem(%q) = %q: first byte or length breaks the matcher's filter", w, stem)
			}
		}
	})
}

func wordSamples() []string {
	return []string{
		"",
		"plain lowercase words",
		"Capitalised Words, IL-10 and snake_case; T-cells!",
		"Ünïcödé WÖRDS and ǅemal ΣΊΣΥΦΟΣ",
		"e\u0301t\u0301e\u0301 combining marks",
		"数字 ١٢٣ 漢字かな",
		"\xff\xfe invalid \xc3 bytes\xe2\x82",
		strings.Repeat("a", 64) + " " + strings.Repeat("b", 65) + " " + strings.Repeat("é", 40),
		"ÀÉÎ" + strings.Repeat("x", 60),
		"tab\tnew\nline\r\nend",
		"İstanbul ǈ ẞ",
	}
}

func checkWords(t *testing.T, text string) {
	t.Helper()
	want := embed.Tokens(text)
	s := newWordScanner()
	s.reset(text)
	var got []string
	for w := s.next(); w != nil; w = s.next() {
		got = append(got, string(w))
	}
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("words of %q:\n got  %q\n want %q (embed.Tokens)", text, got, want)
	}
}

// TestStemKeepsFirstByteAndNeverGrows checks the matcher's filter on the
// 28,526 words of embed's frequency vocabulary (BERT's, from "the"), with
// their plurals and -ing, -ed and -ly forms.
func TestStemKeepsFirstByteAndNeverGrows(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("..", "embed", "vocab", "words.txt.gz"))
	if err != nil {
		t.Skipf("embed's vocabulary not found: %v", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(gz)
	n := 0
	for sc.Scan() {
		for _, suffix := range []string{"", "s", "ing", "ed", "ly", "ies", "ational"} {
			w := sc.Text() + suffix
			if len(w) == 0 || w[0] == '#' {
				continue
			}
			n++
			if stem := embed.Stem(w); stem == "" || stem[0] != w[0] || len(stem) > len(w) {
				t.Errorf("Stem(%q) = %q: first byte or length breaks the matcher's filter", w, stem)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d words checked", n)
}
