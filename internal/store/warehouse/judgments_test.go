package warehouse

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// judgmentCases are the promises of JudgmentStore, run by runStoreSuite on
// every backend.
func judgmentCases() []storeCase {
	return []storeCase{
		{"PutJudgmentsThenListReturnsThemInSeqOrder", testPutJudgmentsThenList},
		{"JudgmentWrittenAgainIsANoOp", testJudgmentsIdempotent},
		{"LaterJudgmentOfTheSamePairIsKeptBeside", testJudgmentsSamePair},
		{"ListJudgmentsPagesByAfterAndLimit", testListJudgmentsPaging},
		{"InvalidJudgmentFailsItsWholeBatch", testJudgmentsInvalid},
		{"ConcurrentJudgmentWritersGetUniqueSeqs", testJudgmentsConcurrent},
		{"JudgmentsOfARequestInSeqOrder", testJudgmentsOfRequest},
	}
}

func judgmentStore(t *testing.T, s Store) JudgmentStore {
	t.Helper()
	js, ok := s.(JudgmentStore)
	if !ok {
		t.Fatalf("%T does not implement JudgmentStore", s)
	}
	return js
}

func judgment(id, query, doc string, grade int) JudgmentRecord {
	return JudgmentRecord{ID: id, Query: query, DocumentID: doc, Grade: grade, Source: "import",
		CreatedAt: time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC)}
}

func mustPutJudgments(t *testing.T, s JudgmentStore, js ...JudgmentRecord) int {
	t.Helper()
	added, err := s.PutJudgments(t.Context(), js)
	if err != nil {
		t.Fatalf("PutJudgments: %v", err)
	}
	return added
}

func mustListJudgments(t *testing.T, s JudgmentStore, opts JudgmentListOptions) []JudgmentRecord {
	t.Helper()
	js, err := s.ListJudgments(t.Context(), opts)
	if err != nil {
		t.Fatalf("ListJudgments(%+v): %v", opts, err)
	}
	return js
}

func judgmentIDs(js []JudgmentRecord) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

// checkSeqs fails unless the seqs of js are set and strictly increasing.
func checkSeqs(t *testing.T, js []JudgmentRecord) {
	t.Helper()
	for i, j := range js {
		if j.Seq <= 0 || (i > 0 && j.Seq <= js[i-1].Seq) {
			t.Fatalf("seqs %v: want positive and strictly increasing", seqs(js))
		}
	}
}

func seqs(js []JudgmentRecord) []int64 {
	out := make([]int64, len(js))
	for i, j := range js {
		out[i] = j.Seq
	}
	return out
}

func testPutJudgmentsThenList(t *testing.T, bs Store) {
	s := judgmentStore(t, bs)
	at := time.Date(2025, 5, 4, 3, 2, 1, 987654321, time.FixedZone("CET", 3600))
	user := JudgmentRecord{ID: "u1", Query: "what is a queue?", DocumentID: "doc-1", Grade: 1, Source: "user",
		RequestID: "r1", TraceID: "t1", CreatedAt: at}
	imported := judgment("i1", "what is a queue?", "doc-2", 0)
	if added := mustPutJudgments(t, s, user, imported); added != 2 {
		t.Fatalf("PutJudgments of two new judgments: added = %d, want 2", added)
	}
	before := time.Now().Add(-time.Second)
	undated := judgment("i2", "how do streams work?", "doc-3", 3)
	undated.CreatedAt = time.Time{}
	if added := mustPutJudgments(t, s, undated); added != 1 {
		t.Fatalf("PutJudgments of a third: added = %d, want 1", added)
	}

	got := mustListJudgments(t, s, JudgmentListOptions{})
	checkSeqs(t, got)
	if ids := judgmentIDs(got); !reflect.DeepEqual(ids, []string{"u1", "i1", "i2"}) {
		t.Fatalf("ListJudgments = %v, want [u1 i1 i2] in the order stored", ids)
	}
	if c := got[2].CreatedAt; c.Before(before) || c.After(time.Now().Add(time.Second)) {
		t.Errorf("CreatedAt of a judgment without one = %v, want about now", c)
	}
	want := []JudgmentRecord{user, imported}
	want[0].CreatedAt = at.UTC().Truncate(time.Millisecond)
	for i := range want {
		want[i].Seq = got[i].Seq
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("judgment %d read back as\n%+v\nwant\n%+v", i, got[i], want[i])
		}
	}
}

func testJudgmentsIdempotent(t *testing.T, bs Store) {
	s := judgmentStore(t, bs)
	mustPutJudgments(t, s, judgment("a", "q", "d1", 1), judgment("b", "q", "d2", 0))
	first := mustListJudgments(t, s, JudgmentListOptions{})

	tests := []struct {
		name  string
		batch []JudgmentRecord
		added int
	}{
		{"the same batch again", []JudgmentRecord{judgment("a", "q", "d1", 1), judgment("b", "q", "d2", 0)}, 0},
		{"a stored id with other content", []JudgmentRecord{judgment("a", "q", "d1", 3)}, 0},
		{"one stored, one new", []JudgmentRecord{judgment("b", "q", "d2", 0), judgment("c", "q", "d3", 2)}, 1},
		{"a new id twice in one batch", []JudgmentRecord{judgment("d", "q", "d4", 1), judgment("d", "q", "d4", 2)}, 1},
		{"an empty batch", nil, 0},
	}
	for _, tt := range tests {
		if added := mustPutJudgments(t, s, tt.batch...); added != tt.added {
			t.Errorf("%s: added = %d, want %d", tt.name, added, tt.added)
		}
	}
	got := mustListJudgments(t, s, JudgmentListOptions{})
	if ids := judgmentIDs(got); !reflect.DeepEqual(ids, []string{"a", "b", "c", "d"}) {
		t.Fatalf("ListJudgments = %v, want [a b c d], each once", ids)
	}
	checkSeqs(t, got)
	if !reflect.DeepEqual(got[:2], first) {
		t.Errorf("writing stored judgments again changed them:\n%+v\nwas\n%+v", got[:2], first)
	}
	if got[3].Grade != 1 {
		t.Errorf("an id twice in one batch kept grade %d, want the first copy's 1", got[3].Grade)
	}
}

func testJudgmentsSamePair(t *testing.T, bs Store) {
	s := judgmentStore(t, bs)
	mustPutJudgments(t, s, judgment("first", "q", "d1", 1))
	mustPutJudgments(t, s, judgment("change-of-mind", "q", "d1", 0))
	got := mustListJudgments(t, s, JudgmentListOptions{})
	if len(got) != 2 || got[0].Grade != 1 || got[1].Grade != 0 {
		t.Errorf("two judgments of one query and document = %+v, want both, in order", got)
	}
}

func testListJudgmentsPaging(t *testing.T, bs Store) {
	s := judgmentStore(t, bs)
	for i := range 5 {
		mustPutJudgments(t, s, judgment(fmt.Sprint("j", i), "q", fmt.Sprint("d", i), i%4))
	}
	all := mustListJudgments(t, s, JudgmentListOptions{})
	if len(all) != 5 {
		t.Fatalf("ListJudgments = %v, want 5", judgmentIDs(all))
	}
	tests := []struct {
		name string
		opts JudgmentListOptions
		want []string
	}{
		{"limit", JudgmentListOptions{Limit: 2}, []string{"j0", "j1"}},
		{"after the second", JudgmentListOptions{After: all[1].Seq}, []string{"j2", "j3", "j4"}},
		{"after and limit", JudgmentListOptions{After: all[1].Seq, Limit: 2}, []string{"j2", "j3"}},
		{"after the last", JudgmentListOptions{After: all[4].Seq}, []string{}},
	}
	for _, tt := range tests {
		if ids := judgmentIDs(mustListJudgments(t, s, tt.opts)); !reflect.DeepEqual(ids, tt.want) {
			t.Errorf("%s: ListJudgments = %v, want %v", tt.name, ids, tt.want)
		}
	}
	// Paging by the last seq read reaches every judgment once.
	var paged []string
	for after := int64(0); ; {
		page := mustListJudgments(t, s, JudgmentListOptions{After: after, Limit: 2})
		if len(page) == 0 {
			break
		}
		paged = append(paged, judgmentIDs(page)...)
		after = page[len(page)-1].Seq
	}
	if !reflect.DeepEqual(paged, judgmentIDs(all)) {
		t.Errorf("paging by After = %v, want %v", paged, judgmentIDs(all))
	}
}

func testJudgmentsInvalid(t *testing.T, bs Store) {
	s := judgmentStore(t, bs)
	valid := judgment("ok", "q", "d", 1)
	tests := []struct {
		name string
		bad  JudgmentRecord
	}{
		{"no id", judgment("", "q", "d", 1)},
		{"no query", judgment("x", "", "d", 1)},
		{"no document", judgment("x", "q", "", 1)},
		{"negative grade", judgment("x", "q", "d", -1)},
		{"grade above 3", judgment("x", "q", "d", 4)},
	}
	for _, tt := range tests {
		added, err := s.PutJudgments(t.Context(), []JudgmentRecord{valid, tt.bad})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error = %v, want ErrInvalid", tt.name, err)
		}
		var ie *InvalidJudgmentError
		if !errors.As(err, &ie) || ie.Index != 1 {
			t.Errorf("%s: error = %#v, want an InvalidJudgmentError at index 1", tt.name, err)
		}
		if added != 0 {
			t.Errorf("%s: added = %d, want 0", tt.name, added)
		}
	}
	if got := mustListJudgments(t, s, JudgmentListOptions{}); len(got) != 0 {
		t.Errorf("a batch with an invalid judgment stored %v, want nothing", judgmentIDs(got))
	}
}

// testJudgmentsConcurrent: writers racing with overlapping batches add each
// judgment once, and no two judgments share a seq (on FerretDB, whose $inc
// is not atomic, through the retry on the unique seq index).
func testJudgmentsConcurrent(t *testing.T, bs Store) {
	s := judgmentStore(t, bs)
	const writers, ids, perBatch = 4, 24, 6
	var (
		mu    sync.Mutex // guards added
		added int
		wg    sync.WaitGroup
		errs  = make(chan error, writers)
	)
	for w := range writers {
		wg.Go(func() {
			// Each writer walks all ids from its own starting point.
			for b := 0; b < ids; b += perBatch {
				var batch []JudgmentRecord
				for k := range perBatch {
					i := (w*perBatch + b + k) % ids
					batch = append(batch, judgment(fmt.Sprint("j", i), "q", fmt.Sprint("d", i), 1))
				}
				n, err := s.PutJudgments(t.Context(), batch)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				added += n
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := mustListJudgments(t, s, JudgmentListOptions{})
	checkSeqs(t, got)
	if len(got) != ids || added != ids {
		t.Errorf("concurrent writers of %d judgments: %d stored, %d reported added; want %d and %d", ids, len(got), added, ids, ids)
	}
}

func testJudgmentsOfRequest(t *testing.T, bs Store) {
	s := judgmentStore(t, bs)
	user := func(id, req, doc string, grade int) JudgmentRecord {
		j := judgment(id, "q", doc, grade)
		j.Source, j.RequestID = "user", req
		return j
	}
	mustPutJudgments(t, s, user("a", "r1", "d1", 1), judgment("imported", "q", "d1", 1), user("b", "r2", "d1", 0))
	mustPutJudgments(t, s, user("c", "r1", "d1", 0), user("d", "r1", "d2", 1))
	rs, ok := s.(interface {
		JudgmentsOfRequest(ctx context.Context, requestID string) ([]JudgmentRecord, error)
	})
	if !ok {
		t.Fatalf("%T has no JudgmentsOfRequest", s)
	}
	for _, tt := range []struct {
		request string
		want    []string
	}{
		{"r1", []string{"a", "c", "d"}},
		{"r2", []string{"b"}},
		{"nobody", []string{}},
		{"", []string{}},
	} {
		got, err := rs.JudgmentsOfRequest(t.Context(), tt.request)
		if err != nil {
			t.Fatal(err)
		}
		if ids := judgmentIDs(got); !reflect.DeepEqual(ids, tt.want) {
			t.Errorf("JudgmentsOfRequest(%q) = %v, want %v", tt.request, ids, tt.want)
		}
	}
}
