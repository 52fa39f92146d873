package embed

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTokensAreLowercaseWordRuns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  \n\t ", nil},
		{"Hello, World!", []string{"hello", "world"}},
		{"0-dimensional biomaterials", []string{"0", "dimensional", "biomaterials"}},
		{"IL-6 and TNF-α levels", []string{"il", "6", "and", "tnf", "α", "levels"}},
		{"snake_case camelCase", []string{"snake", "case", "camelcase"}},
		{"p = 0.016; 1.8 µm²/ms", []string{"p", "0", "016", "1", "8", "µm", "ms"}},
		{"Ünïcödé ÉCOLE naïve", []string{"ünïcödé", "école", "naïve"}},
		{"日本語のテキスト", []string{"日本語のテキスト"}},
		{"don't", []string{"don", "t"}},
		{"e\u0301te", []string{"e\u0301te"}}, // combining mark stays in the word
		{"a\xffb", []string{"a", "b"}},       // invalid UTF-8 separates
		{strings.Repeat("x", 64) + " ok", []string{strings.Repeat("x", 64), "ok"}},
		{strings.Repeat("x", 65) + " ok", []string{"ok"}}, // too long: dropped
	} {
		if got := Tokens(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzTokens checks that tokenizing never panics, is deterministic, and
// yields non-empty, lowercase, valid UTF-8 tokens of bounded length that
// stem and hash without trouble.
func FuzzTokens(f *testing.F) {
	for _, s := range []string{"", "Hello, World!", "IL-6 TNF-α", "a\xffb", "日本語", "ÉCOLE", "İstanbul", "ǅ", strings.Repeat("ab", 40)} {
		f.Add(s)
	}
	bm25, hashed := NewBM25(), NewHashed(64)
	f.Fuzz(func(t *testing.T, s string) {
		a, b := Tokens(s), Tokens(s)
		if !slices.Equal(a, b) {
			t.Fatalf("Tokens(%q) not deterministic: %q vs %q", s, a, b)
		}
		for _, tok := range a {
			if tok == "" || !utf8.ValidString(tok) || len(tok) > 4*maxTokenBytes {
				t.Fatalf("Tokens(%q) gave bad token %q", s, tok)
			}
			if strings.ToLower(tok) != tok {
				t.Fatalf("Tokens(%q) gave %q, not lowercase", s, tok)
			}
			if Stem(tok) != Stem(tok) {
				t.Fatalf("Stem(%q) not deterministic", tok)
			}
		}
		d1, d2 := bm25.Document(s), bm25.Document(s)
		if !slices.Equal(d1.Indices, d2.Indices) || !slices.Equal(d1.Values, d2.Values) {
			t.Fatalf("BM25 document of %q not deterministic", s)
		}
		if !slices.IsSorted(d1.Indices) || len(d1.Indices) != len(slices.Compact(slices.Clone(d1.Indices))) {
			t.Fatalf("BM25 indices of %q not sorted and unique: %v", s, d1.Indices)
		}
		v1, _ := hashed.Embed(t.Context(), []string{s})
		v2, _ := hashed.Embed(t.Context(), []string{s})
		if !slices.Equal(v1[0], v2[0]) {
			t.Fatalf("hashed vector of %q not deterministic", s)
		}
	})
}
