package llm

import (
	"bufio"
	"compress/gzip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/twin-llm/twin/internal/models/embed"
)

func TestEachWordCutsLikeEmbedTokens(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"Hello, World! snake_case IL-10 3.14", "Ça marche über alles", "日本語のテキスト",
		"\xff\xfeab\xffcd", strings.Repeat("x", 65) + " short", "naïve café", "a\u00a0b\u2003c\u3000d \t\n e",
	} {
		var got []string
		fields := eachWord(text, func(w string) { got = append(got, strings.ToLower(w)) })
		if want := embed.Tokens(text); !slices.Equal(got, want) {
			t.Errorf("eachWord(%q) = %q, embed.Tokens = %q", text, got, want)
		}
		if want := len(strings.Fields(text)); fields != want || countWords(text) != want {
			t.Errorf("eachWord(%q) counts %d fields, countWords %d, strings.Fields %d", text, fields, countWords(text), want)
		}
	}
}

func TestTermSetMatchesEveryFormOfATerm(t *testing.T) {
	t.Parallel()
	ts := newTermSet("What did you write about consumers Crashing in Kubernetes, or C?")
	if ts.len() != 4 {
		t.Fatalf("terms %v, want consum, crash, kubernet, c", ts.index)
	}
	for _, tc := range []struct {
		word string
		want bool
	}{
		{"consumer", true}, {"Consumers", true}, {"CONSUMING", true}, {"crashes", true},
		{"crashed", true}, {"kubernetes", true}, {"C", true}, {"c", true},
		{"write", false}, {"the", false}, {"consul", false}, {"cat", false}, {"über", false},
	} {
		if _, got := ts.lookup(tc.word); got != tc.want {
			t.Errorf("lookup(%q) = %v, want %v", tc.word, got, tc.want)
		}
	}
}

// TestStemsKeepTheFirstTwoLetters checks the property termSet.mayMatch
// relies on, over the 28,000 words of embed's vocabulary and a few
// corner cases of the Porter stemmer: a stem of two letters or more starts
// with the word's first two (a second 'y' may become 'i'), a shorter one
// with its first.
func TestStemsKeepTheFirstTwoLetters(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../embed/vocab/words.txt.gz")
	if err != nil {
		t.Skipf("no vocabulary to test with: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	n := 0
	extra := []string{"ies", "ied", "sses", "aing", "ties", "eed", "ay", "yes", "bye", "ions", "ates", "eyed", "dyed", "ayes"}
	for sc.Scan() || len(extra) > 0 {
		w := sc.Text()
		if w == "" {
			w, extra = extra[0], extra[1:]
		}
		if toks := embed.Tokens(w); len(toks) != 1 || toks[0] != w {
			continue // a word piece ("##s") or punctuation: never a word here
		}
		st := embed.Stem(w)
		k := min(2, len(st))
		yToI := k == 2 && st[1] == 'i' && w[:2] == st[:1]+"y"
		if st == "" || w[:k] != st[:k] && !yToI {
			t.Errorf("Stem(%q) = %q does not keep the word's first %d letters", w, st, k)
		}
		if ts := newTermSet(w); ts.len() == 1 && !ts.mayMatch(strings.ToUpper(w)) {
			t.Errorf("the term of %q does not match %q", w, strings.ToUpper(w))
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 20000 {
		t.Errorf("read only %d words", n)
	}
}
