package warehouse

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// benchDocs makes batch documents of 4 KB each for round, drawing content
// from contents; links are unique per (tag, round) unless fixed.
func benchDocs(docs []Document, contents []string, tag string, round int, fixedLinks bool) {
	linkRound := round
	if fixedLinks {
		linkRound = 0
	}
	for i := range docs {
		docs[i] = Document{
			Collection: Collections()[i%3],
			Link:       fmt.Sprintf("https://example.com/%s/%d/%d", tag, linkRound, i),
			Author:     fmt.Sprintf("Author %d", i%7),
			Platform:   "blog",
			Title:      fmt.Sprintf("Document %d of round %d", i, round),
			Content:    contents[(round+i)%len(contents)],
			Language:   "en",
		}
	}
}

func benchContents() []string {
	r := rand.New(rand.NewPCG(1, 2))
	contents := make([]string, 64)
	for i := range contents {
		contents[i] = testContent(r, 4096)
	}
	return contents
}

// benchUpsert upserts batches of 4 KB documents into s and reports docs/s.
// mode is "insert" (new documents every batch), "update" (the same
// documents with new content) or "unchanged" (the same documents again:
// reads and hash comparisons, no writes).
func benchUpsert(b *testing.B, s Store, mode string, batch int) {
	contents := benchContents()
	docs := make([]Document, batch)
	if mode != "insert" {
		benchDocs(docs, contents, mode, 0, true)
		if _, err := s.Upsert(b.Context(), docs); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(batch) * 4096)
	rounds := 0
	for b.Loop() {
		rounds++
		switch mode {
		case "insert":
			benchDocs(docs, contents, mode, rounds, false)
		case "update":
			benchDocs(docs, contents, mode, rounds, true)
		}
		res, err := s.Upsert(b.Context(), docs)
		if err != nil {
			b.Fatal(err)
		}
		if res[0].Changed != (mode != "unchanged") {
			b.Fatalf("%s: Changed = %v", mode, res[0].Changed)
		}
	}
	b.ReportMetric(float64(rounds*batch)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkSQLiteBulkUpsert measures bulk upserts of 4 KB documents, 1,000
// a transaction (target: at least 10,000 docs/s on 2 cores).
func BenchmarkSQLiteBulkUpsert(b *testing.B) {
	for _, mode := range []string{"insert", "update", "unchanged"} {
		b.Run(mode, func(b *testing.B) {
			s, err := OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "warehouse.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchUpsert(b, s, mode, 1000)
		})
	}
}

// BenchmarkMongoBulkUpsert runs the MongoDB code path on embedded FerretDB,
// 100 documents a bulk. It is not representative of MongoDB: FerretDB's
// SQLite handler scans whole collections for updates and range queries and
// slows down as the collection grows. It shows that the path works and
// gives an order of magnitude, nothing more.
func BenchmarkMongoBulkUpsert(b *testing.B) {
	uri := startFerretDB(b)
	for _, mode := range []string{"insert", "unchanged"} {
		b.Run(mode, func(b *testing.B) {
			s, err := OpenMongo(b.Context(), uri, "bench_"+mode)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchUpsert(b, s, mode, 100)
		})
	}
}

// BenchmarkStoredDocument is the codec's share of a SQLite row: a 4 KB
// document encoded as it is written, and decoded as it is read.
func BenchmarkStoredDocument(b *testing.B) {
	d := Document{ID: "doc-1", Collection: Articles, AuthorID: "u-1", Author: "Ada", Platform: "blog",
		Link: "https://example.com/a", Title: "Generated", Language: "en", Content: benchContents()[0],
		ContentHash: "sha256:0123456789abcdef", Revision: 7, UpdatedAt: storeTime(time.Now())}
	body, err := encodeDocument(&d)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := encodeDocument(&d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := decodeDocument(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSQLitePutTraces measures trace writes (2 KB traces) one per
// transaction, as the monitor did, against batches of 64, under both
// synchronous settings: with FULL every commit waits for an fsync, which a
// batch pays once.
func BenchmarkSQLitePutTraces(b *testing.B) {
	body := fmt.Sprintf(`{"trace_id":"t","query":"what is a queue?","steps":[{"name":"generate","output":%q}]}`, strings.Repeat("x", 2048))
	for _, full := range []bool{true, false} {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("full=%v/batch=%d", full, batch), func(b *testing.B) {
				s, err := OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "warehouse.db"), SQLiteFullSync(full))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				traces := make([]TraceRecord, batch)
				n := 0
				for b.Loop() {
					for i := range traces {
						n++
						traces[i] = TraceRecord{TraceID: fmt.Sprint("trace-", n), RequestID: fmt.Sprint("req-", n),
							Author: "Ada", CreatedAt: time.Now(), Trace: json.RawMessage(body)}
					}
					created, err := s.PutTraces(b.Context(), traces)
					if err != nil {
						b.Fatal(err)
					}
					if !created[0] {
						b.Fatal("a new trace was not created")
					}
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "traces/s")
			})
		}
	}
}

// BenchmarkSQLiteListPage reads a page of 100 documents, newest first, of
// a warehouse of 30,000, at the top and near the bottom of the listing
// (the cursor of the last page but one), and counts the listing: what GET
// /v1/docs does for each page.
func BenchmarkSQLiteListPage(b *testing.B) {
	s, err := OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "warehouse.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	contents := benchContents()
	docs := make([]Document, 1000)
	for round := range 30 {
		benchDocs(docs, contents, "list", round, false)
		if _, err := s.Upsert(b.Context(), docs); err != nil {
			b.Fatal(err)
		}
	}
	last, err := s.LastRevision(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		after int64
	}{{"first", 0}, {"deep", 200}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				page, err := s.List(b.Context(), ListOptions{Limit: 100, Descending: true, After: c.after})
				if err != nil || len(page) != 100 {
					b.Fatalf("a page of %d documents (of %d): %v", len(page), last, err)
				}
			}
		})
	}
	b.Run("count", func(b *testing.B) {
		for b.Loop() {
			if n, err := s.Count(b.Context(), "", ListOptions{}); err != nil || n != 30000 {
				b.Fatalf("Count = %d, %v", n, err)
			}
		}
	})
	b.Run("count-author", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Count(b.Context(), AuthorID("Author 3"), ListOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
