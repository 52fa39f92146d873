// Package vectorstest is the test suite every vectors.Store must pass, so
// that nothing above the interface can tell the embedded store from Qdrant.
// It is small (tens of points per test) so that it also runs against a
// remote server.
//
// Use it from a _test.go file:
//
//	func TestEmbeddedStore(t *testing.T) {
//		vectorstest.Run(t, func(t *testing.T, dim int) vectors.Store {
//			s, err := embedded.Open(t.TempDir(), dim)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package vectorstest

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// Run runs the suite. open must return an empty store of dense dimension
// dim, independent of every other store it returned (subtests run in
// parallel), and release it in a t.Cleanup. The suite closes some stores
// itself, so that cleanup must tolerate a second Close failing with
// vectors.ErrClosed.
func Run(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, open func(t *testing.T, dim int) vectors.Store)
	}{
		{"DenseRanksByCosine", testDense},
		{"SparseRanksByBM25", testSparse},
		{"HybridFusesWithRRF", testHybrid},
		{"FiltersBySetMembership", testFilters},
		{"UpsertReplacesPoint", testReplace},
		{"DeleteDocumentKeepsCurrentChunks", testDeleteDocument},
		{"WrongDimensionIsRejected", testDimension},
		{"LimitAndPrefetchDefaults", testDefaults},
		{"EmptyStoreFindsNothing", testEmpty},
		{"TiesBreakByID", testTies},
		{"PayloadRoundTrips", testPayload},
		{"ConcurrentUpsertsAndSearches", testConcurrent},
		{"ClosedStoreFails", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open)
		})
	}
}

// ID is the i-th test point id: a valid UUID (Qdrant accepts no other
// strings) whose lexical order is the order of i.
func ID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", i) }

// Score tolerances: stores compute in float32.
const (
	cosTol = 1e-4 // absolute, on cosine similarities in [-1, 1]
	bmTol  = 1e-4 // relative, on BM25 scores
	rrfTol = 1e-6 // absolute, on fused scores of about 1/61
)

// angled is a vector at angle theta from the first axis, in the plane of
// axis, scaled by scale: its cosine with any positive multiple of the first
// axis is cos(theta) whatever the scale, which lets a test lay out an exact
// ranking.
func angled(dim, axis int, theta, scale float64) []float32 {
	v := make([]float32, dim)
	v[0] = float32(scale * math.Cos(theta))
	v[axis] = float32(scale * math.Sin(theta))
	return v
}

// axis0 is the unit vector of the first axis times scale.
func axis0(dim int, scale float64) []float32 { return angled(dim, 1, 0, scale) }

func sparse(pairs ...float32) vectors.Sparse {
	var s vectors.Sparse
	for i := 0; i+1 < len(pairs); i += 2 {
		s.Indices = append(s.Indices, uint32(pairs[i]))
		s.Values = append(s.Values, pairs[i+1])
	}
	return s
}

// payload is a plain payload for point i of document doc.
func payload(doc string, i int) vectors.Payload {
	return vectors.Payload{
		DocumentID: doc, AuthorID: "author-1", Author: "Ada", Category: "articles",
		Platform: "medium", ChunkIndex: i, Text: fmt.Sprintf("chunk %d of %s", i, doc),
	}
}

func upsert(t *testing.T, s vectors.Store, points ...vectors.Point) {
	t.Helper()
	if err := s.Upsert(t.Context(), points); err != nil {
		t.Fatalf("Upsert(%d points): %v", len(points), err)
	}
}

func search(t *testing.T, s vectors.Store, q vectors.Query) []vectors.Hit {
	t.Helper()
	hits, err := s.Search(t.Context(), q)
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	return hits
}

func count(t *testing.T, s vectors.Store, f vectors.Filter) int {
	t.Helper()
	n, err := s.Count(t.Context(), f)
	if err != nil {
		t.Fatalf("Count(%+v): %v", f, err)
	}
	return n
}

// checkHits fails unless got has want's ids in want's order, with scores
// within tol (relative when rel).
func checkHits(t *testing.T, what string, got []vectors.Hit, want []scored, tol float64, rel bool) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		d := math.Abs(got[i].Score - want[i].score)
		if rel {
			d /= math.Max(math.Abs(want[i].score), 1e-9)
		}
		ok = got[i].ID == want[i].id && d <= tol
	}
	if !ok {
		var g, w []string
		for _, h := range got {
			g = append(g, fmt.Sprintf("%s=%.6f", short(h.ID), h.Score))
		}
		for _, h := range want {
			w = append(w, fmt.Sprintf("%s=%.6f", short(h.id), h.score))
		}
		t.Errorf("%s:\n got  %v\n want %v", what, g, w)
	}
}

// short drops the zeros that every test id starts with.
func short(id string) string { return strings.TrimPrefix(id, "00000000-0000-4000-8000-") }

func ids(hits []vectors.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

func testDense(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	const dim = 8
	s := open(t, dim)
	if s.Dim() != dim {
		t.Errorf("Dim() = %d, want %d", s.Dim(), dim)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var points []vectors.Point
	for i := range 20 {
		// Angles 0.05 apart make the ranking exact in float32; random
		// scales check that the score is a cosine, not a dot product.
		theta := 0.05 * float64((i*7)%20)
		points = append(points, vectors.Point{
			ID:      ID(i),
			Dense:   angled(dim, 1+i%(dim-1), theta, 0.1+10*rng.Float64()),
			Payload: payload("doc-1", i),
		})
	}
	// One point opposite the query: a negative cosine is still a hit.
	points = append(points, vectors.Point{ID: ID(99), Dense: axis0(dim, -2), Payload: payload("doc-1", 99)})
	upsert(t, s, points...)

	for _, limit := range []int{1, 5, 21, 50} {
		q := vectors.Query{Dense: axis0(dim, 3), Limit: limit}
		checkHits(t, fmt.Sprintf("dense, limit %d", limit), search(t, s, q), expect(points, q), cosTol, false)
	}
	// A query off the first axis.
	q := vectors.Query{Dense: angled(dim, 2, 0.7, 0.5), Limit: 7}
	checkHits(t, "dense off axis", search(t, s, q), expect(points, q), cosTol, false)
}

func testSparse(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	const dim = 4
	s := open(t, dim)
	// Term 1 is in every point (low IDF), term 7 in two, term 42 in one.
	points := []vectors.Point{
		{ID: ID(1), Sparse: sparse(1, 1.0, 7, 1.2)},
		{ID: ID(2), Sparse: sparse(1, 1.5, 7, 0.4, 42, 1.1)},
		{ID: ID(3), Sparse: sparse(1, 0.9, 9, 2.0)},
		{ID: ID(4), Sparse: sparse(1, 0.3)},
		{ID: ID(5), Sparse: sparse(3, 1.0)},
		// Every point has a sparse vector: Qdrant's IDF counts only
		// those (the embedded store counts all points), and every chunk
		// has one in practice.
		{ID: ID(6), Sparse: sparse(500, 1)},
	}
	for i := range points {
		points[i].Dense = axis0(dim, 1)
		points[i].Payload = payload("doc-1", i)
	}
	upsert(t, s, points...)
	queries := []vectors.Query{
		{Sparse: sparse(7, 1)},
		{Sparse: sparse(1, 1)},
		{Sparse: sparse(1, 0.5, 7, 1, 42, 2)},
		{Sparse: sparse(9, 1, 42, 1), Limit: 1},
		{Sparse: sparse(1000, 1)}, // unknown term: no hits
	}
	for _, q := range queries {
		checkHits(t, fmt.Sprintf("sparse %v", q.Sparse.Indices), search(t, s, q), expect(points, q), bmTol, true)
	}
	// IDF follows the points in the store: adding points changes N and
	// n_t, and with them every score.
	more := []vectors.Point{
		{ID: ID(7), Dense: axis0(dim, 1), Sparse: sparse(7, 2), Payload: payload("doc-2", 0)},
		{ID: ID(8), Dense: axis0(dim, 1), Sparse: sparse(8, 2), Payload: payload("doc-2", 1)},
	}
	upsert(t, s, more...)
	points = append(points, more...)
	q := vectors.Query{Sparse: sparse(1, 0.5, 7, 1)}
	checkHits(t, "sparse after adding points", search(t, s, q), expect(points, q), bmTol, true)
}

func testHybrid(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	const dim = 8
	s := open(t, dim)
	// Dense ranks follow the angle; sparse ranks follow the weight of
	// term 5. X is second on both sides, Y first on the dense side only,
	// Z first on the sparse side only and far from the dense query.
	x, y, z := ID(1), ID(2), ID(3)
	points := []vectors.Point{
		{ID: x, Dense: angled(dim, 1, 0.1, 1), Sparse: sparse(5, 2)},
		{ID: y, Dense: angled(dim, 2, 0.0, 2)},
		{ID: z, Dense: angled(dim, 3, 1.5, 1), Sparse: sparse(5, 3)},
	}
	for i := range 7 {
		points = append(points, vectors.Point{
			ID:     ID(10 + i),
			Dense:  angled(dim, 1+i%(dim-1), 0.2+0.1*float64(i), 1),
			Sparse: sparse(5, 1.5-0.1*float32(i), 6, 1),
		})
	}
	for i := range points {
		points[i].Payload = payload("doc-1", i)
	}
	upsert(t, s, points...)

	q := vectors.Query{Dense: axis0(dim, 1), Sparse: sparse(5, 1), Limit: 5, Prefetch: 4}
	hits := search(t, s, q)
	checkHits(t, "hybrid", hits, expect(points, q), rrfTol, false)
	if len(hits) > 0 && hits[0].ID != x {
		t.Errorf("hybrid: first hit %s, want %s (found by both sides)", hits[0].ID, x)
	}
	for _, q := range []vectors.Query{
		{Dense: axis0(dim, 1), Sparse: sparse(5, 1, 6, 0.5), Limit: 10, Prefetch: 3},
		{Dense: angled(dim, 4, 0.6, 1), Sparse: sparse(6, 1), Limit: 3},
		{Dense: axis0(dim, 1), Sparse: sparse(77, 1), Limit: 4}, // sparse side empty
	} {
		checkHits(t, fmt.Sprintf("hybrid %+v", q.Sparse), search(t, s, q), expect(points, q), rrfTol, false)
	}
}

func testFilters(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	const dim = 4
	s := open(t, dim)
	authors := []string{"author-1", "author-2", "author-3"}
	categories := []string{"articles", "posts", "repositories"}
	platforms := []string{"medium", "linkedin", "github", "substack"}
	var points []vectors.Point
	for i := range 24 {
		p := vectors.Payload{
			DocumentID: fmt.Sprintf("doc-%d", i/3),
			AuthorID:   authors[i%3],
			Author:     "name of " + authors[i%3],
			Category:   categories[(i/3)%3],
			Platform:   platforms[i%4],
			ChunkIndex: i % 3,
			Text:       fmt.Sprint("text ", i),
		}
		points = append(points, vectors.Point{
			ID: ID(i), Dense: angled(dim, 1+i%(dim-1), 0.05*float64(i), 1),
			Sparse: sparse(1, 1, float32(10+i%5), 1), Payload: p,
		})
	}
	upsert(t, s, points...)
	filters := []vectors.Filter{
		{},
		{AuthorIDs: []string{"author-2"}},
		{AuthorIDs: []string{"author-1", "author-3"}},
		{Categories: []string{"posts"}},
		{Platforms: []string{"github", "medium"}},
		{DocumentIDs: []string{"doc-2", "doc-5", "doc-404"}},
		{AuthorIDs: []string{"author-1"}, Categories: []string{"articles", "repositories"}},
		{AuthorIDs: []string{"author-2"}, Categories: []string{"posts"}, Platforms: []string{"linkedin"}},
		{AuthorIDs: []string{"author-1"}, DocumentIDs: []string{"doc-1"}, Platforms: []string{"medium", "github"}},
		{AuthorIDs: []string{"nobody"}},
		{AuthorIDs: []string{"author-1"}, Categories: []string{"nothing"}},
	}
	for _, f := range filters {
		want := 0
		for _, p := range points {
			if matches(f, p.Payload) {
				want++
			}
		}
		if got := count(t, s, f); got != want {
			t.Errorf("Count(%+v) = %d, want %d", f, got, want)
		}
		for _, q := range []vectors.Query{
			{Dense: axis0(dim, 1), Filter: f, Limit: 100},
			{Sparse: sparse(1, 1, 12, 1), Filter: f, Limit: 100},
			{Dense: axis0(dim, 1), Sparse: sparse(11, 1), Filter: f, Limit: 100},
			{Dense: axis0(dim, 1), Filter: f, Limit: 2},
		} {
			tol, rel := cosTol, false
			if len(q.Dense) == 0 {
				tol, rel = bmTol, true
			} else if len(q.Sparse.Indices) > 0 {
				tol = rrfTol
			}
			checkHits(t, fmt.Sprintf("filter %+v, limit %d", f, q.Limit), search(t, s, q), expect(points, q), tol, rel)
		}
	}
}

func testReplace(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	const dim = 4
	s := open(t, dim)
	old := vectors.Point{ID: ID(1), Dense: angled(dim, 1, 0, 1), Sparse: sparse(1, 1), Payload: payload("doc-1", 0)}
	other := vectors.Point{ID: ID(2), Dense: angled(dim, 1, 0.3, 1), Sparse: sparse(1, 1), Payload: payload("doc-2", 0)}
	upsert(t, s, old, other)
	updated := vectors.Point{ID: ID(1), Dense: angled(dim, 2, math.Pi/2, 1), Sparse: sparse(2, 1), Payload: payload("doc-1", 0)}
	updated.Payload.AuthorID, updated.Payload.Text = "author-2", "rewritten"
	upsert(t, s, updated)

	if n := count(t, s, vectors.Filter{}); n != 2 {
		t.Errorf("Count after replacing = %d, want 2", n)
	}
	if n := count(t, s, vectors.Filter{AuthorIDs: []string{"author-1"}}); n != 1 {
		t.Errorf("Count(old author) = %d, want 1 (only the other point)", n)
	}
	hits := search(t, s, vectors.Query{Dense: axis0(dim, 1), Limit: 1})
	if len(hits) != 1 || hits[0].ID != other.ID {
		t.Errorf("dense search near the old vector found %v, want only %s first", ids(hits), other.ID)
	}
	hits = search(t, s, vectors.Query{Dense: angled(dim, 2, math.Pi/2, 1), Limit: 1})
	if len(hits) != 1 || hits[0].ID != updated.ID || hits[0].Payload.Text != "rewritten" || math.Abs(hits[0].Score-1) > cosTol {
		t.Errorf("dense search near the new vector = %+v, want %s with the new payload and score 1", hits, updated.ID)
	}
	if hits := search(t, s, vectors.Query{Sparse: sparse(1, 1)}); !slices.Equal(ids(hits), []string{other.ID}) {
		t.Errorf("sparse search on the old term found %v, want only %s", ids(hits), other.ID)
	}
	if hits := search(t, s, vectors.Query{Sparse: sparse(2, 1)}); !slices.Equal(ids(hits), []string{updated.ID}) {
		t.Errorf("sparse search on the new term found %v, want %s", ids(hits), updated.ID)
	}
}

func testDeleteDocument(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	const dim = 4
	s := open(t, dim)
	var points []vectors.Point
	for i := range 5 {
		doc := "doc-1"
		if i == 4 {
			doc = "doc-2"
		}
		points = append(points, vectors.Point{ID: ID(i), Dense: angled(dim, 1, 0.1*float64(i), 1), Sparse: sparse(1, 1), Payload: payload(doc, i)})
	}
	upsert(t, s, points...)
	ctx := t.Context()

	// The current version of doc-1 is chunks 1 and 3 (and an id that was
	// never stored, and one of another document, which keep protects
	// from nothing).
	n, err := s.DeleteDocument(ctx, "doc-1", []string{ID(1), ID(3), ID(77), ID(4)})
	if err != nil || n != 2 {
		t.Errorf("DeleteDocument(doc-1, keep 1,3) = %d, %v; want 2, nil", n, err)
	}
	if got := count(t, s, vectors.Filter{DocumentIDs: []string{"doc-1"}}); got != 2 {
		t.Errorf("doc-1 has %d points after removing stale chunks, want 2", got)
	}
	hits := search(t, s, vectors.Query{Dense: axis0(dim, 1), Limit: 10})
	if want := []string{ID(1), ID(3), ID(4)}; !slices.Equal(ids(hits), want) {
		t.Errorf("dense search after delete found %v, want %v", ids(hits), want)
	}
	// IDF counts only the points left.
	q := vectors.Query{Sparse: sparse(1, 1), Limit: 10}
	left := []vectors.Point{points[1], points[3], points[4]}
	checkHits(t, "sparse search after delete", search(t, s, q), expect(left, q), bmTol, true)

	n, err = s.DeleteDocument(ctx, "doc-1", nil)
	if err != nil || n != 2 {
		t.Errorf("DeleteDocument(doc-1) = %d, %v; want 2, nil", n, err)
	}
	n, err = s.DeleteDocument(ctx, "doc-1", nil)
	if err != nil || n != 0 {
		t.Errorf("DeleteDocument(doc-1) again = %d, %v; want 0, nil", n, err)
	}
	if got := count(t, s, vectors.Filter{}); got != 1 {
		t.Errorf("Count after deleting doc-1 = %d, want 1 (doc-2 untouched)", got)
	}
	hits = search(t, s, vectors.Query{Dense: axis0(dim, 1), Sparse: sparse(1, 1)})
	if !slices.Equal(ids(hits), []string{ID(4)}) {
		t.Errorf("hybrid search after deleting doc-1 found %v, want only %s", ids(hits), ID(4))
	}
}

func testDimension(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	const dim = 4
	s := open(t, dim)
	ctx := t.Context()
	good := vectors.Point{ID: ID(1), Dense: axis0(dim, 1), Payload: payload("doc-1", 0)}
	bad := vectors.Point{ID: ID(2), Dense: make([]float32, dim+1), Payload: payload("doc-1", 1)}
	bad.Dense[0] = 1
	if err := s.Upsert(ctx, []vectors.Point{good, bad}); !errors.Is(err, vectors.ErrDimension) {
		t.Errorf("Upsert with a %d-dim vector: %v, want ErrDimension", dim+1, err)
	}
	if n := count(t, s, vectors.Filter{}); n != 0 {
		t.Errorf("a rejected batch left %d points, want 0", n)
	}
	if err := s.Upsert(ctx, []vectors.Point{{ID: ID(3), Payload: payload("doc-1", 2)}}); !errors.Is(err, vectors.ErrDimension) {
		t.Errorf("Upsert without a dense vector: %v, want ErrDimension", err)
	}
	upsert(t, s, good)
	for _, q := range []vectors.Query{
		{Dense: make([]float32, dim-1)},
		{Dense: make([]float32, dim+1), Sparse: sparse(1, 1)},
	} {
		if _, err := s.Search(ctx, q); !errors.Is(err, vectors.ErrDimension) {
			t.Errorf("Search with a %d-dim query: %v, want ErrDimension", len(q.Dense), err)
		}
	}
}

func testDefaults(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	const dim = 8
	s := open(t, dim)
	// A is first on the dense side; B is the only sparse match and sits
	// 51st on the dense side, just past the default prefetch of 50 for a
	// limit of 1. Sixty others fill the dense ranking.
	a, b := ID(1), ID(2)
	points := []vectors.Point{
		{ID: a, Dense: axis0(dim, 1)},
		{ID: b, Dense: angled(dim, 1, 0.02*49.5, 1), Sparse: sparse(7, 1)},
	}
	for i := 1; i <= 60; i++ {
		points = append(points, vectors.Point{ID: ID(100 + i), Dense: angled(dim, 1+i%(dim-1), 0.02*float64(i), 1), Sparse: sparse(8, 1)})
	}
	for i := range points {
		points[i].Payload = payload("doc-1", i)
	}
	upsert(t, s, points...)

	for _, q := range []vectors.Query{
		{Dense: axis0(dim, 1)},
		{Sparse: sparse(8, 1)},
		{Dense: axis0(dim, 1), Sparse: sparse(8, 1)},
	} {
		if hits := search(t, s, q); len(hits) != 10 {
			t.Errorf("search without a limit gave %d hits, want 10", len(hits))
		}
	}
	q := vectors.Query{Dense: axis0(dim, 1), Sparse: sparse(7, 1), Limit: 1}
	checkHits(t, "hybrid, B 51st on the dense side", search(t, s, q), expect(points, q), rrfTol, false)

	// Moved to 50th, B is in both prefetch lists and wins.
	points[1].Dense = angled(dim, 1, 0.02*48.5, 1)
	upsert(t, s, points[1])
	hits := search(t, s, q)
	checkHits(t, "hybrid, B 50th on the dense side", hits, expect(points, q), rrfTol, false)
	if len(hits) != 1 || hits[0].ID != b {
		t.Errorf("hybrid with the default prefetch found %v, want %s (50th dense, 1st sparse)", ids(hits), b)
	}
	// An explicit prefetch narrower than 50 drops B from the dense side.
	q.Prefetch = 49
	checkHits(t, "hybrid, prefetch 49", search(t, s, q), expect(points, q), rrfTol, false)
}

func testEmpty(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	const dim = 4
	s := open(t, dim)
	for _, q := range []vectors.Query{
		{Dense: axis0(dim, 1)},
		{Sparse: sparse(1, 1)},
		{Dense: axis0(dim, 1), Sparse: sparse(1, 1)},
		{Dense: axis0(dim, 1), Filter: vectors.Filter{AuthorIDs: []string{"author-1"}}},
	} {
		hits, err := s.Search(t.Context(), q)
		if err != nil || len(hits) != 0 {
			t.Errorf("Search on an empty store = %v, %v; want no hits, nil", hits, err)
		}
	}
	if n := count(t, s, vectors.Filter{}); n != 0 {
		t.Errorf("Count on an empty store = %d", n)
	}
	if n, err := s.DeleteDocument(t.Context(), "doc-1", nil); n != 0 || err != nil {
		t.Errorf("DeleteDocument on an empty store = %d, %v; want 0, nil", n, err)
	}
}

func testTies(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	const dim = 4
	s := open(t, dim)
	// Same vectors, inserted out of id order, in two calls.
	order := []int{5, 2, 8, 1, 9, 3}
	var points []vectors.Point
	for _, i := range order {
		points = append(points, vectors.Point{ID: ID(i), Dense: axis0(dim, 1), Sparse: sparse(1, 1), Payload: payload("doc-1", i)})
	}
	upsert(t, s, points[:3]...)
	upsert(t, s, points[3:]...)
	for _, q := range []vectors.Query{
		{Dense: axis0(dim, 1), Limit: 4},
		{Sparse: sparse(1, 1), Limit: 4},
		{Dense: axis0(dim, 1), Sparse: sparse(1, 1), Limit: 4},
	} {
		hits := search(t, s, q)
		if want := []string{ID(1), ID(2), ID(3), ID(5)}; !slices.Equal(ids(hits), want) {
			t.Errorf("tied hits %v, want ascending ids %v", ids(hits), want)
		}
	}
}

func testPayload(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	const dim = 4
	s := open(t, dim)
	full := vectors.Payload{
		DocumentID: "6f1c2b8e-doc", AuthorID: "author-7", Author: "Paul Iusztin",
		Category: "repositories", Platform: "github", Link: "https://github.com/x/y",
		Title: "Ünïcode — title", ChunkIndex: 12, Text: "line one\nline two\t\"quoted\" ✓",
		Extra: map[string]any{
			"chunk_size": 256.0, "chunk_overlap": 0.0, "model": "minilm-l6",
			"normalized": true, "lossy": false, "ratio": 0.125, "empty": "",
		},
	}
	bare := vectors.Payload{DocumentID: "doc-2"}
	upsert(t, s,
		vectors.Point{ID: ID(1), Dense: axis0(dim, 1), Payload: full},
		vectors.Point{ID: ID(2), Dense: angled(dim, 1, 1, 1), Payload: bare},
	)
	hits := search(t, s, vectors.Query{Dense: axis0(dim, 1)})
	if len(hits) != 2 {
		t.Fatalf("found %d points, want 2", len(hits))
	}
	for _, c := range []struct {
		hit  vectors.Hit
		want vectors.Payload
	}{{hits[0], full}, {hits[1], bare}} {
		got := c.hit.Payload
		if len(got.Extra) == 0 && len(c.want.Extra) == 0 {
			got.Extra = c.want.Extra // nil and empty are the same payload
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("payload of %s:\n got  %#v\n want %#v", c.hit.ID, got, c.want)
		}
	}
	// A hit's payload is the caller's: changing it changes nothing stored.
	maps.DeleteFunc(hits[0].Payload.Extra, func(string, any) bool { return true })
	if again := search(t, s, vectors.Query{Dense: axis0(dim, 1), Limit: 1}); len(again) != 1 || len(again[0].Payload.Extra) != len(full.Extra) {
		t.Errorf("editing a hit's Extra changed the stored payload")
	}
}

func testConcurrent(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	const (
		dim     = 8
		writers = 4
		batches = 5
		batch   = 5
	)
	s := open(t, dim)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for b := range batches {
				var points []vectors.Point
				for i := range batch {
					n := (w*batches+b)*batch + i
					v := make([]float32, dim)
					for j := range v {
						v[j] = float32(rng.NormFloat64())
					}
					points = append(points, vectors.Point{
						ID: ID(n), Dense: v, Sparse: sparse(float32(w), 1, float32(100+n), 1),
						Payload: payload(fmt.Sprint("doc-", w), n),
					})
				}
				if err := s.Upsert(ctx, points); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 2 {
		readers.Go(func() {
			// Search until the writers are done, at least once.
			for {
				q := vectors.Query{Dense: axis0(dim, 1), Sparse: sparse(float32(r), 1), Limit: 5}
				if r == 1 {
					q.Filter.DocumentIDs = []string{"doc-1"}
				}
				if _, err := s.Search(ctx, q); err != nil {
					errs <- err
					return
				}
				if _, err := s.Count(ctx, q.Filter); err != nil {
					errs <- err
					return
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent call: %v", err)
	}
	if n := count(t, s, vectors.Filter{}); n != writers*batches*batch {
		t.Errorf("Count after concurrent upserts = %d, want %d", n, writers*batches*batch)
	}
	for w := range writers {
		if n := count(t, s, vectors.Filter{DocumentIDs: []string{fmt.Sprint("doc-", w)}}); n != batches*batch {
			t.Errorf("writer %d's document has %d points, want %d", w, n, batches*batch)
		}
	}
}

func testClosed(t *testing.T, open func(t *testing.T, dim int) vectors.Store) {
	const dim = 4
	s := open(t, dim)
	upsert(t, s, vectors.Point{ID: ID(1), Dense: axis0(dim, 1), Payload: payload("doc-1", 0)})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := t.Context()
	p := vectors.Point{ID: ID(2), Dense: axis0(dim, 1), Payload: payload("doc-1", 1)}
	if err := s.Upsert(ctx, []vectors.Point{p}); !errors.Is(err, vectors.ErrClosed) {
		t.Errorf("Upsert after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Search(ctx, vectors.Query{Dense: axis0(dim, 1)}); !errors.Is(err, vectors.ErrClosed) {
		t.Errorf("Search after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Count(ctx, vectors.Filter{}); !errors.Is(err, vectors.ErrClosed) {
		t.Errorf("Count after Close: %v, want ErrClosed", err)
	}
	if _, err := s.DeleteDocument(ctx, "doc-1", nil); !errors.Is(err, vectors.ErrClosed) {
		t.Errorf("DeleteDocument after Close: %v, want ErrClosed", err)
	}
}
