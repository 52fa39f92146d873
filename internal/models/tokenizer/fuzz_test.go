package tokenizer

import (
	"strings"
	"testing"
)

// FuzzTokenize checks that no input makes the tokenizer panic, and that
// its tokens always keep their promises: offsets in range and
// non-decreasing, texts that are vocabulary entries, and Count and Encode
// agreeing with Tokenize.
func FuzzTokenize(f *testing.F) {
	for _, tt := range goldenTests {
		f.Add(tt.text)
	}
	f.Add(sampleEnglish)
	f.Add("\xff\xfe invalid \xc3 UTF-8 \xe2\x82")
	f.Add("[CLS][SEP][PAD][UNK][MASK][CL")
	f.Add(strings.Repeat("ab", 80) + "😀")
	tok := newTestTokenizer(f)
	f.Fuzz(func(t *testing.T, text string) {
		toks := tok.Tokenize(text)
		checkTokens(t, tok, text, toks)
		if n := tok.Count(text); n != len(toks) {
			t.Fatalf("Count = %d, len(Tokenize) = %d for %q", n, len(toks), text)
		}
		if ids := tok.Encode(text); len(ids) != len(toks)+2 {
			t.Fatalf("Encode gave %d ids for %d tokens", len(ids), len(toks))
		}
	})
}
