package embed

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
)

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func embedOne(t *testing.T, m Dense, text string) []float32 {
	t.Helper()
	v, err := m.Embed(context.Background(), []string{text})
	if err != nil {
		t.Fatal(err)
	}
	return v[0]
}

func TestHashedVectorsAreUnitLengthAndDeterministic(t *testing.T) {
	t.Parallel()
	for _, dim := range []int{64, 384, DefaultDim} {
		a, b := NewHashed(dim), NewHashed(dim)
		for _, text := range []string{"x", "Cells divide.", strings.Repeat("protein folding kinetics ", 50), "日本語のテキスト"} {
			va, vb := embedOne(t, a, text), embedOne(t, b, text)
			if len(va) != dim {
				t.Fatalf("dim %d: got %d dimensions", dim, len(va))
			}
			if n := math.Sqrt(dot(va, va)); math.Abs(n-1) > 1e-5 {
				t.Errorf("dim %d, %q: norm %v, want 1", dim, text, n)
			}
			for i := range va {
				if va[i] != vb[i] {
					t.Fatalf("dim %d, %q: two models disagree at %d: %v vs %v", dim, text, i, va[i], vb[i])
				}
			}
		}
	}
}

func TestHashedEmptyTextIsTheZeroVector(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", "   ", "the of and", "!!! ???"} {
		for _, x := range embedOne(t, NewHashed(16), text) {
			if x != 0 {
				t.Fatalf("%q: got a non-zero vector", text)
			}
		}
	}
}

func TestHashedRanksRelatedTextsCloser(t *testing.T) {
	t.Parallel()
	m := NewHashed(0)
	q := embedOne(t, m, "biomaterials lack inductive properties")
	related := embedOne(t, m, "Inductive properties of nanoscale biomaterial scaffolds in bone repair")
	morph := embedOne(t, m, "a biomaterial with induction")
	unrelated := embedOne(t, m, "The stock market fell sharply on Tuesday amid rate fears")
	if !(dot(q, related) > 0.3 && dot(q, morph) > 0.3 && math.Abs(dot(q, unrelated)) < 0.15) {
		t.Errorf("cosines: related %.3f, morphological variant %.3f, unrelated %.3f; want the first two well above the last",
			dot(q, related), dot(q, morph), dot(q, unrelated))
	}
}

func TestHashedModelNamesVersionAndDim(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dim  int
		want string
	}{{0, "hashed-ngrams/v1/dim1024"}, {-3, "hashed-ngrams/v1/dim1024"}, {384, "hashed-ngrams/v1/dim384"}} {
		m := NewHashed(tc.dim)
		if m.Model() != tc.want || m.Dim() != len(embedOne(t, m, "x y")) {
			t.Errorf("NewHashed(%d): Model %q Dim %d, want %q", tc.dim, m.Model(), m.Dim(), tc.want)
		}
	}
}

func TestHashedStopsOnCancelledContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewHashed(8).Embed(ctx, []string{"a"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestHashedIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	m := NewHashed(64)
	texts := []string{"alpha beta", "gamma delta epsilon", "zeta eta theta iota", "kappa"}
	want := make([][]float32, len(texts))
	for i, text := range texts {
		want[i] = embedOne(t, m, text)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(texts)
				got, _ := m.Embed(context.Background(), []string{texts[k]})
				for j := range got[0] {
					if got[0][j] != want[k][j] {
						t.Errorf("concurrent embedding of %q differs", texts[k])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestWordPriorWeighsRareWordsMore(t *testing.T) {
	t.Parallel()
	the, cell, apoptosis := wordPrior("the"), wordPrior("cells"), wordPrior("apoptosis")
	if len(wordPriors()) < 28000 {
		t.Fatalf("the embedded vocabulary has %d words, want about 28,500", len(wordPriors()))
	}
	if !(the < 0.01 && the < cell && cell < apoptosis) {
		t.Errorf("priors: the %.4f, cells %.4f, apoptosis (not in the vocabulary) %.4f; want increasing, the ≈ 0", the, cell, apoptosis)
	}
}
