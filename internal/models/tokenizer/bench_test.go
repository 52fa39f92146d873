package tokenizer

import (
	"strings"
	"testing"
)

// BenchmarkTokenize measures throughput on about 4 KB of English, the
// size of a typical document.
func BenchmarkTokenize(b *testing.B) {
	tok := newTestTokenizer(b)
	text := strings.Repeat(sampleEnglish, 4)
	n := len(tok.Tokenize(text))
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		tok.Tokenize(text)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkTokens(b *testing.B) {
	tok := newTestTokenizer(b)
	text := strings.Repeat(sampleEnglish, 4)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		for range tok.Tokens(text) {
		}
	}
}

func BenchmarkCount(b *testing.B) {
	tok := newTestTokenizer(b)
	text := strings.Repeat(sampleEnglish, 4)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		tok.Count(text)
	}
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(); err != nil {
			b.Fatal(err)
		}
	}
}
