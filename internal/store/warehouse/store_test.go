package warehouse

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// suiteOptions say which promises a backend keeps beyond the common ones.
type suiteOptions struct {
	// concurrent: concurrent writers always get unique revisions (SQLite,
	// real MongoDB; not FerretDB, whose $inc is not atomic).
	concurrent bool
}

// storeCase is one promise of the Store interface.
type storeCase struct {
	name string
	run  func(t *testing.T, s Store)
}

// runStoreSuite runs every promise of Store against fresh stores made by
// open, which also arranges for the store to be closed.
func runStoreSuite(t *testing.T, open func(t *testing.T) Store, opts suiteOptions) {
	cases := []storeCase{
		{"UpsertThenGetReturnsTheDocument", testUpsertThenGet},
		{"UnchangedContentGetsNoRevision", testUnchangedIsNoOp},
		{"ChangedContentGetsNewRevision", testChangedGetsRevision},
		{"RevisionsIncreaseAcrossBulk", testRevisionsIncreaseAcrossBulk},
		{"SameDocumentTwiceInBulkLastWins", testDuplicateInBulk},
		{"SameURLKeepsOneDocument", testSameURLSameDocument},
		{"DeleteLeavesTombstoneWithNewRevision", testDeleteTombstone},
		{"DeleteAbsentIsNoOp", testDeleteAbsent},
		{"UpsertRevivesTombstone", testRevive},
		{"ChangesAscendSpanCollectionsAndIncludeTombstones", testChanges},
		{"ChangesPagesWithLimit", testChangesPaging},
		{"ListByAuthorFilters", testListByAuthor},
		{"ListFilters", testList},
		{"ListPagesWithACursorAndCounts", testListPaging},
		{"AuthorsAreNormalized", testAuthors},
		{"MissingIsErrNotFound", testNotFound},
		{"InvalidInputIsErrInvalid", testInvalid},
		{"SubscribeFiresAfterWrite", testSubscribe},
		{"DocumentRevisionsAreTheCurrentOnes", testDocumentRevisions},
		{"AdvanceRevisionMovesNextWritesPastIt", testAdvanceRevision},
		{"OlderSourceSeqNeverReplacesNewer", testOlderSourceSeq},
	}
	cases = append(cases, traceCases()...)
	cases = append(cases, modelCases()...)
	cases = append(cases, judgmentCases()...)
	if opts.concurrent {
		cases = append(cases, storeCase{"ConcurrentUpsertsGetUniqueRevisions", testConcurrentUpserts})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, open(t))
		})
	}
}

// article is a small test document.
func article(link, author, content string) Document {
	return Document{
		Collection: Articles, Link: link, Author: author, Platform: "blog",
		Title: "Title of " + link, Content: content, Language: "en",
	}
}

func doc(collection, link, author, content string) Document {
	d := article(link, author, content)
	d.Collection = collection
	return d
}

// mustUpsert upserts and checks that every result has a revision.
func mustUpsert(t *testing.T, s Store, docs ...Document) []Result {
	t.Helper()
	res, err := s.Upsert(t.Context(), docs)
	if err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	if len(res) != len(docs) {
		t.Fatalf("Upsert returned %d results for %d documents", len(res), len(docs))
	}
	for i, r := range res {
		if r.Revision <= 0 || r.ID == "" {
			t.Fatalf("Upsert result %d = %+v, want an id and a revision", i, r)
		}
	}
	return res
}

func mustGet(t *testing.T, s Store, collection, id string) Document {
	t.Helper()
	d, err := s.Get(t.Context(), collection, id)
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", collection, id, err)
	}
	return d
}

func lastRevision(t *testing.T, s Store) int64 {
	t.Helper()
	rev, err := s.LastRevision(t.Context())
	if err != nil {
		t.Fatalf("LastRevision: %v", err)
	}
	return rev
}

// revisions lists the revisions of docs.
func revisions(docs []Document) []int64 {
	revs := make([]int64, len(docs))
	for i, d := range docs {
		revs[i] = d.Revision
	}
	return revs
}

func ids(docs []Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

func strictlyIncreasing(revs []int64) bool {
	for i := 1; i < len(revs); i++ {
		if revs[i] <= revs[i-1] {
			return false
		}
	}
	return true
}

func testUpsertThenGet(t *testing.T, s Store) {
	published := time.Date(2024, 3, 1, 10, 30, 15, 123456789, time.FixedZone("CET", 3600))
	in := Document{
		Collection: Posts, Author: "Ada Lovelace", Platform: "substack", Link: "https://ada.example/p/engines",
		Title: "On engines", Content: "The Analytical Engine weaves algebraic patterns.", Language: "en",
		PublishedAt: published, Metadata: map[string]string{"site": "Ada's", "tags": "history"},
	}
	before := time.Now().Add(-time.Second)
	res := mustUpsert(t, s, in)
	if !res[0].Changed {
		t.Fatalf("first upsert: Changed = false, want true")
	}
	if want := DocumentID(in.Link); res[0].ID != want {
		t.Fatalf("id = %s, want DocumentID(link) = %s", res[0].ID, want)
	}
	got := mustGet(t, s, Posts, res[0].ID)

	want := in
	want.ID = DocumentID(in.Link)
	want.AuthorID = AuthorID("ada lovelace")
	want.PublishedAt = published.UTC().Truncate(time.Millisecond)
	want.ContentHash = DocumentHash(want)
	want.Revision = res[0].Revision
	if got.UpdatedAt.Before(before) || got.UpdatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("UpdatedAt = %v, want about now", got.UpdatedAt)
	}
	want.UpdatedAt = got.UpdatedAt
	if !got.PublishedAt.Equal(want.PublishedAt) {
		t.Errorf("PublishedAt = %v, want %v", got.PublishedAt, want.PublishedAt)
	}
	got.PublishedAt, want.PublishedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get returned\n%+v\nwant\n%+v", got, want)
	}
	if h := DocumentHash(in); got.ContentHash != h {
		t.Errorf("stored hash %s differs from ContentHash of the input, %s", got.ContentHash, h)
	}
	if len(got.ContentHash) != 64 {
		t.Errorf("ContentHash = %q, want 64 hex digits", got.ContentHash)
	}
}

func testUnchangedIsNoOp(t *testing.T, s Store) {
	d := article("https://example.com/a", "Ada", "same words")
	first := mustUpsert(t, s, d)[0]
	last := lastRevision(t, s)
	again := mustUpsert(t, s, d)[0]
	if again.Changed || again.Revision != first.Revision {
		t.Fatalf("same content again = %+v, want Changed=false and revision %d", again, first.Revision)
	}
	if got := lastRevision(t, s); got != last {
		t.Fatalf("LastRevision after a no-op = %d, want %d", got, last)
	}
	changes, err := s.Changes(t.Context(), first.Revision, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 0 {
		t.Fatalf("Changes after a no-op = %v, want none", revisions(changes))
	}
}

func testChangedGetsRevision(t *testing.T, s Store) {
	d := article("https://example.com/a", "Ada", "first words")
	first := mustUpsert(t, s, d)[0]
	d.Content = "second words"
	second := mustUpsert(t, s, d)[0]
	if !second.Changed || second.Revision <= first.Revision || second.ID != first.ID {
		t.Fatalf("changed content: first %+v, then %+v; want the same id, Changed and a higher revision", first, second)
	}
	got := mustGet(t, s, Articles, first.ID)
	if got.Content != "second words" || got.Revision != second.Revision {
		t.Fatalf("Get = content %q rev %d, want %q rev %d", got.Content, got.Revision, "second words", second.Revision)
	}
	// A metadata change is a content change too.
	d.Metadata = map[string]string{"k": "v"}
	if third := mustUpsert(t, s, d)[0]; !third.Changed || third.Revision <= second.Revision {
		t.Fatalf("changed metadata: %+v, want Changed and a revision above %d", third, second.Revision)
	}
}

func testRevisionsIncreaseAcrossBulk(t *testing.T, s Store) {
	var docs []Document
	for i, c := range []string{Articles, Posts, Repositories, Posts, Articles, Repositories} {
		docs = append(docs, doc(c, fmt.Sprintf("https://example.com/%d", i), "Ada", fmt.Sprint("text ", i)))
	}
	res := mustUpsert(t, s, docs...)
	revs := make([]int64, len(res))
	for i, r := range res {
		if !r.Changed {
			t.Fatalf("new document %d: Changed = false", i)
		}
		revs[i] = r.Revision
	}
	if !strictlyIncreasing(revs) {
		t.Fatalf("revisions of one bulk = %v, want strictly increasing in input order", revs)
	}
	// A second bulk mixing unchanged and changed documents: only the
	// changed ones get revisions, above the first bulk's.
	docs[1].Content = "changed"
	docs[4].Content = "changed"
	res2 := mustUpsert(t, s, docs...)
	for i, r := range res2 {
		switch i {
		case 1, 4:
			if !r.Changed || r.Revision <= revs[len(revs)-1] {
				t.Errorf("changed doc %d: %+v, want Changed above %d", i, r, revs[len(revs)-1])
			}
		default:
			if r.Changed || r.Revision != revs[i] {
				t.Errorf("unchanged doc %d: %+v, want unchanged at %d", i, r, revs[i])
			}
		}
	}
	if res2[1].Revision >= res2[4].Revision {
		t.Errorf("revisions %d then %d, want increasing in input order", res2[1].Revision, res2[4].Revision)
	}
}

func testDuplicateInBulk(t *testing.T, s Store) {
	a := article("https://example.com/dup", "Ada", "older")
	b := article("https://example.com/dup", "Ada", "newer")
	res := mustUpsert(t, s, a, b)
	if res[0] != res[1] || !res[0].Changed {
		t.Fatalf("results = %+v, want one shared Changed result", res)
	}
	if got := mustGet(t, s, Articles, res[0].ID); got.Content != "newer" {
		t.Fatalf("content = %q, want the last one, %q", got.Content, "newer")
	}
	changes, err := s.Changes(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 {
		t.Fatalf("Changes = %v, want one document", ids(changes))
	}
}

func testSameURLSameDocument(t *testing.T, s Store) {
	r1 := mustUpsert(t, s, article("https://example.com/x", "Ada", "v1"))[0]
	r2 := mustUpsert(t, s, article("https://example.com/x", "Ada", "v2"))[0]
	r3 := mustUpsert(t, s, article("https://example.com/y", "Ada", "v1"))[0]
	if r1.ID != r2.ID {
		t.Errorf("the same URL twice gave ids %s and %s", r1.ID, r2.ID)
	}
	if r1.ID == r3.ID {
		t.Errorf("two URLs share id %s", r1.ID)
	}
	docs, err := s.List(t.Context(), ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Errorf("List = %v, want 2 documents", ids(docs))
	}
	// An imported id is kept as it is.
	imported := article("", "Ada", "imported")
	imported.ID = "beir-doc-17"
	if r := mustUpsert(t, s, imported)[0]; r.ID != "beir-doc-17" {
		t.Errorf("imported id became %q", r.ID)
	}
}

// testOlderSourceSeq: a version that came through the stream before the
// stored one (a redelivery after a later message was written) is refused,
// live or deleted; a later one, or one from outside the stream, is not.
func testOlderSourceSeq(t *testing.T, s Store) {
	v := func(content string, seq uint64) Document {
		d := article("https://example.com/ordered", "Ada", content)
		d.SourceSeq = seq
		return d
	}
	second := mustUpsert(t, s, v("version two", 20))[0]
	if r := mustUpsert(t, s, v("version one", 10))[0]; r.Changed || r.Revision != second.Revision {
		t.Fatalf("an older version after a newer one = %+v, want a no-op at revision %d", r, second.Revision)
	}
	if got := mustGet(t, s, Articles, second.ID); got.Content != "version two" {
		t.Fatalf("after the older version: content %q, want %q", got.Content, "version two")
	}
	third := mustUpsert(t, s, v("version three", 30))[0]
	if !third.Changed {
		t.Fatalf("a newer version = %+v, want Changed", third)
	}
	del, err := s.Delete(t.Context(), Articles, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r := mustUpsert(t, s, v("version two", 20))[0]; r.Changed {
		t.Fatalf("an older version after the delete = %+v, want a no-op: it must not revive the document", r)
	}
	if got := mustGet(t, s, Articles, second.ID); !got.Deleted || got.Revision != del.Revision {
		t.Fatalf("after an older version: deleted %v at revision %d, want the tombstone at %d", got.Deleted, got.Revision, del.Revision)
	}
	if r := mustUpsert(t, s, v("written from outside the stream", 0))[0]; !r.Changed {
		t.Fatalf("a version without a stream position = %+v, want Changed", r)
	}
}

func testDeleteTombstone(t *testing.T, s Store) {
	d := article("https://example.com/gone", "Ada", "soon gone")
	up := mustUpsert(t, s, d)[0]
	del, err := s.Delete(t.Context(), Articles, up.ID)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if !del.Changed || del.Revision <= up.Revision || del.ID != up.ID {
		t.Fatalf("Delete = %+v, want Changed with a revision above %d", del, up.Revision)
	}
	got := mustGet(t, s, Articles, up.ID)
	if !got.Deleted || got.Revision != del.Revision || got.Content != "" || got.Title != d.Title || got.Link != d.Link {
		t.Fatalf("tombstone = %+v, want Deleted, revision %d, no content, title and link kept", got, del.Revision)
	}
	again, err := s.Delete(t.Context(), Articles, up.ID)
	if err != nil {
		t.Fatalf("Delete again: %v", err)
	}
	if again.Changed || again.Revision != del.Revision {
		t.Fatalf("Delete again = %+v, want a no-op at revision %d", again, del.Revision)
	}
	if last := lastRevision(t, s); last != del.Revision {
		t.Fatalf("LastRevision = %d, want %d (no revision for the no-op)", last, del.Revision)
	}
}

func testDeleteAbsent(t *testing.T, s Store) {
	r, err := s.Delete(t.Context(), Posts, DocumentID("https://example.com/never"))
	if err != nil {
		t.Fatalf("Delete of an absent document: %v, want no error", err)
	}
	if r.Changed || r.Revision != 0 {
		t.Fatalf("Delete of an absent document = %+v, want a no-op", r)
	}
	if last := lastRevision(t, s); last != 0 {
		t.Fatalf("LastRevision = %d, want 0", last)
	}
}

func testDocumentRevisions(t *testing.T, s Store) {
	res := mustUpsert(t, s,
		article("https://example.com/r1", "Ada", "one"),
		doc(Posts, "https://example.com/r2", "Ada", "two"),
		doc(Repositories, "https://example.com/r3", "Ada", "three"))
	del, err := s.Delete(t.Context(), Posts, res[1].ID)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	absent := DocumentID("https://example.com/never")
	got, err := s.DocumentRevisions(t.Context(), []string{res[0].ID, res[1].ID, res[2].ID, absent})
	if err != nil {
		t.Fatalf("DocumentRevisions: %v", err)
	}
	want := map[string]int64{res[0].ID: res[0].Revision, res[1].ID: del.Revision, res[2].ID: res[2].Revision}
	if !maps.Equal(got, want) {
		t.Fatalf("DocumentRevisions = %v, want %v (tombstone's revision, nothing for an absent id)", got, want)
	}
	if got, err := s.DocumentRevisions(t.Context(), nil); err != nil || len(got) != 0 {
		t.Fatalf("DocumentRevisions(nil) = %v, %v; want empty", got, err)
	}
}

func testAdvanceRevision(t *testing.T, s Store) {
	first := mustUpsert(t, s, article("https://example.com/a1", "Ada", "one"))[0]
	if err := s.AdvanceRevision(t.Context(), first.Revision+100); err != nil {
		t.Fatalf("AdvanceRevision: %v", err)
	}
	if last := lastRevision(t, s); last != first.Revision+100 {
		t.Fatalf("LastRevision after AdvanceRevision = %d, want %d", last, first.Revision+100)
	}
	// Never back.
	if err := s.AdvanceRevision(t.Context(), 1); err != nil {
		t.Fatalf("AdvanceRevision back: %v", err)
	}
	next := mustUpsert(t, s, article("https://example.com/a2", "Ada", "two"))[0]
	if next.Revision <= first.Revision+100 {
		t.Fatalf("revision after AdvanceRevision(%d) = %d, want above it", first.Revision+100, next.Revision)
	}
	if last := lastRevision(t, s); last != next.Revision {
		t.Fatalf("LastRevision = %d, want %d", last, next.Revision)
	}
}

func testRevive(t *testing.T, s Store) {
	d := article("https://example.com/back", "Ada", "I will be back")
	up := mustUpsert(t, s, d)[0]
	del, err := s.Delete(t.Context(), Articles, up.ID)
	if err != nil {
		t.Fatal(err)
	}
	back := mustUpsert(t, s, d)[0]
	if !back.Changed || back.Revision <= del.Revision {
		t.Fatalf("re-upsert after delete = %+v, want Changed above %d", back, del.Revision)
	}
	got := mustGet(t, s, Articles, up.ID)
	if got.Deleted || got.Content != d.Content {
		t.Fatalf("revived = deleted %v content %q, want live with %q", got.Deleted, got.Content, d.Content)
	}
}

func testChanges(t *testing.T, s Store) {
	res := mustUpsert(t, s,
		doc(Articles, "https://example.com/a1", "Ada", "a1"),
		doc(Posts, "https://example.com/p1", "Ada", "p1"),
		doc(Repositories, "https://example.com/r1", "Bob", "r1"),
		doc(Posts, "https://example.com/p2", "Bob", "p2"),
	)
	del, err := s.Delete(t.Context(), Articles, res[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	upd := mustUpsert(t, s, doc(Repositories, "https://example.com/r1", "Bob", "r1 v2"))[0]

	changes, err := s.Changes(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Each document once, at its latest revision: p1, p2, the tombstone of
	// a1, then r1's update.
	want := []int64{res[1].Revision, res[3].Revision, del.Revision, upd.Revision}
	if got := revisions(changes); !reflect.DeepEqual(got, want) {
		t.Fatalf("Changes(0) revisions = %v, want %v", got, want)
	}
	if !changes[2].Deleted || changes[2].Collection != Articles || changes[2].ID != res[0].ID {
		t.Fatalf("Changes[2] = %+v, want the tombstone of the article", changes[2])
	}
	colls := map[string]bool{}
	for _, d := range changes {
		colls[d.Collection] = true
	}
	if len(colls) != 3 {
		t.Fatalf("Changes span collections %v, want all three", colls)
	}
	after, err := s.Changes(t.Context(), del.Revision, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := revisions(after); !reflect.DeepEqual(got, []int64{upd.Revision}) {
		t.Fatalf("Changes(%d) = %v, want [%d]", del.Revision, got, upd.Revision)
	}
}

func testChangesPaging(t *testing.T, s Store) {
	var docs []Document
	for i := range 11 {
		c := Collections()[i%3]
		docs = append(docs, doc(c, fmt.Sprintf("https://example.com/page/%d", i), "Ada", fmt.Sprint(i)))
	}
	mustUpsert(t, s, docs...)
	var (
		all   []int64
		after int64
	)
	for pages := 0; ; pages++ {
		if pages > 11 {
			t.Fatalf("paging did not end; read %v", all)
		}
		page, err := s.Changes(t.Context(), after, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 4 {
			t.Fatalf("Changes(%d, 4) returned %d documents", after, len(page))
		}
		if len(page) == 0 {
			break
		}
		all = append(all, revisions(page)...)
		after = page[len(page)-1].Revision
	}
	if len(all) != 11 || !strictlyIncreasing(all) {
		t.Fatalf("paged revisions = %v, want 11 strictly increasing", all)
	}
}

func testListByAuthor(t *testing.T, s Store) {
	res := mustUpsert(t, s,
		doc(Articles, "https://example.com/ada/1", "Ada", "1"),
		doc(Posts, "https://example.com/ada/2", "ada", "2"),
		doc(Articles, "https://example.com/bob/1", "Bob", "3"),
		doc(Repositories, "https://example.com/ada/3", " ADA ", "4"),
	)
	if _, err := s.Delete(t.Context(), Posts, res[1].ID); err != nil {
		t.Fatal(err)
	}
	ada := AuthorID("Ada")
	tests := []struct {
		name string
		opts ListOptions
		want []string
	}{
		{"live", ListOptions{}, []string{res[0].ID, res[3].ID}},
		{"with tombstones", ListOptions{IncludeDeleted: true}, []string{res[0].ID, res[3].ID, res[1].ID}},
		{"one collection", ListOptions{Collection: Repositories}, []string{res[3].ID}},
		{"limit", ListOptions{Limit: 1}, []string{res[0].ID}},
		{"newest first", ListOptions{Descending: true, IncludeDeleted: true}, []string{res[1].ID, res[3].ID, res[0].ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListByAuthor(t.Context(), ada, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids(got), tt.want) {
				t.Fatalf("ListByAuthor(%+v) = %v, want %v", tt.opts, ids(got), tt.want)
			}
			for _, d := range got {
				if d.AuthorID != ada {
					t.Fatalf("document %s has author %s, want %s", d.ID, d.AuthorID, ada)
				}
			}
		})
	}
	none, err := s.ListByAuthor(t.Context(), AuthorID("nobody"), ListOptions{})
	if err != nil || len(none) != 0 {
		t.Fatalf("ListByAuthor(nobody) = %v, %v; want nothing", ids(none), err)
	}
}

func testList(t *testing.T, s Store) {
	res := mustUpsert(t, s,
		doc(Posts, "https://example.com/l/1", "Ada", "1"),
		doc(Articles, "https://example.com/l/2", "Bob", "2"),
		doc(Posts, "https://example.com/l/3", "", "3"),
	)
	if _, err := s.Delete(t.Context(), Articles, res[1].ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts ListOptions
		want []string
	}{
		{"live", ListOptions{}, []string{res[0].ID, res[2].ID}},
		{"all", ListOptions{IncludeDeleted: true}, []string{res[0].ID, res[2].ID, res[1].ID}},
		{"posts newest first", ListOptions{Collection: Posts, Descending: true}, []string{res[2].ID, res[0].ID}},
		{"limit", ListOptions{Limit: 1, IncludeDeleted: true, Descending: true}, []string{res[1].ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.List(t.Context(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids(got), tt.want) {
				t.Fatalf("List(%+v) = %v, want %v", tt.opts, ids(got), tt.want)
			}
		})
	}
	if got := mustGet(t, s, Posts, res[2].ID); got.AuthorID != "" {
		t.Fatalf("a document without author has author id %q", got.AuthorID)
	}
}

// testListPaging pages through one listing by the last revision of each
// page, both ways, and counts what the listing covers.
func testListPaging(t *testing.T, s Store) {
	var docs []Document
	for i := range 7 {
		author := "Ada"
		if i%3 == 2 {
			author = "Bob"
		}
		docs = append(docs, doc(Collections()[i%3], fmt.Sprintf("https://example.com/page/%d", i), author, strconv.Itoa(i)))
	}
	res := mustUpsert(t, s, docs...)
	if _, err := s.Delete(t.Context(), docs[3].Collection, res[3].ID); err != nil {
		t.Fatal(err)
	}
	ada := AuthorID("Ada")
	tests := []struct {
		name   string
		author string
		opts   ListOptions
		want   []string // every page joined
		count  int64
	}{
		{"newest first", "", ListOptions{Descending: true, Limit: 2}, []string{res[6].ID, res[5].ID, res[4].ID, res[2].ID, res[1].ID, res[0].ID}, 6},
		{"oldest first", "", ListOptions{Limit: 4}, []string{res[0].ID, res[1].ID, res[2].ID, res[4].ID, res[5].ID, res[6].ID}, 6},
		{"with tombstones", "", ListOptions{Descending: true, Limit: 3, IncludeDeleted: true}, []string{res[3].ID, res[6].ID, res[5].ID, res[4].ID, res[2].ID, res[1].ID, res[0].ID}, 7},
		{"one author", ada, ListOptions{Descending: true, Limit: 1}, []string{res[6].ID, res[4].ID, res[1].ID, res[0].ID}, 4},
		{"one collection", "", ListOptions{Collection: Articles, Descending: true, Limit: 1}, []string{res[6].ID, res[0].ID}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			opts := tt.opts
			for pages := 0; ; pages++ {
				if pages > len(docs) {
					t.Fatalf("paging does not end: %v", got)
				}
				var page []Document
				var err error
				if tt.author != "" {
					page, err = s.ListByAuthor(t.Context(), tt.author, opts)
				} else {
					page, err = s.List(t.Context(), opts)
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > opts.Limit {
					t.Fatalf("a page of %d documents with limit %d", len(page), opts.Limit)
				}
				got = append(got, ids(page)...)
				if len(page) < opts.Limit {
					break
				}
				opts.After = page[len(page)-1].Revision
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("pages of %+v = %v, want %v", tt.opts, got, tt.want)
			}
			n, err := s.Count(t.Context(), tt.author, tt.opts)
			if err != nil || n != tt.count {
				t.Fatalf("Count(%+v) = %d, %v; want %d", tt.opts, n, err, tt.count)
			}
		})
	}
}

func testAuthors(t *testing.T, s Store) {
	mustUpsert(t, s,
		doc(Articles, "https://example.com/s/1", "  Simon   Willison ", "1"),
		doc(Posts, "https://example.com/s/2", "simon willison", "2"),
		doc(Posts, "https://example.com/s/3", "Ada Lovelace", "3"),
		doc(Posts, "https://example.com/s/4", "", "4"),
	)
	mustUpsert(t, s, doc(Posts, "https://example.com/s/5", "SIMON WILLISON", "5"))
	authors, err := s.Authors(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range authors {
		names = append(names, a.Name)
		if a.ID != AuthorID(a.Name) || a.Revision <= 0 || a.UpdatedAt.IsZero() {
			t.Errorf("author %+v: want id AuthorID(name), a revision and a time", a)
		}
	}
	// The first spelling stays (tidied), whatever case later documents use.
	if want := []string{"Simon Willison", "Ada Lovelace"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("Authors = %q, want %q", names, want)
	}
	a, err := s.FindAuthor(t.Context(), "simon willison")
	if err != nil {
		t.Fatalf("FindAuthor: %v", err)
	}
	if a.ID != AuthorID("  simon   WILLISON") || a.Name != "Simon Willison" {
		t.Fatalf("FindAuthor = %+v", a)
	}
	// A name first seen in lowercase takes the first spelling with
	// capitals, and keeps it; its id does not change.
	for _, tc := range []struct{ spelled, want string }{
		{"grace hopper", "grace hopper"},
		{"Grace  Hopper", "Grace Hopper"},
		{"GRACE HOPPER", "Grace Hopper"},
	} {
		mustUpsert(t, s, doc(Posts, "https://example.com/g/"+tc.spelled, tc.spelled, tc.spelled))
		g, err := s.FindAuthor(t.Context(), "Grace Hopper")
		if err != nil || g.Name != tc.want || g.ID != AuthorID("grace hopper") {
			t.Fatalf("after a document by %q: FindAuthor = %+v, %v; want %q with the id of the lowercase name", tc.spelled, g, err, tc.want)
		}
	}
	docs, err := s.ListByAuthor(t.Context(), a.ID, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 3 {
		t.Fatalf("ListByAuthor(simon) = %v, want 3 documents", ids(docs))
	}
}

func testNotFound(t *testing.T, s Store) {
	mustUpsert(t, s, article("https://example.com/here", "Ada", "here"))
	if _, err := s.Get(t.Context(), Articles, DocumentID("https://example.com/absent")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(absent) error = %v, want ErrNotFound", err)
	}
	// The same id in another collection is another document.
	if _, err := s.Get(t.Context(), Posts, DocumentID("https://example.com/here")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(other collection) error = %v, want ErrNotFound", err)
	}
	if _, err := s.FindAuthor(t.Context(), "Nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindAuthor(absent) error = %v, want ErrNotFound", err)
	}
	if _, err := s.FindAuthor(t.Context(), "   "); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindAuthor(blank) error = %v, want ErrNotFound", err)
	}
}

func testInvalid(t *testing.T, s Store) {
	tests := []struct {
		name string
		call func() error
	}{
		{"upsert unknown collection", func() error {
			_, err := s.Upsert(t.Context(), []Document{doc("comments", "https://example.com/c", "Ada", "c")})
			return err
		}},
		{"upsert without id or link", func() error {
			_, err := s.Upsert(t.Context(), []Document{doc(Posts, "", "Ada", "c")})
			return err
		}},
		{"get unknown collection", func() error { _, err := s.Get(t.Context(), "users", "x"); return err }},
		{"delete unknown collection", func() error { _, err := s.Delete(t.Context(), "", "x"); return err }},
		{"list unknown collection", func() error { _, err := s.List(t.Context(), ListOptions{Collection: "x"}); return err }},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error = %v, want ErrInvalid", tt.name, err)
		}
	}
	// A refused bulk writes nothing.
	_, err := s.Upsert(t.Context(), []Document{article("https://example.com/ok", "Ada", "ok"), doc("x", "https://example.com/no", "", "")})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("mixed bulk error = %v, want ErrInvalid", err)
	}
	if last := lastRevision(t, s); last != 0 {
		t.Fatalf("LastRevision after a refused bulk = %d, want 0", last)
	}
}

// ready reports whether ch has a notification waiting; a notification is
// sent before the write returns, so there is nothing to wait for.
func ready(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func testSubscribe(t *testing.T, s Store) {
	ch, cancel := s.Subscribe()
	other, cancelOther := s.Subscribe()
	defer cancelOther()
	if ready(ch) {
		t.Fatal("notified before any write")
	}
	d := article("https://example.com/sub", "Ada", "v1")
	mustUpsert(t, s, d)
	if !ready(ch) || !ready(other) {
		t.Fatal("no notification after an upsert")
	}
	mustUpsert(t, s, d)
	if ready(ch) {
		t.Fatal("notified after a no-op upsert")
	}
	// Many writes while nobody reads coalesce into one notification.
	for i := range 3 {
		mustUpsert(t, s, article("https://example.com/sub", "Ada", fmt.Sprint("v", i+2)))
	}
	if !ready(ch) || ready(ch) {
		t.Fatal("three writes: want exactly one pending notification")
	}
	if _, err := s.Delete(t.Context(), Articles, DocumentID(d.Link)); err != nil {
		t.Fatal(err)
	}
	if !ready(ch) {
		t.Fatal("no notification after a delete")
	}
	cancel()
	cancel() // idempotent
	ready(other)
	mustUpsert(t, s, d)
	if ready(ch) {
		t.Fatal("notified after cancel")
	}
	if !ready(other) {
		t.Fatal("cancelling one subscription silenced another")
	}
}

func testConcurrentUpserts(t *testing.T, s Store) {
	const writers, rounds, perBulk = 6, 8, 4
	var (
		mu   sync.Mutex // guards seen
		seen = map[int64]string{}
		wg   sync.WaitGroup
		errs = make(chan error, writers)
	)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				var docs []Document
				for k := range perBulk {
					docs = append(docs, doc(Collections()[k%3], fmt.Sprintf("https://example.com/w%d/r%d/%d", w, r, k), "Ada", "x"))
				}
				res, err := s.Upsert(t.Context(), docs)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, x := range res {
					if prev, dup := seen[x.Revision]; dup {
						mu.Unlock()
						errs <- fmt.Errorf("revision %d given to %s and %s", x.Revision, prev, x.ID)
						return
					}
					seen[x.Revision] = x.ID
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seen) != writers*rounds*perBulk {
		t.Fatalf("%d unique revisions, want %d", len(seen), writers*rounds*perBulk)
	}
	changes, err := s.Changes(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != len(seen) || !strictlyIncreasing(revisions(changes)) {
		t.Fatalf("Changes returned %d documents (ascending: %v), want %d ascending", len(changes), strictlyIncreasing(revisions(changes)), len(seen))
	}
}

// Pure functions.

func TestDocumentIDIsStable(t *testing.T) {
	t.Parallel()
	a := DocumentID("https://example.com/a")
	if a != DocumentID("https://example.com/a") {
		t.Fatal("DocumentID of one URL differs between calls")
	}
	if a == DocumentID("https://example.com/b") {
		t.Fatal("DocumentID of two URLs is the same")
	}
	// UUIDv5 in the URL namespace, as any other implementation computes
	// it (Python: uuid.uuid5(uuid.NAMESPACE_URL, "https://example.com/")).
	if got, want := DocumentID("https://example.com/"), "dd2c1780-811a-5296-81c5-178a0ef488bc"; got != want {
		t.Fatalf("DocumentID = %q, want %q", got, want)
	}
	if AuthorID("") != "" || AuthorID("   ") != "" {
		t.Fatal("AuthorID of a blank name is not empty")
	}
	if AuthorID("  Simon   Willison ") != AuthorID("simon willison") {
		t.Fatal("AuthorID does not normalize the name")
	}
	if AuthorID("https://example.com/a") == a {
		t.Fatal("author and document ids share a namespace")
	}
}

func TestNormalizeAuthor(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"  Simon   Willison ", "simon willison"},
		{"simon willison", "simon willison"},
		{"Simon\tWillison\n", "simon willison"},
		{"", ""},
		{"   ", ""},
		{"José  Valim", "josé valim"},
		{"Jose\u0301 Valim", "josé valim"}, // decomposed accent, NFC
	}
	for _, tt := range tests {
		if got := NormalizeAuthor(tt.in); got != tt.want {
			t.Errorf("NormalizeAuthor(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCollectionForKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind, want string
		ok         bool
	}{
		{"article", Articles, true},
		{"post", Posts, true},
		{"repository", Repositories, true},
		{" Article ", Articles, true},
		{"posts", Posts, true},
		{"users", "", false},
		{"", "", false},
		{"comment", "", false},
	}
	for _, tt := range tests {
		got, err := CollectionForKind(tt.kind)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("CollectionForKind(%q) = %q, %v; want %q, ok %v", tt.kind, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("CollectionForKind(%q) error %v is not ErrInvalid", tt.kind, err)
		}
	}
}

func TestDocumentHashCoversContentFieldsOnly(t *testing.T) {
	t.Parallel()
	base := Document{
		ID: "id", Collection: Posts, AuthorID: "aid", Author: "Ada", Platform: "p", Link: "l", Title: "t",
		Content: "c", Language: "en", PublishedAt: time.Unix(1e9, 0), Metadata: map[string]string{"a": "b"},
	}
	h := DocumentHash(base)
	changes := map[string]func(*Document){
		"collection": func(d *Document) { d.Collection = Articles },
		"title":      func(d *Document) { d.Title = "T" },
		"content":    func(d *Document) { d.Content = "C" },
		"author":     func(d *Document) { d.Author = "Bob" },
		"link":       func(d *Document) { d.Link = "L" },
		"platform":   func(d *Document) { d.Platform = "P" },
		"language":   func(d *Document) { d.Language = "fr" },
		"published":  func(d *Document) { d.PublishedAt = d.PublishedAt.Add(time.Second) },
		"metadata":   func(d *Document) { d.Metadata = map[string]string{"a": "c"} },
		"shift":      func(d *Document) { d.Title, d.Content = "tc", "" },
	}
	for name, change := range changes {
		d := base
		change(&d)
		if DocumentHash(d) == h {
			t.Errorf("changing %s keeps the hash", name)
		}
	}
	same := base
	same.ID, same.AuthorID, same.Revision, same.Deleted, same.UpdatedAt = "other", "x", 9, true, time.Now()
	same.PublishedAt = base.PublishedAt.In(time.FixedZone("X", 7200)).Add(time.Microsecond)
	if DocumentHash(same) != h {
		t.Error("ids, revision, tombstone, update time, time zone or sub-millisecond time change the hash")
	}
}

func TestNotifierClosesChannelsOnClose(t *testing.T) {
	t.Parallel()
	var n notifier
	ch, cancel := n.subscribe()
	n.notify()
	n.notify()
	if !ready(ch) || ready(ch) {
		t.Fatal("two notifications: want exactly one pending")
	}
	n.close()
	if _, ok := <-ch; ok {
		t.Fatal("channel still open after close")
	}
	cancel()
	late, _ := n.subscribe()
	if _, ok := <-late; ok {
		t.Fatal("subscription after close is open")
	}
	n.notify()
	n.close()
}

// testContent is size bytes of word-like text from r.
func testContent(r *rand.Rand, size int) string {
	words := strings.Fields("the warehouse keeps crawled documents articles posts and repositories of one author whose twin learns to write like them with revisions tombstones hashes")
	var b strings.Builder
	b.Grow(size + 16)
	for b.Len() < size {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.String()[:size]
}

// Both stores are a Store.
var (
	_ Store = (*SQLiteStore)(nil)
	_ Store = (*MongoStore)(nil)
)
