package embed

import (
	"context"
	"strings"
)

// embedInBatches embeds texts through send, at most maxBatch texts a call,
// and returns the vectors in the order of texts. Texts that are empty or
// only spaces are not sent (embedding APIs reject empty inputs) and get the
// zero vector of dim dimensions.
func embedInBatches(ctx context.Context, texts []string, dim, maxBatch int,
	send func(ctx context.Context, batch []string) ([][]float32, error)) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var (
		batch []string
		at    []int // batch[i] is texts[at[i]]
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		vecs, err := send(ctx, batch)
		if err != nil {
			return err
		}
		for i, v := range vecs {
			out[at[i]] = v
		}
		batch, at = batch[:0], at[:0]
		return nil
	}
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			out[i] = make([]float32, dim)
			continue
		}
		batch, at = append(batch, t), append(at, i)
		if len(batch) == maxBatch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}
