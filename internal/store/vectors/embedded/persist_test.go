package embedded

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/twin-llm/twin/internal/store/vectors"
)

const testDim = 24

// testPoints makes n points of document doc with random vectors, ids
// starting at first.
func testPoints(rng *rand.Rand, doc string, first, n int) []vectors.Point {
	var points []vectors.Point
	for i := range n {
		dense := make([]float32, testDim)
		for j := range dense {
			dense[j] = float32(rng.NormFloat64())
		}
		var sp vectors.Sparse
		for t := uint32(rng.IntN(5)); t < 40; t += 1 + uint32(rng.IntN(8)) {
			sp.Indices = append(sp.Indices, t)
			sp.Values = append(sp.Values, 0.1+rng.Float32())
		}
		points = append(points, vectors.Point{
			ID:     fmt.Sprintf("%s-%04d", doc, first+i),
			Dense:  dense,
			Sparse: sp,
			Payload: vectors.Payload{
				DocumentID: doc, AuthorID: fmt.Sprint("author-", rng.IntN(3)), Author: "Ada",
				Category: "articles", Platform: "medium", Link: "https://example.com/" + doc,
				Title: "Title of " + doc, ChunkIndex: first + i, Text: strings.Repeat("words ", 20+rng.IntN(20)),
				Extra: map[string]any{"chunk_size": 256.0, "model": "hash-384", "batch": float64(first)},
			},
		})
	}
	return points
}

// dump is everything s holds, point by point, for comparing stores.
func dump(t *testing.T, s *Store) map[string]vectors.Point {
	t.Helper()
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]vectors.Point{}
	for id, slot := range s.idx.byID {
		p := s.idx.point(slot)
		p.Dense = slices.Clone(p.Dense)
		if extra := s.idx.extras[slot]; extra != nil {
			if err := json.Unmarshal(extra, &p.Payload.Extra); err != nil {
				t.Fatal(err)
			}
		}
		out[id] = p
	}
	return out
}

func mustOpen(t *testing.T, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(dir, testDim, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func mustUpsert(t *testing.T, s *Store, points []vectors.Point) {
	t.Helper()
	if err := s.Upsert(t.Context(), points); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
}

func mustDelete(t *testing.T, s *Store, doc string, keep ...string) {
	t.Helper()
	if _, err := s.DeleteDocument(t.Context(), doc, keep); err != nil {
		t.Fatalf("DeleteDocument(%s): %v", doc, err)
	}
}

// writeSome upserts five documents, replaces some chunks and deletes
// others; seed varies the data. It reports failures with t.Errorf, so it
// may run on any goroutine.
func writeSome(t *testing.T, s *Store, seed uint64) {
	t.Helper()
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(seed, 1))
	for d := range 5 {
		doc := fmt.Sprintf("doc-%d-%d", seed, d)
		if err := s.Upsert(ctx, testPoints(rng, doc, 0, 8)); err != nil {
			t.Errorf("Upsert: %v", err)
			return
		}
		if err := s.Upsert(ctx, testPoints(rng, doc, 4, 8)); err != nil { // replaces chunks 4..7
			t.Errorf("Upsert: %v", err)
			return
		}
	}
	if _, err := s.DeleteDocument(ctx, fmt.Sprintf("doc-%d-1", seed), []string{fmt.Sprintf("doc-%d-1-0002", seed)}); err != nil {
		t.Errorf("DeleteDocument: %v", err)
	}
	if _, err := s.DeleteDocument(ctx, fmt.Sprintf("doc-%d-2", seed), nil); err != nil {
		t.Errorf("DeleteDocument: %v", err)
	}
}

func checkSame(t *testing.T, what string, got, want map[string]vectors.Point) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d points, want %d", what, len(got), len(want))
	}
	for id, w := range want {
		if g, ok := got[id]; !ok {
			t.Errorf("%s: point %s missing", what, id)
		} else if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: point %s is\n %+v\nwant\n %+v", what, id, g, w)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("%s: point %s should not be there", what, id)
		}
	}
}

func TestReopenRestoresEverything(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// between runs after the first writes, before the second
		between func(t *testing.T, s *Store, dir string)
	}{
		{"after close", func(*testing.T, *Store, string) {}},
		{"after compaction", func(t *testing.T, s *Store, _ string) {
			if err := s.Compact(t.Context()); err != nil {
				t.Fatal(err)
			}
		}},
		{"after two compactions", func(t *testing.T, s *Store, _ string) {
			for range 2 {
				if err := s.Compact(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"after a crash between log rotation and snapshot", func(t *testing.T, s *Store, _ string) {
			if _, err := s.rotate(); err != nil {
				t.Fatal(err)
			}
		}},
		{"after a crash before old logs were removed", func(t *testing.T, s *Store, dir string) {
			gens, _ := logGens(dir)
			old, err := os.ReadFile(filepath.Join(dir, logName(gens[0])))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Compact(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, logName(gens[0])), old, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"after a crash while writing a snapshot", func(t *testing.T, s *Store, dir string) {
			if err := os.WriteFile(filepath.Join(dir, snapshotTemp), []byte("half a snapsh"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := mustOpen(t, dir)
			writeSome(t, s, 1)
			tc.between(t, s, dir)
			writeSome(t, s, 2)
			want := dump(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, dir)
			defer s.Close()
			checkSame(t, "reopened", dump(t, s), want)
			if _, err := os.Stat(filepath.Join(dir, snapshotTemp)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left behind: %v", snapshotTemp, err)
			}
			// The reopened store goes on working, and so does its log.
			writeSome(t, s, 3)
			want = dump(t, s)
			s.Close()
			s = mustOpen(t, dir)
			defer s.Close()
			checkSame(t, "reopened twice", dump(t, s), want)
		})
	}
}

func TestDeletesSurviveRestart(t *testing.T) {
	t.Parallel()
	for _, compact := range []bool{false, true} {
		t.Run(fmt.Sprint("compact=", compact), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := mustOpen(t, dir)
			rng := rand.New(rand.NewPCG(3, 3))
			mustUpsert(t, s, testPoints(rng, "keep", 0, 3))
			mustUpsert(t, s, testPoints(rng, "gone", 0, 3))
			mustUpsert(t, s, testPoints(rng, "stale", 0, 3))
			if compact {
				if err := s.Compact(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			mustDelete(t, s, "gone")
			mustDelete(t, s, "stale", "stale-0001")
			s.Close()
			s = mustOpen(t, dir)
			defer s.Close()
			for doc, want := range map[string]int{"keep": 3, "gone": 0, "stale": 1} {
				if n, _ := s.Count(t.Context(), vectors.Filter{DocumentIDs: []string{doc}}); n != want {
					t.Errorf("document %s has %d points after restart, want %d", doc, n, want)
				}
			}
		})
	}
}

func TestTornTailIsDropped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// tear damages the log, whose last frame spans [start, end)
		tear func(b []byte, start, end int) []byte
		// lost says whether the last frame's change is gone
		lost bool
	}{
		{"half a record", func(b []byte, start, end int) []byte { return b[:start+(end-start)/2] }, true},
		{"header only", func(b []byte, start, end int) []byte { return b[:start+frameHeader] }, true},
		{"part of a header", func(b []byte, start, end int) []byte { return b[:start+3] }, true},
		{"unwritten bytes", func(b []byte, start, end int) []byte {
			clear(b[start+frameHeader+10 : end])
			return b
		}, true},
		{"unwritten header", func(b []byte, start, end int) []byte {
			clear(b[start : start+frameHeader])
			return b
		}, true},
		{"zeros after the last record", func(b []byte, start, end int) []byte { return append(b, make([]byte, 4096)...) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := mustOpen(t, dir)
			writeSome(t, s, 1)
			before := dump(t, s)
			start := s.log.size
			mustUpsert(t, s, testPoints(rand.New(rand.NewPCG(9, 9)), "last", 0, 4))
			after := dump(t, s)
			end := s.log.size
			path := filepath.Join(dir, logName(s.log.gen))
			s.Close()

			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.tear(b, int(start), int(end)), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err = Open(dir, testDim)
			if err != nil {
				t.Fatalf("Open after a torn write: %v, want the torn record dropped", err)
			}
			want := after
			if tc.lost {
				want = before
			}
			checkSame(t, "after the torn write", dump(t, s), want)
			// New records follow the last good one.
			mustUpsert(t, s, testPoints(rand.New(rand.NewPCG(5, 5)), "next", 0, 2))
			want = dump(t, s)
			s.Close()
			s = mustOpen(t, dir)
			defer s.Close()
			checkSame(t, "reopened after writing past the torn record", dump(t, s), want)
		})
	}
}

func TestDamageIsAnError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		compact bool
		damage  func(t *testing.T, dir string)
	}{
		{"bad record with records after it", false, func(t *testing.T, dir string) {
			flip(t, filepath.Join(dir, logName(0)), headerSize+frameHeader+20)
		}},
		{"bad log header", false, func(t *testing.T, dir string) { flip(t, filepath.Join(dir, logName(0)), 2) }},
		{"bad snapshot record", true, func(t *testing.T, dir string) {
			flip(t, filepath.Join(dir, snapshotName), headerSize+frameHeader+20)
		}},
		{"truncated snapshot", true, func(t *testing.T, dir string) {
			path := filepath.Join(dir, snapshotName)
			st, _ := os.Stat(path)
			if err := os.Truncate(path, st.Size()-5); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := mustOpen(t, dir)
			writeSome(t, s, 1)
			if tc.compact {
				if err := s.Compact(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			tc.damage(t, dir)
			if s, err := Open(dir, testDim); !errors.Is(err, ErrCorrupt) {
				if err == nil {
					s.Close()
				}
				t.Errorf("Open of a damaged store: %v, want ErrCorrupt", err)
			}
		})
	}
}

func flip(t *testing.T, path string, at int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenChecksDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, dir)
	if _, err := Open(dir, testDim); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open of an open store: %v, want ErrLocked", err)
	}
	writeSome(t, s, 1)
	s.Close()
	if _, err := Open(dir, testDim*2); !errors.Is(err, vectors.ErrDimension) {
		t.Errorf("Open with another dimension: %v, want ErrDimension", err)
	}
	s = mustOpen(t, dir)
	s.Compact(t.Context())
	s.Close()
	if _, err := Open(dir, testDim*2); !errors.Is(err, vectors.ErrDimension) {
		t.Errorf("Open of a snapshot with another dimension: %v, want ErrDimension", err)
	}
	if err := s.Close(); !errors.Is(err, vectors.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

// TestCompactsWhileServing compacts after every write while writers and
// searchers run, then checks that a restart sees exactly what the store
// showed.
func TestCompactsWhileServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	compacted := make(chan error, 1000)
	s := mustOpen(t, dir, CompactAfter(1), OnCompact(func(err error) { compacted <- err }))
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() { writeSome(t, s, uint64(10+w)) })
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		q := vectors.Query{Dense: make([]float32, testDim), Sparse: vectors.Sparse{Indices: []uint32{3}, Values: []float32{1}}}
		q.Dense[0] = 1
		for {
			if _, err := s.Search(t.Context(), q); err != nil {
				t.Errorf("Search while compacting: %v", err)
				return
			}
			select {
			case <-done:
				return
			default:
			}
		}
	})
	wg.Wait()
	// The writes woke the compactor; wait for it to finish once.
	if err := <-compacted; err != nil {
		t.Errorf("background compaction: %v", err)
	}
	close(done)
	readers.Wait()
	want := dump(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	close(compacted)
	for err := range compacted {
		if err != nil {
			t.Errorf("background compaction: %v", err)
		}
	}
	s = mustOpen(t, dir)
	defer s.Close()
	checkSame(t, "reopened after compactions", dump(t, s), want)
}

// TestNoCompactionRightAfterOne checks the compactor's wake-up: writes
// made during a compaction queue one while the log being folded still
// counts, but once that compaction is done the new log is small beside
// the snapshot, and compacting again would rewrite the snapshot for
// nothing.
func TestNoCompactionRightAfterOne(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), CompactAfter(1<<10))
	defer s.Close()
	rng := rand.New(rand.NewPCG(7, 7))
	for d := range 20 {
		mustUpsert(t, s, testPoints(rng, fmt.Sprintf("doc-%d", d), 0, 8))
	}
	if err := s.Compact(t.Context()); err != nil {
		t.Fatal(err)
	}
	for d := range 2 { // past the floor, far below the snapshot
		mustUpsert(t, s, testPoints(rng, fmt.Sprintf("doc-after-%d", d), 0, 8))
	}
	if compacted, err := s.compactIfDue(t.Context()); compacted || err != nil {
		t.Errorf("a wake-up just after a compaction compacted again (%v): the log is far smaller than the snapshot", err)
	}
}

// crashEnv names the directory a child process of TestAckedWritesSurviveKill
// writes to until it is killed.
const crashEnv = "TWIN_TEST_VECTORS_CRASH_DIR"

// Steps of the crash child: step b upserts document b and deletes
// document b-crashLag, then prints "acked b".
const (
	crashBatch = 16
	crashLag   = 5
	crashSteps = 60 // acknowledged steps before the parent kills the child
)

func crashDoc(b int) string { return fmt.Sprintf("doc-%05d", b) }

// otherDoc is the document of step b of the child's second writer, which
// runs beside the first so that their changes share commits.
func otherDoc(b int) string { return fmt.Sprintf("other-%05d", b) }

// TestAckedWritesSurviveKill runs a child process that writes (and
// compacts) until it is killed with SIGKILL, then checks that every write
// it acknowledged is in the reopened store, and that the one it was making
// is there whole or not at all.
func TestAckedWritesSurviveKill(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAckedWritesSurviveKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked, other, killed := -1, -1, false
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if n, ok := strings.CutPrefix(lines.Text(), "other "); ok {
			if other, err = strconv.Atoi(n); err != nil {
				t.Fatal(err)
			}
			continue
		}
		n, ok := strings.CutPrefix(lines.Text(), "acked ")
		if !ok {
			continue
		}
		if acked, err = strconv.Atoi(n); err != nil {
			t.Fatal(err)
		}
		if acked >= crashSteps && !killed {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	// Lines read after the kill were printed before it: they count too.
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited after acknowledging %d steps: %v", acked, err)
	}

	s := mustOpen(t, dir)
	defer s.Close()
	for b := range acked + 2 {
		n, err := s.Count(t.Context(), vectors.Filter{DocumentIDs: []string{crashDoc(b)}})
		if err != nil {
			t.Fatal(err)
		}
		// Step acked+1 may have written its upsert, its delete (of
		// document acked+1-crashLag), both, or neither; never part of one.
		want := []int{crashBatch}
		switch {
		case b == acked+1 || b == acked+1-crashLag:
			want = []int{0, crashBatch}
		case b <= acked-crashLag:
			want = []int{0}
		}
		if !slices.Contains(want, n) {
			t.Errorf("after a kill -9 at step %d, document %d has %d points, want one of %v", acked, b, n, want)
		}
	}
	for b := range other + 2 {
		n, err := s.Count(t.Context(), vectors.Filter{DocumentIDs: []string{otherDoc(b)}})
		if err != nil {
			t.Fatal(err)
		}
		want := []int{crashBatch}
		if b == other+1 {
			want = []int{0, crashBatch}
		}
		if !slices.Contains(want, n) {
			t.Errorf("after a kill -9, the second writer's document %d (last acknowledged %d) has %d points, want one of %v", b, other, n, want)
		}
	}
	hits, err := s.Search(t.Context(), vectors.Query{Dense: testPoints(rand.New(rand.NewPCG(uint64(acked), 0)), crashDoc(acked), 0, 1)[0].Dense, Limit: 1})
	if err != nil || len(hits) != 1 || hits[0].Payload.DocumentID != crashDoc(acked) {
		t.Errorf("searching the last acknowledged point: %v, %v", hits, err)
	}
}

// crashChild writes steps until it is killed; it never returns normally.
func crashChild(dir string) {
	s, err := Open(dir, testDim, CompactAfter(32<<10))
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	var stdout sync.Mutex // one line at a time
	go func() {
		for b := 0; ; b++ {
			points := testPoints(rand.New(rand.NewPCG(uint64(b), 1)), otherDoc(b), 0, crashBatch)
			if err := s.Upsert(ctx, points); err != nil {
				fmt.Fprintln(os.Stderr, "crash child:", err)
				os.Exit(2)
			}
			stdout.Lock()
			fmt.Printf("other %d\n", b)
			stdout.Unlock()
		}
	}()
	for b := 0; ; b++ {
		points := testPoints(rand.New(rand.NewPCG(uint64(b), 0)), crashDoc(b), 0, crashBatch)
		if err := s.Upsert(ctx, points); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		if _, err := s.DeleteDocument(ctx, crashDoc(b-crashLag), nil); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		stdout.Lock()
		fmt.Printf("acked %d\n", b)
		stdout.Unlock()
	}
}

// TestGroupCommitIsOneRecord commits three waiting changes together and
// checks that they take one record, apply in order, and replay.
func TestGroupCommitIsOneRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, dir)
	rng := rand.New(rand.NewPCG(4, 4))
	mustUpsert(t, s, testPoints(rng, "doc-a", 0, 4))
	first, err := s.prepareUpsert(testPoints(rng, "doc-b", 0, 3))
	if err != nil {
		t.Fatal(err)
	}
	replaced := testPoints(rng, "doc-a", 2, 2) // replaces doc-a-0002 and -0003
	second, err := s.prepareUpsert(replaced)
	if err != nil {
		t.Fatal(err)
	}
	third, err := s.prepareUpsert(testPoints(rng, "doc-b", 0, 1)) // replaces doc-b-0000 again
	if err != nil {
		t.Fatal(err)
	}
	before := s.log.size
	s.pendingMu.Lock()
	s.pending = append(s.pending, first, second, third)
	s.pendingMu.Unlock()
	s.writeMu.Lock()
	s.commit()
	s.writeMu.Unlock()
	for i, c := range []*change{first, second, third} {
		if !c.done || c.err != nil {
			t.Fatalf("change %d: done %v, err %v", i, c.done, c.err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, logName(s.log.gen)))
	if err != nil {
		t.Fatal(err)
	}
	if n := int64(len(b)) - before; n <= 0 || b[before+frameHeader] != kindGroup {
		t.Fatalf("the log grew by %d bytes, starting with kind %d; want one group record", n, b[before+frameHeader])
	}
	if n, _ := s.Count(t.Context(), vectors.Filter{}); n != 7 {
		t.Errorf("%d points after the group, want 7", n)
	}
	want := dump(t, s)
	if got := want[replaced[0].ID].Payload.ChunkIndex; got != 2 {
		t.Errorf("replaced point has chunk index %d", got)
	}
	s.Close()
	s = mustOpen(t, dir)
	defer s.Close()
	checkSame(t, "reopened after a group commit", dump(t, s), want)
}

// TestQueuedDeletesShareACommit queues the prunes of two documents, as
// concurrent DeleteDocument calls do, and checks that one record holds
// both, that each counts what it removed, and that they replay.
func TestQueuedDeletesShareACommit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, dir)
	rng := rand.New(rand.NewPCG(5, 5))
	mustUpsert(t, s, testPoints(rng, "doc-a", 0, 3))
	mustUpsert(t, s, testPoints(rng, "doc-b", 0, 2))
	keep := testPoints(rng, "doc-a", 0, 1)[0].ID
	a, err := s.queueDelete("doc-a", []string{keep})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.queueDelete("doc-b", nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.queueDelete("doc-b", nil) // the same points, not yet gone
	if err != nil {
		t.Fatal(err)
	}
	before := s.log.size
	s.writeMu.Lock()
	s.commit()
	s.writeMu.Unlock()
	for i, c := range []*change{a, b, again} {
		if !c.done || c.err != nil {
			t.Fatalf("change %d: done %v, err %v", i, c.done, c.err)
		}
	}
	if a.removed != 2 || b.removed+again.removed != 2 {
		t.Errorf("removed %d of doc-a and %d+%d of doc-b, want 2 and 2 in all", a.removed, b.removed, again.removed)
	}
	data, err := os.ReadFile(filepath.Join(dir, logName(s.log.gen)))
	if err != nil {
		t.Fatal(err)
	}
	if n := int64(len(data)) - before; n <= 0 || data[before+frameHeader] != kindGroup {
		t.Fatalf("the log grew by %d bytes, starting with kind %d; want one group record", n, data[before+frameHeader])
	}
	if n, _ := s.Count(t.Context(), vectors.Filter{}); n != 1 {
		t.Errorf("%d points after the prunes, want 1", n)
	}
	want := dump(t, s)
	s.Close()
	s = mustOpen(t, dir)
	defer s.Close()
	checkSame(t, "reopened after queued deletes", dump(t, s), want)
}
