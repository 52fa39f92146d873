package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

func TestRememberedSplitsChangeNothing(t *testing.T) {
	t.Parallel()
	texts := []string{
		sampleEnglish,
		"redelivery dedup backoff throughput freshness snapshot embedding Redelivery DEDUP re-delivery",
		"naïve café Ünïcödé résumé ﬁne ＡＢＣ x" + strings.Repeat("y", 99) + " z" + strings.Repeat("q", 120),
		"[CLS]redelivery[SEP] ##dedup 2025-03-14T15:09:26Z ✓✓ 日本語 ẞtraße",
	}
	warm := newTestTokenizer(t)
	for _, text := range texts {
		warm.Tokenize(text) // fill its cache
	}
	for _, text := range texts {
		cold := newTestTokenizer(t)
		want := cold.Tokenize(text)
		if got := warm.Tokenize(text); !slices.Equal(got, want) {
			t.Errorf("%.40q: with remembered splits\n%v\nwithout\n%v", text, got, want)
		}
		if got := warm.Count(text); got != len(want) {
			t.Errorf("%.40q: Count %d with remembered splits, want %d", text, got, len(want))
		}
	}
}

func TestSpansAreTheTokensOffsets(t *testing.T) {
	t.Parallel()
	tok := newTestTokenizer(t)
	for _, text := range []string{
		sampleEnglish,
		"redelivery dedup backoff throughput [CLS] x[SEP]y ##dedup naïve ＡＢＣ 日本語 " + strings.Repeat("z", 130),
		"", "   ", "\u2603\u2603 unknown☃word",
	} {
		toks := tok.Tokenize(text)
		spans := tok.AppendSpans(nil, text)
		if len(spans) != len(toks) {
			t.Fatalf("%.40q: %d spans for %d tokens", text, len(spans), len(toks))
		}
		for i, tk := range toks {
			want := Span{Start: tk.Start, End: tk.End, Continues: strings.HasPrefix(tk.Text, "##")}
			if spans[i] != want {
				t.Fatalf("%.40q: span %d is %+v, token %+v", text, i, spans[i], tk)
			}
		}
	}
}
