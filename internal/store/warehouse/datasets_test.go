package warehouse

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestDatasetStore runs the promises of DatasetStore on both backends.
func TestDatasetStore(t *testing.T) {
	t.Parallel()
	backends := []struct {
		name string
		open func(t *testing.T) Store
	}{
		{"sqlite", func(t *testing.T) Store { return openSQLiteForTest(t) }},
		{"mongo", mongoOpener(startFerretDB(t), false)},
	}
	cases := []struct {
		name string
		run  func(t *testing.T, s DatasetStore)
	}{
		{"PutThenGetReturnsTheRecord", testDatasetRoundTrip},
		{"PutAgainReplaces", testDatasetReplace},
		{"ListIsNewestFirstAndFiltersByKind", testDatasetList},
		{"MissingIsErrNotFound", testDatasetMissing},
		{"RecordWithoutIDOrKindIsErrInvalid", testDatasetInvalid},
	}
	for _, b := range backends {
		for _, c := range cases {
			t.Run(b.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				ds, ok := b.open(t).(DatasetStore)
				if !ok {
					t.Fatalf("%s store does not implement DatasetStore", b.name)
				}
				c.run(t, ds)
			})
		}
	}
}

func datasetRec(id, kind string, at time.Time) DatasetRecord {
	return DatasetRecord{
		ID: id, Kind: kind, Author: "Ada", Format: "alpaca", Seed: 7, TestShare: 0.1,
		Candidates: 12, Kept: 10, Dropped: map[string]int{"near_duplicate": 1, "too_short": 1},
		Methods: map[string]int{"heading": 10}, Train: 9, Test: 1, URI: "/tmp/ds",
		DocumentIDs: []string{"a", "b"}, Model: "m", PromptVersion: "instruct/v1",
		FeedbackIDs: []string{"r1#0/-1"}, JudgmentIDs: []string{"j1"}, JudgmentSeqFirst: 1, JudgmentSeqLast: 4,
		CreatedAt: at,
	}
}

func testDatasetRoundTrip(t *testing.T, s DatasetStore) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
	want := datasetRec("d1", "instruct", at)
	if err := s.PutDataset(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetDataset(t.Context(), "d1")
	if err != nil {
		t.Fatal(err)
	}
	want.CreatedAt = at.Truncate(time.Millisecond)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetDataset = %+v\nwant %+v", got, want)
	}
}

func testDatasetReplace(t *testing.T, s DatasetStore) {
	at := time.Now().UTC()
	rec := datasetRec("d1", "instruct", at)
	if err := s.PutDataset(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	rec.Kept, rec.Train = 3, 3
	if err := s.PutDataset(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListDatasets(t.Context(), DatasetListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Kept != 3 {
		t.Errorf("after writing d1 twice: %+v, want one record with kept 3", all)
	}
}

func testDatasetList(t *testing.T, s DatasetStore) {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i, r := range []DatasetRecord{
		datasetRec("old", "instruct", base),
		datasetRec("mid", "relevance", base.Add(time.Hour)),
		datasetRec("new", "instruct", base.Add(2*time.Hour)),
	} {
		if err := s.PutDataset(t.Context(), r); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	ids := func(opts DatasetListOptions) []string {
		t.Helper()
		recs, err := s.ListDatasets(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, r := range recs {
			out = append(out, r.ID)
		}
		return out
	}
	for _, c := range []struct {
		opts DatasetListOptions
		want []string
	}{
		{DatasetListOptions{}, []string{"new", "mid", "old"}},
		{DatasetListOptions{Kind: "instruct"}, []string{"new", "old"}},
		{DatasetListOptions{Limit: 1}, []string{"new"}},
		{DatasetListOptions{Kind: "preference"}, []string{}},
	} {
		if got := ids(c.opts); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ListDatasets(%+v) = %v, want %v", c.opts, got, c.want)
		}
	}
}

func testDatasetMissing(t *testing.T, s DatasetStore) {
	if _, err := s.GetDataset(t.Context(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetDataset(missing) = %v, want ErrNotFound", err)
	}
}

func testDatasetInvalid(t *testing.T, s DatasetStore) {
	for _, r := range []DatasetRecord{{Kind: "instruct"}, {ID: "x"}} {
		if err := s.PutDataset(t.Context(), r); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutDataset(%+v) = %v, want ErrInvalid", r, err)
		}
	}
}
