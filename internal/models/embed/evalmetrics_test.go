package embed

import (
	"math"
	"testing"
)

func TestRetrievalMetrics(t *testing.T) {
	t.Parallel()
	rel := map[string]int{"a": 1, "b": 2, "z": 0}
	for _, tc := range []struct {
		name              string
		ranked            []string
		k                 int
		ndcg, recall, mrr float64
	}{
		{"ideal", []string{"b", "a", "x"}, 10, 1, 1, 1},
		{"nothing found", []string{"x", "y"}, 10, 0, 0, 0},
		{"empty list", nil, 10, 0, 0, 0},
		// DCG = 1/log2(2) + 2/log2(4) = 2; ideal = 2/log2(2) + 1/log2(3).
		{"swapped", []string{"a", "x", "b"}, 10, 2 / (2 + 1/math.Log2(3)), 1, 1},
		{"cut at k", []string{"x", "a", "b"}, 2, (1 / math.Log2(3)) / (2 + 1/math.Log2(3)), 0.5, 0.5},
		{"zero grade is not relevant", []string{"z", "x", "a"}, 10, (1 / 2.0) / (2 + 1/math.Log2(3)), 0.5, 1.0 / 3},
		{"duplicates count once", []string{"x", "x", "a"}, 2, (1 / math.Log2(3)) / (2 + 1/math.Log2(3)), 0.5, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, m := range []struct {
				name      string
				got, want float64
			}{
				{"NDCG", NDCG(tc.ranked, rel, tc.k), tc.ndcg},
				{"Recall", Recall(tc.ranked, rel, tc.k), tc.recall},
				{"MRR", MRR(tc.ranked, rel, tc.k), tc.mrr},
			} {
				if math.Abs(m.got-m.want) > 1e-12 {
					t.Errorf("%s(%q, k=%d) = %v, want %v", m.name, tc.ranked, tc.k, m.got, m.want)
				}
			}
		})
	}
}

func TestMetricsWithoutRelevantDocumentsAreZero(t *testing.T) {
	t.Parallel()
	for _, rel := range []map[string]int{nil, {"a": 0}} {
		if NDCG([]string{"a"}, rel, 10) != 0 || Recall([]string{"a"}, rel, 10) != 0 || MRR([]string{"a"}, rel, 10) != 0 {
			t.Errorf("metrics with qrels %v are not all 0", rel)
		}
	}
}
