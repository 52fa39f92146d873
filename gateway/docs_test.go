package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/store/warehouse/ferrettest"
)

// docsBackends open an empty warehouse of each kind: SQLite, and MongoDB
// through FerretDB.
var docsBackends = []struct {
	name string
	open func(t *testing.T) warehouse.Store
}{
	{"sqlite", func(t *testing.T) warehouse.Store {
		s, err := warehouse.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "warehouse.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"mongodb", func(t *testing.T) warehouse.Store {
		s, err := warehouse.OpenMongo(t.Context(), ferrettest.Start(t), "twin_docs_test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// docsServer serves the gateway of store on loopback.
func docsServer(t *testing.T, store warehouse.Store) string {
	hs := httpserver.New(nil, zerolog.Nop())
	New(Config{Log: zerolog.Nop(), Store: store, Auth: AuthConfig{AllowOpen: true}}).Register(hs)
	srv := httptest.NewServer(hs.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func getDocList(t *testing.T, base string, q url.Values) (int, DocList, string) {
	t.Helper()
	resp, err := http.Get(base + "/v1/docs?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	var list DocList
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, list, string(raw)
}

func TestListDocsPagesWithACursorOnEveryBackend(t *testing.T) {
	t.Parallel()
	for _, b := range docsBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			store := b.open(t)
			var docs []warehouse.Document
			for i := range 7 {
				author := "Ada Lovelace"
				if i%2 == 1 {
					author = "Bob"
				}
				docs = append(docs, warehouse.Document{Collection: warehouse.Posts, Link: fmt.Sprintf("https://example.com/%d", i),
					Author: author, Title: fmt.Sprintf("post %d", i), Content: fmt.Sprintf("content %d", i)})
			}
			res, err := store.Upsert(t.Context(), docs)
			if err != nil {
				t.Fatal(err)
			}
			base := docsServer(t, store)
			tests := []struct {
				name  string
				q     url.Values
				want  []string // ids, pages joined
				pages int
			}{
				{"newest first in pages of 3", url.Values{"limit": {"3"}}, []string{res[6].ID, res[5].ID, res[4].ID, res[3].ID, res[2].ID, res[1].ID, res[0].ID}, 3},
				{"a page that ends the listing exactly", url.Values{"limit": {"7"}}, []string{res[6].ID, res[5].ID, res[4].ID, res[3].ID, res[2].ID, res[1].ID, res[0].ID}, 1},
				{"one author, any spelling", url.Values{"limit": {"2"}, "author": {"ada  LOVELACE"}}, []string{res[6].ID, res[4].ID, res[2].ID, res[0].ID}, 2},
				{"default page", url.Values{}, []string{res[6].ID, res[5].ID, res[4].ID, res[3].ID, res[2].ID, res[1].ID, res[0].ID}, 1},
			}
			for _, tt := range tests {
				var got []string
				q := tt.q
				pages := 0
				for {
					code, list, body := getDocList(t, base, q)
					if code != http.StatusOK {
						t.Fatalf("%s: GET /v1/docs?%s = %d %s", tt.name, q.Encode(), code, body)
					}
					pages++
					if list.Total != int64(len(tt.want)) {
						t.Errorf("%s: total %d, want %d", tt.name, list.Total, len(tt.want))
					}
					for _, d := range list.Documents {
						got = append(got, d.ID)
					}
					if list.Next == "" || pages > len(tt.want) {
						break
					}
					q = url.Values{"after": {list.Next}}
					for k, v := range tt.q {
						if k != "after" {
							q[k] = v
						}
					}
				}
				if strings.Join(got, " ") != strings.Join(tt.want, " ") || pages != tt.pages {
					t.Errorf("%s: %d pages of %v, want %d of %v", tt.name, pages, got, tt.pages, tt.want)
				}
			}
		})
	}
}

func TestListDocsRefusesBadParameters(t *testing.T) {
	t.Parallel()
	base := docsServer(t, docsBackends[0].open(t))
	tests := []struct {
		q    string
		says string
	}{
		{"limit=0", "limit must be a number from 1 to 10000"},
		{"limit=10001", "limit must be a number from 1 to 10000"},
		{"limit=ten", "limit must be a number from 1 to 10000"},
		{"after=12", "after must be the next cursor of an earlier page"},
		{"after=r0", "after must be the next cursor of an earlier page"},
		{"after=rx", "after must be the next cursor of an earlier page"},
		{"collection=poems", "unknown collection"},
	}
	for _, tt := range tests {
		resp, err := http.Get(base + "/v1/docs?" + tt.q)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(e.Error, tt.says) {
			t.Errorf("GET /v1/docs?%s = %d %q, want 400 saying %q", tt.q, resp.StatusCode, e.Error, tt.says)
		}
	}
}

// FuzzListDocsQuery sends arbitrary query strings to GET /v1/docs: the
// answer is a page or a 400, never a 5xx or a panic.
func FuzzListDocsQuery(f *testing.F) {
	for _, seed := range []string{"limit=3", "after=r5", "after=r-1&limit=2", "author=Ada&collection=posts", "after=r9223372036854775807"} {
		f.Add(seed)
	}
	s, err := warehouse.OpenSQLite(f.Context(), filepath.Join(f.TempDir(), "warehouse.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	hs := httpserver.New(nil, zerolog.Nop())
	New(Config{Log: zerolog.Nop(), Store: s, Auth: AuthConfig{AllowOpen: true}}).Register(hs)
	h := hs.Handler()
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/v1/docs", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("GET /v1/docs?%s = %d %s", query, rec.Code, rec.Body)
		}
	})
}
