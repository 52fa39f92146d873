package rerank

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestDecodePutsScoresBackInInputOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		decode func([]byte, int) ([]float64, error)
		body   string
		n      int
		want   []float64
	}{
		{"tei sorted by score", decodeTEI, `[{"index":2,"score":0.93},{"index":0,"score":0.5},{"index":1,"score":-1.25}]`, 3, []float64{0.5, -1.25, 0.93}},
		{"tei with text", decodeTEI, `[{"index":0,"score":0.1,"text":"a"}]`, 1, []float64{0.1}},
		{"tei empty", decodeTEI, `[]`, 0, []float64{}},
		{"cohere", decodeCohere, `{"id":"x","results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.2}],"meta":{"billed_units":{"search_units":1}}}`, 2, []float64{0.2, 0.9}},
		{"cohere with documents", decodeCohere, `{"results":[{"index":0,"relevance_score":0.7,"document":{"text":"a"}}]}`, 1, []float64{0.7}},
		{"voyage data", decodeCohere, `{"object":"list","data":[{"index":1,"relevance_score":0.3},{"index":0,"relevance_score":0.1}],"model":"rerank-2","usage":{"total_tokens":9}}`, 2, []float64{0.1, 0.3}},
	} {
		got, err := tc.decode([]byte(tc.body), tc.n)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestDecodeRejectsAnswersThatDoNotFit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		decode func([]byte, int) ([]float64, error)
		body   string
		n      int
	}{
		{"tei missing index", decodeTEI, `[{"index":0,"score":0.1},{"score":0.2}]`, 2},
		{"tei null index", decodeTEI, `[{"index":0,"score":0.1},{"index":null,"score":0.2}]`, 2},
		{"tei duplicate", decodeTEI, `[{"index":0,"score":0.1},{"index":0,"score":0.2}]`, 2},
		{"tei out of range", decodeTEI, `[{"index":0,"score":0.1},{"index":2,"score":0.2}]`, 2},
		{"tei short", decodeTEI, `[{"index":0,"score":0.1}]`, 2},
		{"tei no score", decodeTEI, `[{"index":0}]`, 1},
		{"tei huge score", decodeTEI, `[{"index":0,"score":1e999}]`, 1},
		{"tei object", decodeTEI, `{"error":"Model is overloaded","error_type":"overloaded"}`, 1},
		{"tei truncated", decodeTEI, `[{"index":0,"sco`, 1},
		{"cohere null results", decodeCohere, `{"results":null}`, 1},
		{"cohere tei shape", decodeCohere, `[{"index":0,"score":0.1}]`, 1},
		{"cohere score named score", decodeCohere, `{"results":[{"index":0,"score":0.1}]}`, 1},
		{"cohere duplicate", decodeCohere, `{"results":[{"index":1,"relevance_score":0.1},{"index":1,"relevance_score":0.1}]}`, 2},
	} {
		if got, err := tc.decode([]byte(tc.body), tc.n); !errors.Is(err, ErrResponse) {
			t.Errorf("%s: got %v, %v; want ErrResponse", tc.name, got, err)
		}
	}
}

// FuzzDecodeScores feeds the parsers of the servers' answers arbitrary
// bytes: they must never panic, and must either fail with ErrResponse or
// return exactly n finite scores.
func FuzzDecodeScores(f *testing.F) {
	for _, seed := range []struct {
		body string
		n    uint8
	}{
		{`[{"index":1,"score":0.93},{"index":0,"score":0.5}]`, 2},
		{`{"results":[{"index":0,"relevance_score":0.9}]}`, 1},
		{`{"data":[{"index":0,"relevance_score":0.9}]}`, 1},
		{`[{"index":0,"score":0.1},{"index":0,"score":0.2}]`, 2},
		{`[{"index":-1,"score":0.1}]`, 1},
		{`[{"index":9223372036854775807,"score":0.1}]`, 1},
		{`{"results":[{"index":0}],"data":[{"index":0,"relevance_score":1}]}`, 1},
		{`[]`, 0},
		{`null`, 0},
		{``, 3},
	} {
		f.Add([]byte(seed.body), seed.n)
	}
	f.Fuzz(func(t *testing.T, body []byte, n uint8) {
		for name, decode := range map[string]func([]byte, int) ([]float64, error){"tei": decodeTEI, "cohere": decodeCohere} {
			scores, err := decode(body, int(n))
			if err != nil {
				if !errors.Is(err, ErrResponse) {
					t.Fatalf("%s: error %v is not ErrResponse", name, err)
				}
				continue
			}
			if len(scores) != int(n) {
				t.Fatalf("%s: %d scores for %d texts", name, len(scores), n)
			}
			for i, s := range scores {
				if math.IsNaN(s) || math.IsInf(s, 0) {
					t.Fatalf("%s: score %d is %v", name, i, s)
				}
			}
		}
	})
}
