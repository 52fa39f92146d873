package embed

import (
	"context"
	"strings"
	"testing"

	"github.com/twin-llm/twin/internal/models/embed/scifacttest"
)

// benchChunk is about 256 WordPiece tokens of prose (190 words), the size of
// a typical chunk.
var benchChunk = strings.TrimSpace(strings.Repeat(`Alterations of the architecture of cerebral white matter in the
developing human brain can affect cortical development and result in functional disabilities.
A line scan diffusion-weighted magnetic resonance imaging sequence with diffusion tensor analysis
was applied to measure the apparent diffusion coefficient, to calculate relative anisotropy, and to
delineate three-dimensional fiber architecture in cerebral white matter in preterm and full-term infants. `, 3))

func BenchmarkHashedEmbed(b *testing.B) {
	for _, dim := range []int{384, DefaultDim} {
		b.Run(NewHashed(dim).Model(), func(b *testing.B) {
			m := NewHashed(dim)
			texts := []string{benchChunk}
			b.SetBytes(int64(len(benchChunk)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Embed(context.Background(), texts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
		})
	}
}

func BenchmarkBM25Document(b *testing.B) {
	m := NewBM25()
	b.SetBytes(int64(len(benchChunk)))
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Document(benchChunk)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
}

func BenchmarkTokens(b *testing.B) {
	b.SetBytes(int64(len(benchChunk)))
	b.ReportAllocs()
	for b.Loop() {
		_ = Tokens(benchChunk)
	}
}

// BenchmarkSciFactChunks embeds real abstracts cut to about 256 WordPiece
// tokens (190 words), with both embedded models, as the embedder does.
func BenchmarkSciFactChunks(b *testing.B) {
	d := scifacttest.Load(b)
	chunks := make([]string, 0, 1000)
	for _, doc := range d.Docs[:1000] {
		words := strings.Fields(doc)
		chunks = append(chunks, strings.Join(words[:min(190, len(words))], " "))
	}
	dense, sparse := NewHashed(DefaultDim), NewBM25()
	b.Run("hashed", func(b *testing.B) {
		for b.Loop() {
			if _, err := dense.Embed(context.Background(), chunks); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(chunks))/b.Elapsed().Seconds(), "chunks/s")
	})
	b.Run("bm25", func(b *testing.B) {
		for b.Loop() {
			for _, c := range chunks {
				_ = sparse.Document(c)
			}
		}
		b.ReportMetric(float64(b.N*len(chunks))/b.Elapsed().Seconds(), "chunks/s")
	})
}
