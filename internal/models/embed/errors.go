package embed

import (
	"errors"
	"math"
)

// ErrConfig is a model configuration that cannot work (no model name, no
// dimension).
var ErrConfig = errors.New("embed: invalid configuration")

// ErrDimension is a server that returned vectors of another dimension than
// the one configured (the vector store was opened with that dimension).
var ErrDimension = errors.New("embed: wrong embedding dimension")

// ErrResponse is a server answer that does not hold one finite vector per
// input text.
var ErrResponse = errors.New("embed: malformed embedding response")

// toUnit converts a server's vector to float32 and scales it to unit
// length, as Dense promises (servers differ: OpenAI's are normalized, a
// TEI or SageMaker model may not be). It fails on NaN or infinity, which
// would poison every cosine computed with it.
func toUnit(v []float64) ([]float32, error) {
	var s float64
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, ErrResponse
		}
		s += x * x
	}
	if math.IsInf(s, 0) {
		return nil, ErrResponse // a component near MaxFloat64: not an embedding
	}
	out := make([]float32, len(v))
	if s == 0 {
		return out, nil
	}
	inv := 1 / math.Sqrt(s)
	for i, x := range v {
		out[i] = float32(x * inv)
	}
	return out, nil
}
