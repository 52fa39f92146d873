package policy

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// unit returns n random unit vectors of dim dimensions.
func unit(rng *rand.Rand, n, dim int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		out[i] = mean([][]float32{v}) // normalized
	}
	return out
}

func TestStateSurvivesItsEncoding(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	st := state{Documents: counter{IDs: idSet{}}, Judgments: counter{IDs: idSet{}}, Ratings: ratings{}, Kinds: kindState{}}
	for i := range 100 {
		st.Documents.add(string(rune('a'+i%26))+string(rune(i)), at.Add(time.Duration(i)*time.Second))
		st.Ratings.put(string(rune(i)), at.Add(time.Duration(i)*time.Minute), i%3 == 0)
	}
	st.Kinds.get("sft").WindowStart = at
	vecs := unit(rng, 40, 64)
	for i, v := range vecs {
		st.Drift.Corpus.add(uint64(i*7919), v, 32)
	}
	st.Drift.Snapshot = takeSnapshot(st.Drift.Corpus.Vecs, 4, at)

	data, err := json.Marshal(&st)
	if err != nil {
		t.Fatal(err)
	}
	var got state
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Documents, st.Documents) || !reflect.DeepEqual(got.Ratings, st.Ratings) ||
		!reflect.DeepEqual(got.Kinds, st.Kinds) || !reflect.DeepEqual(got.Drift.Corpus.Hashes, st.Drift.Corpus.Hashes) {
		t.Fatalf("the state changed through its encoding")
	}
	// Vectors are quantized: each comes back within 1% of its cosine.
	for i, v := range st.Drift.Corpus.Vecs {
		if c := dot(v, got.Drift.Corpus.Vecs[i]); c < 0.99 {
			t.Errorf("vector %d: cosine %.4f with itself after the encoding", i, c)
		}
	}
	if got.Drift.Snapshot == nil || !reflect.DeepEqual(got.Drift.Snapshot.Counts, st.Drift.Snapshot.Counts) {
		t.Errorf("snapshot %+v, want counts %v", got.Drift.Snapshot, st.Drift.Snapshot.Counts)
	}
}

func TestEncodingsRefuseTruncatedBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		v    any
		data string
	}{
		{"id set", &idSet{}, `"AAAA"`},            // 3 bytes
		{"ratings", &ratings{}, `"AAAAAAAAAAAA"`}, // 9 bytes
		{"matrix", &matrix{}, `{"dim":4,"q8":"AAAA"}`},
	} {
		if err := json.Unmarshal([]byte(tc.data), tc.v); err == nil {
			t.Errorf("%s: %s decoded", tc.name, tc.data)
		}
	}
}

func TestSketchIsTheSmallestHashesWhateverTheOrder(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	hashes := make([]uint64, 200)
	for i := range hashes {
		hashes[i] = rng.Uint64()
	}
	vec := []float32{1}
	var forward, backward sketch
	for _, h := range hashes {
		forward.add(h, vec, 16)
		forward.add(h, vec, 16) // delivered twice
	}
	for i := len(hashes) - 1; i >= 0; i-- {
		backward.add(hashes[i], vec, 16)
	}
	if !reflect.DeepEqual(forward.Hashes, backward.Hashes) || forward.len() != 16 {
		t.Fatalf("sketches differ by order: %v vs %v", forward.Hashes, backward.Hashes)
	}
	largest := forward.Hashes[15]
	for _, h := range hashes {
		if _, in := slices.BinarySearch(forward.Hashes, h); h <= largest && !in {
			t.Fatalf("hash %d, below the sketch's largest, is not in it", h)
		}
	}
}

func TestPSI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		base, recent []int
		lo, hi       float64
	}{
		{"same shares", []int{50, 30, 20}, []int{100, 60, 40}, 0, 1e-3},
		{"a little moved", []int{50, 30, 20}, []int{45, 33, 22}, 0, 0.02},
		{"all in a new bin", []int{50, 50, 0}, []int{0, 0, 100}, 2, math.Inf(1)},
	} {
		if got := psi(tc.base, tc.recent); got < tc.lo || got > tc.hi {
			t.Errorf("%s: PSI %.4f, want in [%g, %g]", tc.name, got, tc.lo, tc.hi)
		}
	}
}

func TestSnapshotIsDeterministicAndPutsOutliersInTheFarBin(t *testing.T) {
	t.Parallel()
	vecs := unit(rand.New(rand.NewPCG(5, 6)), 200, 32)
	a, b := takeSnapshot(vecs, 4, time.Time{}), takeSnapshot(vecs, 4, time.Time{})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two snapshots of one sample differ")
	}
	far := a.Counts[len(a.Counts)-1]
	if far < 5 || far > 15 {
		t.Errorf("far bin holds %d of 200 snapshot chunks, want about 5%%", far)
	}
	// A vector opposite to every centroid is far.
	opp := make([]float32, 32)
	for _, c := range a.Centroids {
		for j, x := range c {
			opp[j] -= x
		}
	}
	if got := a.bin(mean([][]float32{opp})); got != len(a.Centroids) {
		t.Errorf("a vector opposite to the centroids went to bin %d", got)
	}
	if takeSnapshot(vecs[:7], 4, time.Time{}) != nil {
		t.Error("a snapshot of 7 vectors for 4 clusters")
	}
}
