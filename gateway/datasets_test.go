package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/datasets"
	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

// datasetHandler is the gateway of a real, empty SQLite warehouse with a
// dataset builder on it.
func datasetHandler(t testing.TB) http.Handler {
	t.Helper()
	store, err := warehouse.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := datasets.Config{Docs: store, Records: store, Log: zerolog.Nop()}
	if js, ok := any(store).(datasets.Judgments); ok {
		cfg.Judgments = js
	}
	b, err := datasets.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httpserver.New(nil, zerolog.Nop())
	New(Config{Log: zerolog.Nop(), Store: store, Datasets: b, Auth: AuthConfig{AllowOpen: true}}).Register(hs)
	return hs.Handler()
}

func TestDatasetRequestsAreCheckedBeforeBuilding(t *testing.T) {
	t.Parallel()
	h := datasetHandler(t)
	out := filepath.Join(t.TempDir(), "ds")
	// A relevance build needs the warehouse's judgment store: without one
	// it is unavailable, with one it has no judgments to build from.
	relevance, relevanceSays := 503, "judgment"
	if _, ok := any((*warehouse.SQLiteStore)(nil)).(datasets.Judgments); ok {
		relevance, relevanceSays = 422, "no example"
	}
	cases := []struct {
		name, method, path, body string
		want                     int
		says                     string
	}{
		{"relative out", "POST", "/v1/datasets", `{"kind":"instruct","out":"ds"}`, 400, "absolute"},
		{"no out", "POST", "/v1/datasets", `{"kind":"instruct"}`, 400, "absolute"},
		{"unknown kind", "POST", "/v1/datasets", `{"kind":"poems","out":"` + out + `"}`, 400, "poems"},
		{"unknown field", "POST", "/v1/datasets", `{"kind":"instruct","out":"` + out + `","colour":1}`, 400, "colour"},
		{"bad share", "POST", "/v1/datasets", `{"kind":"instruct","out":"` + out + `","test_share":1.5}`, 400, "share"},
		{"nothing to build", "POST", "/v1/datasets", `{"kind":"instruct","out":"` + out + `"}`, 422, "no example"},
		{"relevance without judgments", "POST", "/v1/datasets", `{"kind":"relevance","out":"` + out + `"}`, relevance, relevanceSays},
		{"bad limit", "GET", "/v1/datasets?limit=0", "", 400, "limit"},
		{"list", "GET", "/v1/datasets?kind=instruct", "", 200, `"datasets": []`},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, strings.NewReader(c.body)))
		if rec.Code != c.want || !strings.Contains(rec.Body.String(), c.says) {
			t.Errorf("%s: %s %s = %d %s, want %d saying %q", c.name, c.method, c.path, rec.Code, rec.Body, c.want, c.says)
		}
	}
}

// FuzzDatasetBody sends arbitrary bodies to POST /v1/datasets on an empty
// warehouse: the answer is a 4xx or a 503 with a JSON error, never a
// build, a 500 or a panic.
func FuzzDatasetBody(f *testing.F) {
	h := datasetHandler(f)
	for _, seed := range []string{
		`{"kind":"instruct","out":"/nonexistent/ds"}`, `{"kind":"preference","out":"/tmp","seed":-1}`,
		`{"kind":"relevance","out":"/x","test_share":0.5}`, `{"kind":"instruct","out":"/x","format":"chat"}`,
		`{}`, `null`, `[]`, "\xff", `{"kind":1}`, `{"out":"` + strings.Repeat("/a", 500) + `"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/datasets", strings.NewReader(body)))
		if rec.Code < 400 || (rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable) {
			t.Fatalf("POST %q = %d %s", body, rec.Code, rec.Body)
		}
		var e map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error"] == nil {
			t.Fatalf("POST %q answered %s, want a JSON error", body, rec.Body)
		}
	})
}
