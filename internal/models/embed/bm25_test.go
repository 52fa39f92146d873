package embed

import (
	"math"
	"slices"
	"testing"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// value returns the weight of term in v, 0 when absent.
func value(v vectors.Sparse, term string) float32 {
	i, ok := slices.BinarySearch(v.Indices, TermID(term))
	if !ok {
		return 0
	}
	return v.Values[i]
}

func TestBM25DocumentHoldsSaturatedTermFrequencies(t *testing.T) {
	t.Parallel()
	m := NewBM25(WithK1(1.2), WithB(0.75), WithAvgDocLen(4))
	// Terms: cell, cell, grow, fast (stop words dropped, "cells" stemmed).
	v := m.Document("The cells and the cell grow fast.")
	dl, avg, k1, b := 4.0, 4.0, 1.2, 0.75
	sat := func(tf float64) float32 {
		return float32(tf * (k1 + 1) / (tf + k1*(1-b+b*dl/avg)))
	}
	for term, want := range map[string]float32{"cell": sat(2), "grow": sat(1), "fast": sat(1), "the": 0, "and": 0, "cells": 0} {
		if got := value(v, term); math.Abs(float64(got-want)) > 1e-6 {
			t.Errorf("value of %q = %v, want %v", term, got, want)
		}
	}
	if len(v.Indices) != 3 || len(v.Values) != 3 {
		t.Errorf("got %d indices and %d values, want 3 distinct terms", len(v.Indices), len(v.Values))
	}
}

func TestBM25LongerChunksWeighTermsLess(t *testing.T) {
	t.Parallel()
	m := NewBM25()
	short := value(m.Document("apoptosis regulates growth"), "apoptosi")
	long := value(m.Document("apoptosis regulates growth in many tissues across several organisms studied here"), "apoptosi")
	if !(short > long && long > 0) {
		t.Errorf("a term weighs %v in a short chunk and %v in a long one; want short > long > 0", short, long)
	}
}

func TestBM25QueryIsOnePerDistinctTerm(t *testing.T) {
	t.Parallel()
	v := NewBM25().Query("Does aspirin reduce the risk of stroke? Aspirin!")
	want := []string{"doe", "aspirin", "reduc", "risk", "stroke"}
	if len(v.Indices) != len(want) {
		t.Fatalf("query has %d terms, want %d (%q)", len(v.Indices), len(want), want)
	}
	for _, term := range want {
		if got := value(v, term); got != 1 {
			t.Errorf("query value of %q = %v, want 1", term, got)
		}
	}
}

func TestBM25IndicesAreSortedAndUnique(t *testing.T) {
	t.Parallel()
	m := NewBM25()
	for _, text := range []string{"", "the of and", "b a c a b", "Zebras zebra ZEBRA zebras' stripes"} {
		for _, v := range []vectors.Sparse{m.Document(text), m.Query(text)} {
			if len(v.Indices) != len(v.Values) {
				t.Errorf("%q: %d indices, %d values", text, len(v.Indices), len(v.Values))
			}
			for i := 1; i < len(v.Indices); i++ {
				if v.Indices[i-1] >= v.Indices[i] {
					t.Errorf("%q: indices not strictly ascending: %v", text, v.Indices)
				}
			}
		}
	}
}

func TestBM25OptionsAndModel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts []BM25Option
		want string
	}{
		{nil, "bm25/v1/porter/k1=0.9,b=0.4,avgdl=120"},
		{[]BM25Option{WithK1(1.2), WithB(0.75), WithAvgDocLen(200)}, "bm25/v1/porter/k1=1.2,b=0.75,avgdl=200"},
		{[]BM25Option{WithK1(-1), WithB(2), WithAvgDocLen(0)}, "bm25/v1/porter/k1=0.9,b=0.4,avgdl=120"},
		{[]BM25Option{WithK1(math.NaN()), WithB(math.NaN()), WithAvgDocLen(math.NaN())}, "bm25/v1/porter/k1=0.9,b=0.4,avgdl=120"},
	} {
		if got := NewBM25(tc.opts...).Model(); got != tc.want {
			t.Errorf("Model() = %q, want %q", got, tc.want)
		}
	}
}

func TestTermIDIsFNV1a(t *testing.T) {
	t.Parallel()
	// Reference values of 32-bit FNV-1a.
	for in, want := range map[string]uint32{"": 0x811c9dc5, "a": 0xe40c292c, "foobar": 0xbf9cf968} {
		if got := TermID(in); got != want {
			t.Errorf("TermID(%q) = %#x, want %#x", in, got, want)
		}
	}
}
