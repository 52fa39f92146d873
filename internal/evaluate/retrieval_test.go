package evaluate

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/twin-llm/twin/internal/retrieval"
)

func TestParseQrelsReadsGradesAndSkipsTheHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     Judgments
		err      string
	}{
		{"header and grades", "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t1\nq2\td3\t1\n",
			Judgments{"q1": {"d1": 2, "d2": 1}, "q2": {"d3": 1}}, ""},
		{"no header", "q1\td1\t1\n", Judgments{"q1": {"d1": 1}}, ""},
		{"short lines skipped", "q1\td1\n\nq1\td2\t1\n", Judgments{"q1": {"d2": 1}}, ""},
		{"a grade that is no number", "query-id\tcorpus-id\tscore\nq1\td1\thigh\n", nil, "line 2: score \"high\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseQrels(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseQrels = %v, %v; want an error saying %q", got, err, tc.err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("ParseQrels = %v, %v; want %v", got, err, tc.want)
			}
			for q, docs := range tc.want {
				for d, g := range docs {
					if got[q][d] != g {
						t.Errorf("grade of %s/%s = %d, want %d", q, d, got[q][d], g)
					}
				}
			}
		})
	}
}

func FuzzParseQrels(f *testing.F) {
	f.Add("query-id\tcorpus-id\tscore\nq1\td1\t2\n")
	f.Add("q\td\t-1\n\t\t\n")
	f.Fuzz(func(t *testing.T, in string) {
		j, err := ParseQrels(strings.NewReader(in))
		if err != nil {
			return
		}
		for q, docs := range j {
			if docs == nil {
				t.Fatalf("query %q has a nil set of judgments", q)
			}
		}
	})
}

// rankings answers each query with a fixed list of hits: it stands in for
// the gateway's search so that the scores are known in advance. The path
// through the gateway is tested by twin eval retrieval in cmd/twin.
type rankings map[string][]string

func (r rankings) Search(_ context.Context, query, author string, k int) ([]retrieval.Hit, error) {
	if author != "eval:test" {
		return nil, errors.New("wrong author: " + author)
	}
	ids, ok := r[query]
	if !ok {
		return nil, errors.New("search failed")
	}
	var hits []retrieval.Hit
	for _, id := range ids[:min(k, len(ids))] {
		hits = append(hits, retrieval.Hit{DocumentID: id})
	}
	return hits, nil
}

func TestRetrievalScoresTheRankingByDocument(t *testing.T) {
	t.Parallel()
	judged := Judgments{"q1": {"a": 1}, "q2": {"b": 1, "c": 1}}
	qs := []Query{{ID: "q1", Text: "first"}, {ID: "q2", Text: "second"}}
	// q1: a first, perfect. q2: two chunks of x, then b (third chunk, but
	// second document), c absent.
	s := rankings{"first": {"a", "a", "z"}, "second": {"x", "x", "b"}}
	res, err := Retrieval(context.Background(), s, qs, judged, RetrievalConfig{Author: "eval:test", K: 10, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	// q2: DCG = 1/log2(3); ideal = 1 + 1/log2(3).
	q2 := (1 / math.Log2(3)) / (1 + 1/math.Log2(3))
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"nDCG@10", res.NDCG, (1 + q2) / 2},
		{"Recall@100", res.Recall100, (1 + 0.5) / 2},
		{"MRR@10", res.MRR10, (1 + 0.5) / 2},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %.6f, want %.6f", c.name, c.got, c.want)
		}
	}
	if res.Queries != 2 || res.K != 10 || res.LatencyP50 == "" {
		t.Errorf("result %+v: want 2 queries, k 10 and a latency", res)
	}

	qs = append(qs, Query{ID: "q3", Text: "unknown"})
	if _, err := Retrieval(context.Background(), s, qs, judged, RetrievalConfig{Author: "eval:test", K: 10}); err == nil || !strings.Contains(err.Error(), "query q3") {
		t.Errorf("a failed search gave %v, want an error naming the query", err)
	}
}
