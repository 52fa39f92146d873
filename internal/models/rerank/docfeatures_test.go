package rerank

import (
	"context"
	"math"
	"slices"
	"testing"
)

func TestDocumentFeaturesJudgeAChunkByItsDocument(t *testing.T) {
	t.Parallel()
	ex := NewExtractor()
	ctx := context.Background()
	query := "turbine blade fatigue"
	texts := []string{
		"Engines\nThe turbine spins fast.",        // doc a: turbine
		"Engines\nBlade fatigue cracks the root.", // doc a: blade fatigue
		"Pumps\nA pump moves water.",              // doc b: nothing
	}
	col := featureIndex()
	own, err := ex.Features(ctx, query, texts, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range own {
		for _, pair := range [][2]string{{FeatDocBM25, FeatBM25}, {FeatDocWindow, FeatWindow}, {FeatDocRank, FeatRankPrior}, {FeatDocPRF, FeatPRFLex}} {
			if row[col[pair[0]]] != row[col[pair[1]]] {
				t.Errorf("text %d alone: %s %v, want its %s %v", i, pair[0], row[col[pair[0]]], pair[1], row[col[pair[1]]])
			}
		}
		if row[col[FeatDocCover]] != row[col[FeatIDFCover]] || row[col[FeatDocChunks]] != 0 {
			t.Errorf("text %d alone: doc_cover %v (idf_cover %v), doc_chunks %v", i, row[col[FeatDocCover]], row[col[FeatIDFCover]], row[col[FeatDocChunks]])
		}
	}
	rows, err := ex.DocumentFeatures(ctx, query, texts, nil, []string{"a", "a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FeatDocBM25, FeatDocCover, FeatDocWindow, FeatDocRank, FeatDocPRF, FeatDocChunks} {
		if rows[0][col[f]] != rows[1][col[f]] {
			t.Errorf("%s differs between two chunks of one document: %v, %v", f, rows[0][col[f]], rows[1][col[f]])
		}
	}
	if got, want := rows[0][col[FeatDocBM25]], math.Max(own[0][col[FeatBM25]], own[1][col[FeatBM25]]); got != want {
		t.Errorf("doc_bm25 %v, want the best chunk's %v", got, want)
	}
	if got := rows[0][col[FeatDocCover]]; !(got > own[0][col[FeatIDFCover]] && got > own[1][col[FeatIDFCover]]) || math.Abs(got-1) > 1e-12 {
		t.Errorf("doc_cover %v: the two chunks hold every query term together (alone %v and %v)", got, own[0][col[FeatIDFCover]], own[1][col[FeatIDFCover]])
	}
	if got := rows[0][col[FeatDocChunks]]; got != math.Log(2) {
		t.Errorf("doc_chunks %v, want ln 2", got)
	}
	if rows[0][col[FeatDocRank]] != own[0][col[FeatRankPrior]] {
		t.Errorf("doc_rank %v, want the first chunk's rank prior %v", rows[0][col[FeatDocRank]], own[0][col[FeatRankPrior]])
	}
	for _, f := range []string{FeatBM25, FeatWindow, FeatDocBM25} {
		if rows[2][col[f]] != own[2][col[f]] {
			t.Errorf("doc b, alone in its document: %s %v, want %v", f, rows[2][col[f]], own[2][col[f]])
		}
	}
	if _, err := ex.DocumentFeatures(ctx, query, texts, nil, []string{"a"}); err == nil {
		t.Error("one document id for three texts: no error")
	}
}

func TestLiveGivesTheDocumentsToAModelThatReadsThem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, err := Fit(ctx, NewExtractor(), synthetic(40, 5), FitOptions{Epochs: 20, Trees: -1})
	if err != nil {
		t.Fatal(err)
	}
	// A model of the document features alone: through ScoreDocuments the
	// two chunks of one document score the same.
	m.Weights = make([]float64, len(m.Features))
	for i, f := range m.Features {
		if f == FeatDocBM25 {
			m.Weights[i] = 1
		}
	}
	learned, err := NewLearned(m)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"the engine drives the rotor", "maintenance every season", "a pump"}
	docs := []string{"a", "a", "b"}
	for _, tc := range []struct {
		name     string
		r        Reranker
		together bool // the chunks of document a score alike
	}{
		{"learned", learned, true},
		{"lexical", NewLexical(), false},
	} {
		live := NewLive(tc.r)
		got, err := live.ScoreDocuments(ctx, "engine rotor", texts, nil, docs)
		if err != nil {
			t.Fatal(err)
		}
		if (got[0] == got[1]) != tc.together {
			t.Errorf("%s through Live: scores %v, want the chunks of one document alike: %v", tc.name, got, tc.together)
		}
		plain, err := tc.r.Score(ctx, "engine rotor", texts)
		if err != nil {
			t.Fatal(err)
		}
		if !tc.together && !slices.Equal(plain, got) {
			t.Errorf("%s through Live: %v, its own Score %v", tc.name, got, plain)
		}
	}
}
