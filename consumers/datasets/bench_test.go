package datasets

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/tiltest"
)

// randomProse is n sentences of random words from a vocabulary of 5,000,
// so that texts share words but not 5-word shingles.
func randomProse(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		words := 8 + r.IntN(10)
		for w := range words {
			word := fmt.Sprintf("w%d", r.IntN(5000))
			if w == 0 {
				word = "S" + word
			} else {
				b.WriteByte(' ')
			}
			b.WriteString(word)
		}
		b.WriteByte('.')
	}
	return b.String()
}

// BenchmarkFilter measures the filters (lengths, sentence shape, personal
// data, near-duplicates) per example, on instruction pairs of about 1,500
// bytes of which one in ten is a near-copy of an earlier one.
func BenchmarkFilter(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint("examples=", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			in := make([]Example, n)
			for i := range in {
				if i%10 == 9 {
					in[i] = in[i-1]
					in[i].Output = strings.Replace(in[i].Output, "w", "v", 1)
					continue
				}
				in[i] = Example{Instruction: "Write the section about " + fmt.Sprint(i), Output: randomProse(r, 12)}
			}
			guard := newBuilder(b, Config{}).guard
			b.ResetTimer()
			for b.Loop() {
				dropped := map[string]int{}
				out := Filters{}.filter(KindInstruct, in, guard, dropped)
				if dropped[DropNearDuplicate] != n/10 {
					b.Fatalf("kept %d, dropped %v; want %d near-duplicates", len(out), dropped, n/10)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n)/1000, "µs/example")
		})
	}
}

// BenchmarkBuildInstructTIL builds an instruct set without an LLM from the
// first 1,000 posts of the simonw-til corpus in a SQLite warehouse: read,
// cut, filter, split, write and record. It skips when the corpus is absent.
func BenchmarkBuildInstructTIL(b *testing.B) {
	texts := tiltest.Texts(b, 1000)
	store, err := warehouse.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "warehouse.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	docs := make([]warehouse.Document, len(texts))
	bytes := 0
	for i, t := range texts {
		title, _, _ := strings.Cut(strings.TrimPrefix(t, "# "), "\n")
		docs[i] = warehouse.Document{ID: fmt.Sprint("til-", i), Collection: warehouse.Posts, Author: til, Title: title, Content: t}
		bytes += len(t)
	}
	if _, err := store.Upsert(b.Context(), docs); err != nil {
		b.Fatal(err)
	}
	bl, err := New(Config{Docs: store, Records: store, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(bytes))
	var rec warehouse.DatasetRecord
	for b.Loop() {
		rec, err = bl.Build(b.Context(), Request{Kind: KindInstruct, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rec.Kept), "pairs")
	b.ReportMetric(float64(len(docs)), "docs")
}
