package warehouse

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/twin-llm/twin/schemas"
)

// modelCases are the promises of ModelStore, run by runStoreSuite on every
// backend.
func modelCases() []storeCase {
	return []storeCase{
		{"ModelVersionsAreNumberedPerName", testModelVersions},
		{"AddingAJobAgainReturnsItsVersion", testModelJobOnce},
		{"UpdateModelsReplacesAndRefusesUnknownVersions", testUpdateModels},
		{"ConcurrentAddsGetDistinctVersions", testConcurrentModelAdds},
		{"InvalidModelNameIsErrInvalid", testModelInvalid},
	}
}

func modelStore(t *testing.T, s Store) ModelStore {
	t.Helper()
	ms, ok := s.(ModelStore)
	if !ok {
		t.Fatalf("%T does not implement ModelStore", s)
	}
	return ms
}

func addModel(t *testing.T, s ModelStore, name, job string) ModelRecord {
	t.Helper()
	m, err := s.AddModel(t.Context(), ModelRecord{ModelRegistered: schemas.ModelRegistered{Name: name, JobID: job,
		Kind: schemas.TrainingRerank, Metrics: map[string]float64{"ndcg@10": 0.7}, ArtifactURI: "file:///m/" + job}})
	if err != nil {
		t.Fatalf("AddModel(%s, %s): %v", name, job, err)
	}
	return m
}

func versions(ms []ModelRecord) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name+"/"+m.Version)
	}
	return out
}

func testModelVersions(t *testing.T, st Store) {
	s := modelStore(t, st)
	for i, want := range []string{"1", "2", "3"} {
		m := addModel(t, s, "reranker", "job-"+want)
		if m.Version != want || m.State != schemas.ModelCandidate || m.RegisteredAt.IsZero() {
			t.Fatalf("add %d: version %q state %q registered %v, want %s, candidate, a time", i, m.Version, m.State, m.RegisteredAt, want)
		}
	}
	addModel(t, s, "llm", "job-a")
	all, err := s.ListModels(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := versions(all), []string{"llm/1", "reranker/3", "reranker/2", "reranker/1"}; !slices.Equal(got, want) {
		t.Fatalf("ListModels(\"\") = %v, want %v", got, want)
	}
	one, err := s.ListModels(t.Context(), "reranker")
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != 3 || one[0].Metrics["ndcg@10"] != 0.7 || one[0].ArtifactURI != "file:///m/job-3" {
		t.Fatalf("ListModels(reranker) = %+v, want three, newest first, with metrics and artifact", one)
	}
}

func testModelJobOnce(t *testing.T, st Store) {
	s := modelStore(t, st)
	first := addModel(t, s, "reranker", "job-1")
	again := addModel(t, s, "reranker", "job-1")
	if again.Version != first.Version {
		t.Fatalf("the same job added twice got versions %s and %s", first.Version, again.Version)
	}
	if all, _ := s.ListModels(t.Context(), "reranker"); len(all) != 1 {
		t.Fatalf("the same job added twice left %d versions", len(all))
	}
}

func testUpdateModels(t *testing.T, st Store) {
	s := modelStore(t, st)
	a, b := addModel(t, s, "reranker", "a"), addModel(t, s, "reranker", "b")
	a.State, b.State = schemas.ModelRetired, schemas.ModelServing
	b.PromotedAt = b.RegisteredAt
	if err := s.UpdateModels(t.Context(), []ModelRecord{a, b}); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListModels(t.Context(), "reranker")
	if err != nil {
		t.Fatal(err)
	}
	if all[0].State != schemas.ModelServing || all[1].State != schemas.ModelRetired || !all[0].PromotedAt.Equal(b.PromotedAt) {
		t.Fatalf("after the update: %+v", all)
	}
	ghost := b
	ghost.Version = "99"
	if err := s.UpdateModels(t.Context(), []ModelRecord{ghost}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("updating a version never added: %v, want ErrNotFound", err)
	}
}

func testConcurrentModelAdds(t *testing.T, st Store) {
	s := modelStore(t, st)
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() {
			m, err := s.AddModel(t.Context(), ModelRecord{ModelRegistered: schemas.ModelRegistered{Name: "reranker", JobID: string(rune('a' + i))}})
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = m.Version
		})
	}
	wg.Wait()
	slices.Sort(got)
	if len(slices.Compact(got)) != 8 {
		t.Fatalf("eight concurrent adds got versions %v", got)
	}
}

func testModelInvalid(t *testing.T, st Store) {
	s := modelStore(t, st)
	for _, name := range []string{"", "a.b", "two words"} {
		if _, err := s.AddModel(t.Context(), ModelRecord{ModelRegistered: schemas.ModelRegistered{Name: name}}); !errors.Is(err, ErrInvalid) {
			t.Errorf("AddModel with name %q: %v, want ErrInvalid", name, err)
		}
	}
}
