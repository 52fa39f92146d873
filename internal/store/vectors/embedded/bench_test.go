package embedded

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// Benchmarks on a store of a million chunks: 384-dimensional random unit
// vectors (all-MiniLM-L6-v2's size), BM25-like sparse vectors over a Zipf
// vocabulary, 100 authors, 3 categories. Building it takes a while and
// about 4 GB, so the benchmarks share one, built on first use.

const (
	benchPoints = 1_000_000
	benchDim    = 384
	benchVocab  = 30_000
	benchTerms  = 40 // distinct terms per chunk
)

var bench struct {
	once  sync.Once
	dir   string // outlives the benchmark that builds the store; see TestMain
	s     *Store
	heap  uint64 // bytes in use after building
	build time.Duration
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.s != nil {
		bench.s.Close()
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

func benchStore(b *testing.B) *Store {
	bench.once.Do(func() {
		start := time.Now()
		dir, err := os.MkdirTemp("", "twin-vectors-bench-")
		if err != nil {
			b.Fatal(err)
		}
		bench.dir = dir
		s, err := Open(dir, benchDim)
		if err != nil {
			b.Fatal(err)
		}
		// Points go straight into the index: these benchmarks measure
		// search, BenchmarkUpsert the write path.
		workers := runtime.GOMAXPROCS(0)
		const chunk = 8192
		for lo := 0; lo < benchPoints; lo += chunk * workers {
			entries := make([][]entry, workers)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					first := lo + w*chunk
					rng := rand.New(rand.NewPCG(uint64(first), 1))
					zipf := rand.NewZipf(rng, 1.1, 1, benchVocab-1)
					for i := first; i < min(first+chunk, benchPoints); i++ {
						p := benchPoint(rng, zipf, i)
						entries[w] = append(entries[w], prepare(p, nil, s.stride, false))
					}
				})
			}
			wg.Wait()
			for _, es := range entries {
				for i := range es {
					s.idx.put(&es[i])
				}
			}
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		bench.s, bench.heap, bench.build = s, ms.HeapInuse, time.Since(start)
	})
	return bench.s
}

func benchPoint(rng *rand.Rand, zipf *rand.Zipf, i int) vectors.Point {
	dense := make([]float32, benchDim)
	for j := range dense {
		dense[j] = float32(rng.NormFloat64())
	}
	terms := map[uint32]float32{}
	for len(terms) < benchTerms {
		terms[uint32(zipf.Uint64())] += 1
	}
	var sp vectors.Sparse
	for t := range terms {
		sp.Indices = append(sp.Indices, t)
	}
	slices.Sort(sp.Indices)
	for _, t := range sp.Indices {
		tf := float64(terms[t])
		sp.Values = append(sp.Values, float32(tf*2.2/(tf+1.2))) // saturated, k1 = 1.2
	}
	return vectors.Point{ID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i), Dense: dense, Sparse: sp, Payload: vectors.Payload{
		DocumentID: fmt.Sprint("doc-", i/8), AuthorID: fmt.Sprint("author-", i%100), Category: []string{"articles", "posts", "repositories"}[i%3],
		Platform: "medium", ChunkIndex: i % 8,
	}}
}

func benchQueries(n int) []vectors.Query {
	rng := rand.New(rand.NewPCG(99, 99))
	zipf := rand.NewZipf(rng, 1.1, 1, benchVocab-1)
	var qs []vectors.Query
	for range n {
		p := benchPoint(rng, zipf, 0)
		// A short query: 6 terms from the middle of the vocabulary's
		// frequency range, as a question's content words are.
		var sp vectors.Sparse
		for t := uint32(rng.IntN(200)) + 20; len(sp.Indices) < 6; t += uint32(1 + rng.IntN(300)) {
			sp.Indices = append(sp.Indices, t)
			sp.Values = append(sp.Values, 1)
		}
		qs = append(qs, vectors.Query{Dense: p.Dense, Sparse: sp, Limit: 10})
	}
	return qs
}

func runQueries(b *testing.B, s *Store, qs []vectors.Query) {
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := s.Search(b.Context(), qs[i%len(qs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/query")
	b.ReportMetric(float64(bench.heap)/(1<<20), "MB-heap")
}

func BenchmarkDenseSearch1M(b *testing.B) {
	filters := []struct {
		name string
		f    vectors.Filter
	}{
		{"all", vectors.Filter{}},
		{"one-author-of-100", vectors.Filter{AuthorIDs: []string{"author-7"}}},
		{"one-category-of-3", vectors.Filter{Categories: []string{"posts"}}},
	}
	for _, f := range filters {
		b.Run(f.name, func(b *testing.B) {
			s := benchStore(b)
			qs := benchQueries(32)
			for i := range qs {
				qs[i].Sparse, qs[i].Filter = vectors.Sparse{}, f.f
			}
			runQueries(b, s, qs)
		})
	}
}

func BenchmarkSparseSearch(b *testing.B) {
	s := benchStore(b)
	qs := benchQueries(32)
	for i := range qs {
		qs[i].Dense = nil
	}
	runQueries(b, s, qs)
}

func BenchmarkHybridSearch(b *testing.B) {
	s := benchStore(b)
	runQueries(b, s, benchQueries(32))
}

// BenchmarkUpsert writes batches of 64 chunks of 384 dimensions, with
// about 1 KB of text and 40 sparse terms each, to a store on disk; every
// batch is one record and one fsync.
func BenchmarkUpsert(b *testing.B) {
	s, err := Open(b.TempDir(), benchDim)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 1, benchVocab-1)
	const batch = 64
	batches := make([][]vectors.Point, 64)
	for i := range batches {
		for j := range batch {
			p := benchPoint(rng, zipf, i*batch+j)
			p.Payload.Text = string(make([]byte, 1000))
			p.Payload.Extra = map[string]any{"chunk_size": 256.0, "chunk_overlap": 32.0, "model": "all-MiniLM-L6-v2"}
			batches[i] = append(batches[i], p)
		}
	}
	n := 0
	for b.Loop() {
		points := batches[n%len(batches)]
		for j := range points {
			// New ids each round, so the store grows as in real use.
			points[j].ID = fmt.Sprintf("%08x-0000-4000-8000-000000000000", n*batch+j)
		}
		if err := s.Upsert(b.Context(), points); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*batch)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(n), "ms/batch")
}

// BenchmarkUpsertConcurrent is BenchmarkUpsert with four writers, whose
// batches share commits (one record and one fsync for all that wait).
func BenchmarkUpsertConcurrent(b *testing.B) {
	s, err := Open(b.TempDir(), benchDim)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch, writers = 64, 4
	var mu sync.Mutex // guards next
	next := 0
	b.SetParallelism(writers / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		w := next
		next++
		mu.Unlock()
		rng := rand.New(rand.NewPCG(uint64(w), 2))
		zipf := rand.NewZipf(rng, 1.1, 1, benchVocab-1)
		points := make([]vectors.Point, batch)
		for j := range points {
			points[j] = benchPoint(rng, zipf, j)
			points[j].Payload.Text = string(make([]byte, 1000))
		}
		for i := 0; pb.Next(); i++ {
			for j := range points {
				points[j].ID = fmt.Sprintf("%08x-%04x-4000-8000-000000000000", i*batch+j, w)
			}
			if err := s.Upsert(b.Context(), points); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkReopen1M compacts the million-point store into a snapshot,
// copies it to a fresh directory and opens it there: the time a restart
// takes at that size.
func BenchmarkReopen1M(b *testing.B) {
	s := benchStore(b)
	start := time.Now()
	if err := s.Compact(b.Context()); err != nil {
		b.Fatal(err)
	}
	compact := time.Since(start)
	dir := b.TempDir()
	for _, name := range []string{snapshotName, logName(s.log.gen)} {
		if err := copyFile(filepath.Join(s.dir, name), filepath.Join(dir, name)); err != nil {
			b.Fatal(err)
		}
	}
	st, err := os.Stat(filepath.Join(dir, snapshotName))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := Open(dir, benchDim)
		if err != nil {
			b.Fatal(err)
		}
		if r.Stats().Points != benchPoints {
			b.Fatalf("reopened %d points, want %d", r.Stats().Points, benchPoints)
		}
		r.Close()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/open")
	b.ReportMetric(compact.Seconds(), "s/compact")
	b.ReportMetric(float64(st.Size())/(1<<20), "MB-snapshot")
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
