package rerank

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
)

// benchPassages returns n passages of about words words each, drawn from
// a fixed English sample in a fixed pseudo-random order, so that each
// passage has its own mix of words, capitals and punctuation.
func benchPassages(n, words int) []string {
	sample := strings.Fields(sampleEnglish)
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for j := range words {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(sample[rng.IntN(len(sample))])
		}
		out[i] = b.String()
	}
	return out
}

// sampleEnglish is prose of the kind a twin indexes: an engineer's post.
const sampleEnglish = `Retrieval-augmented generation lets a small language model answer
questions about documents it never saw in training. The pipeline crawls the
author's articles, posts and repositories, cleans them, cuts them into chunks
of about two hundred and fifty tokens, embeds every chunk and stores the
vectors in Qdrant. At question time the service rewrites the user's query,
expands it into several variants, searches each one with a hybrid of dense
and sparse vectors, merges the hits, and asks a reranker which passages
really answer the question. Only the best five passages go into the prompt.
Latency matters: the reranker scores thirty passages per query, so it must
be fast, and it must be deterministic so that tests can pin its output.
In 2024 we measured nDCG@10 on BEIR SciFact, a benchmark of scientific
claims about COVID-19, vaccines, T-cells and IL-10 signalling in mice.`

func BenchmarkLexical30x300(b *testing.B) {
	l := NewLexical()
	texts := benchPassages(30, 300)
	query := "How does the reranker score passages for a hybrid search in Qdrant?"
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Score(ctx, query, texts); err != nil {
			b.Fatal(err)
		}
	}
}
