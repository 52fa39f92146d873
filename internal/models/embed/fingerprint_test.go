package embed

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/twin-llm/twin/internal/models/embed/scifacttest"
)

// fingerprintTexts are texts in every shape the tokenizer and the models
// treat differently: ASCII and not, capitals, stop words only, repeats,
// long tokens, a chunk with its title.
func fingerprintTexts(t testing.TB) []string {
	texts := []string{
		"", "x", "   ", "the of and", "Cells divide.", "Hello, World!",
		"IL-6 and TNF-α levels", "Ünïcödé ÉCOLE naïve", "日本語のテキスト", "e\u0301te", "a\xffb",
		strings.Repeat("x", 64) + " ok " + strings.Repeat("y", 65),
		strings.Repeat("protein folding kinetics ", 50),
		"Generated ingest 7\n\nstream consumer message queue durable replica cluster shard index vector. Stream STREAM stream.",
		benchChunk,
		"İstanbul ΣΊΣΥΦΟΣ straße ǅemal ﬁne",
	}
	if scifacttest.Available() {
		d := scifacttest.Load(t)
		for i := 0; i < len(d.Docs); i += 97 {
			texts = append(texts, d.Docs[i])
		}
		for i := 0; i < len(d.Queries); i += 41 {
			texts = append(texts, d.Queries[i].Text)
		}
	}
	return texts
}

// fingerprint hashes the models' outputs on the texts, bit for bit.
func fingerprint(t testing.TB, dense Dense, sparse Sparse, texts []string) string {
	h := fnv.New64a()
	var b [8]byte
	vs, err := dense.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		for _, x := range vs[i] {
			binary.LittleEndian.PutUint32(b[:4], math.Float32bits(x))
			h.Write(b[:4])
		}
		for _, sp := range []struct {
			idx []uint32
			val []float32
		}{
			{sparse.Document(text).Indices, sparse.Document(text).Values},
			{sparse.Query(text).Indices, sparse.Query(text).Values},
		} {
			binary.LittleEndian.PutUint32(b[:4], uint32(len(sp.idx)))
			h.Write(b[:4])
			for j := range sp.idx {
				binary.LittleEndian.PutUint32(b[:4], sp.idx[j])
				h.Write(b[:4])
				binary.LittleEndian.PutUint32(b[:4], math.Float32bits(sp.val[j]))
				h.Write(b[:4])
			}
		}
	}
	return fmt.Sprintf("%016x/%d", h.Sum64(), len(texts))
}

// TestModelsKeepTheirV1Outputs pins the hashed model's vectors and BM25's
// sparse vectors, bit for bit: vectors already in a store must keep
// meeting the queries of a newer build (a change of features needs a new
// model version and a reindex, not a silent drift). The fingerprints were
// taken from the first implementation of each model.
func TestModelsKeepTheirV1Outputs(t *testing.T) {
	t.Parallel()
	texts := fingerprintTexts(t)
	want := map[string]string{ // by dim and number of texts (with SciFact or without)
		"64/90":   "f4375b223e0fc467/90",
		"1024/90": "09c722fe3fed5106/90",
		"64/16":   "c2f4312efb3d8ee5/16",
		"1024/16": "a7f1d91d4ebd9707/16",
	}
	for _, dim := range []int{64, DefaultDim} {
		got := fingerprint(t, NewHashed(dim), NewBM25(), texts)
		key := fmt.Sprintf("%d/%d", dim, len(texts))
		if w, ok := want[key]; !ok {
			t.Errorf("no fingerprint recorded for %s", key)
		} else if got != w {
			t.Errorf("dim %d: the models' outputs changed: fingerprint %s, want %s", dim, got, w)
		}
	}
}

func TestDocumentsMatchesTheModelsOneByOne(t *testing.T) {
	t.Parallel()
	texts := fingerprintTexts(t)
	bm25 := NewBM25()
	snowball := NewBM25()
	snowball.stop = snowballStopWords // another analysis: no sharing
	for _, sparse := range []*BM25{bm25, snowball} {
		h := NewHashed(256)
		dense, sp, err := Documents(context.Background(), h, sparse, texts)
		if err != nil {
			t.Fatal(err)
		}
		for i, text := range texts {
			want := embedOne(t, h, text)
			if !slices.Equal(dense[i], want) {
				t.Fatalf("%.40q: Documents' dense vector differs from Embed's", text)
			}
			if ws := sparse.Document(text); !slices.Equal(sp[i].Indices, ws.Indices) || !slices.Equal(sp[i].Values, ws.Values) {
				t.Fatalf("%.40q: Documents' sparse vector %v differs from Document's %v", text, sp[i], ws)
			}
		}
	}
}

func TestDocumentsStopsOnCancelledContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Documents(ctx, NewHashed(8), NewBM25(), []string{"a"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
