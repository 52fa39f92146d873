package embedded

import (
	"testing"

	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/vectors/vectorstest"
)

func TestEmbeddedStore(t *testing.T) {
	vectorstest.Run(t, func(t *testing.T, dim int) vectors.Store {
		s, err := Open(t.TempDir(), dim)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
