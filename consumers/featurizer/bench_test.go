package featurizer

import (
	"strings"
	"testing"
)

// benchDoc is a 4 KB markdown article: paragraphs of English, a list, a
// code block, links, a little styled text and emoji; what the pipeline
// sees for every document change.
func benchDoc() string {
	const para = "The featurizer reads every change the warehouse makes and turns it into chunks the embedder can index. " +
		"It cleans the text first, according to the kind of document: posts lose their emoji and get their 𝐛𝐨𝐥𝐝 letters back 🎉, " +
		"articles keep their code blocks, and links such as https://example.com/docs/featurizer?ref=bench stay readable. " +
		"Then it cuts the text into windows of word pieces, counted with the tokenizer of the embedding model, so that no chunk is cut short."
	const code = "```go\nfunc handle(ctx context.Context, msg jetstream.Msg) error {\n\tdoc, err := decode(msg.Data())\n\tif err != nil {\n\t\treturn err\n\t}\n\treturn publish(ctx, featurize(doc))\n}\n```"
	var b strings.Builder
	b.WriteString("# Chunking documents for retrieval\n\n")
	for b.Len() < 4000 {
		b.WriteString(para + "\n\n")
		b.WriteString("- one point\n- another   point\n\n")
		b.WriteString(code + "\n\n")
	}
	return b.String()[:4096]
}

func BenchmarkClean(b *testing.B) {
	doc := benchDoc()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		Clean(doc, CategoryArticles, CleanOptions{URLs: URLReplace})
	}
}

func BenchmarkChunkText(b *testing.B) {
	tok := newTokenizer(b)
	doc := Clean(benchDoc(), CategoryArticles, CleanOptions{})
	p := DefaultParams(CategoryArticles)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		ChunkText(doc, tok, p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkFeaturize is the whole per-document cost: clean, tokenize,
// chunk one 4 KB document. The pipeline's target is 2,000 documents a
// second end to end on 2 cores, so this should stay well under 0.5 ms.
func BenchmarkFeaturize(b *testing.B) {
	tok := newTokenizer(b)
	doc := benchDoc()
	p := DefaultParams(CategoryArticles)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		ChunkText(Clean(doc, CategoryArticles, CleanOptions{}), tok, p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkFeaturizeParallel runs BenchmarkFeaturize's work on every
// core (GOMAXPROCS), sharing one Tokenizer, as the consumer does.
func BenchmarkFeaturizeParallel(b *testing.B) {
	tok := newTokenizer(b)
	doc := benchDoc()
	p := DefaultParams(CategoryArticles)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ChunkText(Clean(doc, CategoryArticles, CleanOptions{}), tok, p)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}
