package warehouse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openSQLiteForTest(t *testing.T) *SQLiteStore {
	t.Helper()
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "warehouse.db"))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestSQLiteStore(t *testing.T) {
	t.Parallel()
	runStoreSuite(t, func(t *testing.T) Store { return openSQLiteForTest(t) }, suiteOptions{concurrent: true})
}

func TestSQLiteReopenResumesRevisions(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "warehouse.db")
	s, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	res := mustUpsert(t, s,
		article("https://example.com/1", "Ada", "1"),
		article("https://example.com/2", "Bob", "2"),
	)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	var version int
	if err := s.read.QueryRowContext(t.Context(), "PRAGMA user_version").Scan(&version); err != nil || version != len(sqliteMigrations()) {
		t.Fatalf("user_version = %d, %v; want %d", version, err, len(sqliteMigrations()))
	}
	if got := lastRevision(t, s); got != res[1].Revision {
		t.Fatalf("LastRevision after reopen = %d, want %d", got, res[1].Revision)
	}
	if got := mustGet(t, s, Articles, res[0].ID); got.Content != "1" {
		t.Fatalf("document after reopen = %+v", got)
	}
	next := mustUpsert(t, s, article("https://example.com/3", "Cy", "3"))[0]
	if next.Revision != res[1].Revision+1 {
		t.Fatalf("first revision after reopen = %d, want %d", next.Revision, res[1].Revision+1)
	}
	authors, err := s.Authors(t.Context())
	if err != nil || len(authors) != 3 || authors[2].Revision != 3 {
		t.Fatalf("Authors after reopen = %+v, %v; want 3, the last at revision 3", authors, err)
	}
}

func TestSQLiteRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "warehouse.db")
	s, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(t.Context(), "PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := OpenSQLite(t.Context(), path); err == nil {
		s.Close()
		t.Fatal("OpenSQLite accepted a schema from a newer build")
	}
}

func TestSQLiteRefusesURIPaths(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		if s, err := OpenSQLite(t.Context(), p); err == nil {
			s.Close()
			t.Errorf("OpenSQLite(%q) succeeded, want an error", p)
		}
	}
}

// TestSQLiteChangesNeverSkipARevision is the promise the CDC revision tail
// relies on: with writers committing concurrently, a reader paging through
// Changes sees every revision, in order, without gaps, because revisions
// commit in the order they are allocated. (The writers only insert, so
// that every revision stays visible.)
func TestSQLiteChangesNeverSkipARevision(t *testing.T) {
	t.Parallel()
	s := openSQLiteForTest(t)
	const writers, bulks, perBulk = 4, 25, 3
	const total = writers * bulks * perBulk
	wake, cancel := s.Subscribe()
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for b := range bulks {
				var docs []Document
				for k := range perBulk {
					docs = append(docs, doc(Collections()[(b+k)%3], fmt.Sprintf("https://example.com/%d/%d/%d", w, b, k), "Ada", "x"))
				}
				if _, err := s.Upsert(t.Context(), docs); err != nil {
					errs <- err
					return
				}
			}
		})
	}

	var after int64
	for after < total {
		page, err := s.Changes(t.Context(), after, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			if d.Revision != after+1 {
				t.Fatalf("after revision %d the reader saw %d: a revision was skipped", after, d.Revision)
			}
			after = d.Revision
		}
		if len(page) == 0 {
			select {
			case <-wake:
			case err := <-errs:
				t.Fatal(err)
			case <-t.Context().Done():
				t.Fatalf("stuck at revision %d of %d", after, total)
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestSQLiteListQueriesUseIndexes checks that the compound SELECT behind
// Changes and the lists is a merge of index scans, with no sort of its own
// (a sort would read every matching row before returning the first).
func TestSQLiteListQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	s := openSQLiteForTest(t)
	tests := []struct {
		name, where string
		args        []any
		desc        bool
	}{
		{"changes", "revision > ?", []any{int64(0)}, false},
		{"list", "deleted = 0", nil, true},
		{"by author", "author_id = ? AND deleted = 0", []any{"a"}, false},
	}
	for _, page := range []struct {
		name, where string
		args        []any
		opts        ListOptions
	}{
		{"list page", "1", nil, ListOptions{Descending: true, After: 5}},
		{"author page", "author_id = ?", []any{"a"}, ListOptions{Descending: true, After: 5}},
	} {
		where, args := listWhere(page.where, page.args, page.opts)
		tests = append(tests, struct {
			name, where string
			args        []any
			desc        bool
		}{page.name, where, args, page.opts.Descending})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []any
			for range Collections() {
				args = append(args, tt.args...)
			}
			args = append(args, 10)
			plan := explain(t.Context(), t, s, docsQuery(Collections(), tt.where, tt.desc), args)
			if strings.Contains(plan, "TEMP B-TREE") || !strings.Contains(plan, "MERGE") {
				t.Fatalf("query plan sorts instead of merging index scans:\n%s", plan)
			}
		})
	}
}

func TestSQLiteCountReadsTheLiveIndexNotTheRows(t *testing.T) {
	t.Parallel()
	s := openSQLiteForTest(t)
	for _, author := range []string{"", "a"} {
		where, args := countWhere(author, false)
		plan := explain(t.Context(), t, s, "SELECT COUNT(*) FROM posts WHERE "+where, args)
		if !strings.Contains(plan, "COVERING INDEX posts_live") {
			t.Errorf("Count of author %q reads the rows:\n%s", author, plan)
		}
	}
}

func explain(ctx context.Context, t *testing.T, s *SQLiteStore, q string, args []any) string {
	t.Helper()
	rows, err := s.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d %d %s\n", id, parent, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestSQLiteStoresDocumentsAsJSONText checks the layout other tools rely
// on: each row holds the whole document as JSON text, which SQLite's JSON
// functions read, beside the indexed columns.
func TestSQLiteStoresDocumentsAsJSONText(t *testing.T) {
	t.Parallel()
	s := openSQLiteForTest(t)
	r := mustUpsert(t, s, article("https://example.com/j", "Ada", "<b>bold</b> & more"))[0]
	var (
		typ, title, content, hash string
		rev                       int64
	)
	err := s.read.QueryRowContext(t.Context(),
		`SELECT typeof(doc), json_extract(doc, '$.title'), json_extract(doc, '$.content'), revision, content_hash FROM articles WHERE id = ?`,
		r.ID).Scan(&typ, &title, &content, &rev, &hash)
	if err != nil {
		t.Fatal(err)
	}
	if typ != "text" || title != "Title of https://example.com/j" || content != "<b>bold</b> & more" || rev != r.Revision || len(hash) != 64 {
		t.Fatalf("row = %s %q %q %d %q", typ, title, content, rev, hash)
	}
	var pageSize int
	if err := s.read.QueryRowContext(t.Context(), "PRAGMA page_size").Scan(&pageSize); err != nil || pageSize != 16384 {
		t.Fatalf("page_size = %d, %v; want 16384", pageSize, err)
	}
}

// TestSQLiteCheckpointsInTheBackground writes far less than the writer's
// automatic checkpoint waits for, and checks that the WAL still reaches
// the database file: the background checkpointer copied it, so no commit
// has to.
func TestSQLiteCheckpointsInTheBackground(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "warehouse.db")
	s, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	for i := range 20 {
		mustUpsert(t, s, article(fmt.Sprintf("https://example.com/%d", i), "Ada", strings.Repeat("words ", 700)))
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * checkpointEvery)
	for size() <= before {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("the database file is still %d bytes %v after 20 writes: nothing checkpointed the WAL", size(), 20*checkpointEvery)
		}
	}
}

// TestSQLiteOpenedAtOnceByManyMigratesOnce: the processes of a machine
// open one new warehouse at the same time; every one must come up, with
// each migration applied once (twin run processes failed with "table ...
// already exists" when they all read the version first and then migrated).
func TestSQLiteOpenedAtOnceByManyMigratesOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "warehouse.db")
	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			s, err := OpenSQLite(t.Context(), path)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("open at once with %d others: %v", n-1, err)
		}
	}
	s, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v int
	if err := s.write.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != len(sqliteMigrations()) {
		t.Errorf("schema version %d (%v), want %d", v, err, len(sqliteMigrations()))
	}
}

// TestSQLiteUpgradeKeepsAuthorsSpelling opens a warehouse written when
// author names were stored lowercased (before migration 8): the migration
// gives each the spelling of its documents, and keeps its id.
func TestSQLiteUpgradeKeepsAuthorsSpelling(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "warehouse.db")
	s, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	mustUpsert(t, s,
		doc(Posts, "https://example.com/1", "Simon Willison", "1"),
		doc(Articles, "https://example.com/2", "ada lovelace", "2"),
	)
	// Back to what a store before migration 8 holds.
	for _, q := range []string{
		`UPDATE users SET name = lower(name), doc = json_set(doc, '$.name', lower(name))`,
		`PRAGMA user_version = 7`,
	} {
		if _, err := s.write.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("build a version 7 warehouse: %v", err)
		}
	}
	if a, err := s.FindAuthor(t.Context(), "Simon Willison"); err != nil || a.Name != "simon willison" {
		t.Fatalf("before the upgrade: %+v, %v; want the lowercase name", a, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("open a version 7 warehouse: %v", err)
	}
	defer s.Close()
	authors, err := s.Authors(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range authors {
		got[a.ID] = a.Name
	}
	want := map[string]string{AuthorID("simon willison"): "Simon Willison", AuthorID("ada lovelace"): "ada lovelace"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("authors after the upgrade = %v, want %v (ids unchanged, the documents' spelling)", got, want)
	}
}
