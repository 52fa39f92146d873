package policy

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// # Drift
//
// The corpus sample is a bottom-k sketch of every chunk seen: the R chunks
// with the smallest hash of their text. A good hash makes that a uniform
// sample without replacement of all chunks so far, and unlike a reservoir
// it is deterministic and idempotent: a chunk delivered twice has the same
// hash, so it is kept once or not at all. The recent sample is the same
// sketch over the chunks seen since the snapshot. Only chunks that enter a
// sketch are embedded, and fewer do as more are seen (about R·ln(n/R) of
// n), so the rule costs little whatever the model.
//
// The snapshot fits K centroids (spherical k-means) on the corpus sample
// and adds one bin for chunks far from every centroid: below the 5th
// percentile of the snapshot's own chunks' similarity to their centroid.
// Writing about a topic the snapshot never saw lands there, where plain
// nearest-centroid assignment would scatter it over the clusters at
// random and hide it. The drift value is the population stability index
// of the recent sample's shares of the K+1 bins against the snapshot's.

// farQuantile is the share of the snapshot's own chunks in the far bin.
const farQuantile = 0.05

// kmeansIterations bounds Lloyd's iterations; a few hundred points of a
// few hundred dimensions settle well before.
const kmeansIterations = 25

// drift is the drift rule's state.
type drift struct {
	Model    string    `json:"model,omitempty"` // the dense model the vectors are from
	Corpus   sketch    `json:"corpus"`
	Recent   sketch    `json:"recent"`
	Snapshot *snapshot `json:"snapshot,omitempty"`
}

// sketch keeps the chunks with the smallest hashes, Hashes sorted, Vecs[i]
// the vector of Hashes[i].
type sketch struct {
	Hashes []uint64 `json:"hashes"`
	Vecs   matrix   `json:"vecs"`
}

// wants reports whether a chunk of hash h would enter a sketch of at most
// size entries.
func (s *sketch) wants(h uint64, size int) bool {
	i, found := slices.BinarySearch(s.Hashes, h)
	return !found && (len(s.Hashes) < size || i < len(s.Hashes))
}

// add inserts h with its vector, dropping the largest hash past size.
func (s *sketch) add(h uint64, v []float32, size int) {
	if !s.wants(h, size) {
		return
	}
	i, _ := slices.BinarySearch(s.Hashes, h)
	s.Hashes = slices.Insert(s.Hashes, i, h)
	s.Vecs = slices.Insert(s.Vecs, i, v)
	if len(s.Hashes) > size {
		s.Hashes, s.Vecs = s.Hashes[:size], s.Vecs[:size]
	}
}

func (s *sketch) len() int { return len(s.Hashes) }

// snapshot is what the model in service was trained on, as the drift rule
// compares against it.
type snapshot struct {
	At        time.Time `json:"at"`
	Centroids matrix    `json:"centroids"`
	// Cutoff is the similarity to the nearest centroid under which a
	// chunk goes to the far bin.
	Cutoff float64 `json:"cutoff"`
	// Counts are the snapshot's chunks per bin, the far bin last.
	Counts []int     `json:"counts"`
	Mean   []float32 `json:"mean"` // the normalized mean of its chunks
}

// takeSnapshot fits a snapshot of k clusters on vecs (unit vectors). It
// returns nil when there are too few vectors for k clusters.
func takeSnapshot(vecs [][]float32, k int, at time.Time) *snapshot {
	if k < 1 || len(vecs) < 2*k {
		return nil
	}
	cents := kmeans(vecs, k)
	sims := make([]float64, len(vecs))
	for i, v := range vecs {
		_, sims[i] = nearest(cents, v)
	}
	sorted := slices.Clone(sims)
	slices.Sort(sorted)
	s := &snapshot{At: at, Centroids: cents, Cutoff: sorted[int(farQuantile*float64(len(sorted)))], Mean: mean(vecs)}
	s.Counts = s.bins(vecs)
	return s
}

// bin is the bin of v: its nearest centroid, or the far bin (K).
func (s *snapshot) bin(v []float32) int {
	c, sim := nearest(s.Centroids, v)
	if sim < s.Cutoff {
		return len(s.Centroids)
	}
	return c
}

// bins counts vecs per bin.
func (s *snapshot) bins(vecs [][]float32) []int {
	counts := make([]int, len(s.Centroids)+1)
	for _, v := range vecs {
		counts[s.bin(v)]++
	}
	return counts
}

// psi is the population stability index of the recent counts against the
// snapshot's: Σ (r−b)·ln(r/b) over the bins' shares. Each share is
// smoothed by half a chunk, so that an empty bin on either side is finite.
func psi(base, recent []int) float64 {
	nb, nr := 0, 0
	for i := range base {
		nb += base[i]
		nr += recent[i]
	}
	k := float64(len(base))
	var sum float64
	for i := range base {
		b := (float64(base[i]) + 0.5) / (float64(nb) + 0.5*k)
		r := (float64(recent[i]) + 0.5) / (float64(nr) + 0.5*k)
		sum += (r - b) * math.Log(r/b)
	}
	return sum
}

// centroidShift is 1 minus the cosine of the recent sample's mean and the
// snapshot's: 0 when the centres coincide. Reported as evidence beside
// the PSI, which is what decides.
func centroidShift(snap, recent []float32) float64 {
	if len(snap) == 0 || len(snap) != len(recent) {
		return 0
	}
	return 1 - dot(snap, recent)
}

// kmeans fits k unit centroids to vecs by spherical k-means: k-means++
// seeding from a fixed seed, so the same sample gives the same centroids,
// then Lloyd's iterations on cosine similarity.
func kmeans(vecs [][]float32, k int) [][]float32 {
	rng := rand.New(rand.NewPCG(0x7477696e, uint64(len(vecs))))
	cents := make([][]float32, 0, k)
	cents = append(cents, slices.Clone(vecs[rng.IntN(len(vecs))]))
	dist := make([]float64, len(vecs))
	for len(cents) < k {
		var total float64
		for i, v := range vecs {
			_, sim := nearest(cents, v)
			dist[i] = max(1-sim, 0) * max(1-sim, 0)
			total += dist[i]
		}
		pick := 0
		if total > 0 {
			x := rng.Float64() * total
			for pick = 0; pick < len(vecs)-1 && x >= dist[pick]; pick++ {
				x -= dist[pick]
			}
		} else {
			pick = rng.IntN(len(vecs))
		}
		cents = append(cents, slices.Clone(vecs[pick]))
	}
	assign := make([]int, len(vecs))
	for it := range kmeansIterations {
		changed := it == 0
		for i, v := range vecs {
			if c, _ := nearest(cents, v); c != assign[i] {
				assign[i], changed = c, true
			}
		}
		if !changed {
			break
		}
		for c := range cents {
			var members [][]float32
			for i, v := range vecs {
				if assign[i] == c {
					members = append(members, v)
				}
			}
			if len(members) > 0 {
				cents[c] = mean(members)
			}
		}
	}
	return cents
}

// nearest is the index of the centroid most similar to v, and that
// similarity.
func nearest(cents [][]float32, v []float32) (int, float64) {
	best, bestSim := 0, math.Inf(-1)
	for i, c := range cents {
		if s := dot(c, v); s > bestSim {
			best, bestSim = i, s
		}
	}
	return best, bestSim
}

// mean is the normalized mean of vecs.
func mean(vecs [][]float32) []float32 {
	if len(vecs) == 0 {
		return nil
	}
	sum := make([]float64, len(vecs[0]))
	for _, v := range vecs {
		for j, x := range v {
			sum[j] += float64(x)
		}
	}
	var norm float64
	for _, x := range sum {
		norm += x * x
	}
	norm = math.Sqrt(norm)
	out := make([]float32, len(sum))
	if norm == 0 {
		return out
	}
	for j, x := range sum {
		out[j] = float32(x / norm)
	}
	return out
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range min(len(a), len(b)) {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
