package warehouse

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// traceCases are the promises of TraceStore, run by runStoreSuite on every
// backend.
func traceCases() []storeCase {
	return []storeCase{
		{"PutTraceThenGetReturnsIt", testPutTraceThenGet},
		{"PutTracesSaysWhichTracesOfABatchAreNew", testPutTracesBatch},
		{"InvalidTraceFailsItsWholeBatchAndSaysWhich", testPutTracesInvalid},
		{"RedeliveredTraceOverwritesAndKeepsFeedback", testTraceRedelivery},
		{"FeedbackBeforeOrAfterItsTraceIsJoined", testFeedbackJoin},
		{"RedeliveredFeedbackIsStoredOnce", testFeedbackRedelivery},
		{"TraceByRequestReturnsTheNewest", testTraceByRequest},
		{"MissingTraceIsErrNotFound", testTraceNotFound},
		{"ListTracesNewestFirstWithFilters", testListTraces},
		{"ExpireTracesDeletesOldTracesAndTheirFeedback", testExpireTraces},
		{"InvalidTraceOrFeedbackIsErrInvalid", testTraceInvalid},
	}
}

func traceStore(t *testing.T, s Store) TraceStore {
	t.Helper()
	ts, ok := s.(TraceStore)
	if !ok {
		t.Fatalf("%T does not implement TraceStore", s)
	}
	return ts
}

// traceRec is a small trace of request req, created at.
func traceRec(id, req, author string, at time.Time) TraceRecord {
	body := fmt.Sprintf(`{"trace_id":%q,"request_id":%q,"query":"what is a queue?","steps":[{"name":"search","latency_ms":12.5,"output":{"$date":"not a date","a.b":[1,2]}}]}`, id, req)
	return TraceRecord{TraceID: id, RequestID: req, Author: author, CreatedAt: at, Trace: json.RawMessage(body)}
}

// mustPutTrace writes a batch of one trace.
func mustPutTrace(t *testing.T, s TraceStore, tr TraceRecord) bool {
	t.Helper()
	created, err := s.PutTraces(t.Context(), []TraceRecord{tr})
	if err != nil {
		t.Fatalf("PutTraces(%s): %v", tr.TraceID, err)
	}
	if len(created) != 1 {
		t.Fatalf("PutTraces of one trace: created = %v, want one answer", created)
	}
	return created[0]
}

func mustAddFeedback(t *testing.T, s TraceStore, fb FeedbackRecord) bool {
	t.Helper()
	added, err := s.AddFeedback(t.Context(), fb)
	if err != nil {
		t.Fatalf("AddFeedback(%+v): %v", fb, err)
	}
	return added
}

func mustGetTrace(t *testing.T, s TraceStore, id string) TraceRecord {
	t.Helper()
	tr, err := s.GetTrace(t.Context(), id)
	if err != nil {
		t.Fatalf("GetTrace(%s): %v", id, err)
	}
	return tr
}

func traceIDs(traces []TraceRecord) []string {
	out := make([]string, len(traces))
	for i, t := range traces {
		out[i] = t.TraceID
	}
	return out
}

func testPutTraceThenGet(t *testing.T, bs Store) {
	s := traceStore(t, bs)
	at := time.Date(2025, 5, 4, 3, 2, 1, 987654321, time.FixedZone("CET", 3600))
	in := traceRec("t1", "r1", "  Ada   Lovelace ", at)
	if !mustPutTrace(t, s, in) {
		t.Fatal("first PutTraces: created = false, want true")
	}
	got := mustGetTrace(t, s, "t1")
	want := in
	want.AuthorID = AuthorID("ada lovelace")
	want.CreatedAt = at.UTC().Truncate(time.Millisecond)
	if !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, want.CreatedAt)
	}
	got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetTrace returned\n%+v\nwant\n%+v", got, want)
	}

	// A trace without a time gets the store's.
	before := time.Now().Add(-time.Second)
	mustPutTrace(t, s, traceRec("t2", "r2", "", time.Time{}))
	if got := mustGetTrace(t, s, "t2"); got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("CreatedAt of a trace without one = %v, want about now", got.CreatedAt)
	}
}

func testPutTracesBatch(t *testing.T, bs Store) {
	s := traceStore(t, bs)
	now := time.Now()
	mustPutTrace(t, s, traceRec("stored", "r0", "Ada", now))
	latest := traceRec("twice", "r1", "Ada", now)
	latest.Trace = json.RawMessage(`{"trace_id":"twice","total_ms":42}`)
	batch := []TraceRecord{
		traceRec("new", "r2", "Ada", now),
		traceRec("stored", "r0", "Ada", now),
		traceRec("twice", "r1", "Ada", now),
		latest, // the same trace again in one batch: replaced, not new
		traceRec("last", "r3", "Grace", now),
	}
	created, err := s.PutTraces(t.Context(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true, false, true}; !reflect.DeepEqual(created, want) {
		t.Errorf("PutTraces created = %v, want %v", created, want)
	}
	if got := mustGetTrace(t, s, "twice"); string(got.Trace) != string(latest.Trace) {
		t.Errorf("a trace twice in a batch holds %s, want the later copy %s", got.Trace, latest.Trace)
	}
	list, err := s.ListTraces(t.Context(), TraceListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := traceIDs(list); len(got) != 4 {
		t.Errorf("ListTraces = %v, want the 4 distinct traces", got)
	}
	// The whole batch again, as after a lost ack: nothing is new.
	created, err = s.PutTraces(t.Context(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if want := make([]bool, len(batch)); !reflect.DeepEqual(created, want) {
		t.Errorf("PutTraces of a batch written before: created = %v, want %v", created, want)
	}
	if created, err := s.PutTraces(t.Context(), nil); err != nil || len(created) != 0 {
		t.Errorf("PutTraces of no trace = %v, %v; want nothing, nil", created, err)
	}
}

func testPutTracesInvalid(t *testing.T, bs Store) {
	s := traceStore(t, bs)
	bad := traceRec("bad", "r2", "Ada", time.Now())
	bad.Trace = json.RawMessage(`{"trace_id":`)
	_, err := s.PutTraces(t.Context(), []TraceRecord{
		traceRec("good", "r1", "Ada", time.Now()), bad, traceRec("", "r3", "Ada", time.Now()),
	})
	var invalid *InvalidTraceError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &invalid) || invalid.Index != 1 {
		t.Fatalf("PutTraces with an invalid second trace = %v, want an InvalidTraceError at index 1 matching ErrInvalid", err)
	}
	if _, err := s.GetTrace(t.Context(), "good"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a batch with an invalid trace wrote the valid one: GetTrace(good) = %v", err)
	}
}

func testTraceRedelivery(t *testing.T, bs Store) {
	s := traceStore(t, bs)
	at := time.Now().Add(-time.Minute)
	mustPutTrace(t, s, traceRec("t1", "r1", "Ada", at))
	mustAddFeedback(t, s, FeedbackRecord{RequestID: "r1", TraceID: "t1", Rating: 1, Comment: "great", CreatedAt: at})
	again := traceRec("t1", "r1", "Ada", at)
	again.Trace = json.RawMessage(`{"trace_id":"t1","request_id":"r1","total_ms":42}`)
	if mustPutTrace(t, s, again) {
		t.Fatal("PutTraces of a stored trace: created = true, want false")
	}
	got := mustGetTrace(t, s, "t1")
	if string(got.Trace) != string(again.Trace) {
		t.Errorf("trace after a rewrite = %s, want %s", got.Trace, again.Trace)
	}
	if len(got.Feedback) != 1 || got.Feedback[0].Comment != "great" {
		t.Errorf("feedback after a rewrite = %+v, want the one rating kept", got.Feedback)
	}
	list, err := s.ListTraces(t.Context(), TraceListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ids := traceIDs(list); !reflect.DeepEqual(ids, []string{"t1"}) {
		t.Errorf("ListTraces after a rewrite = %v, want [t1] once", ids)
	}
}

func testFeedbackJoin(t *testing.T, bs Store) {
	s := traceStore(t, bs)
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	early := FeedbackRecord{RequestID: "r1", TraceID: "t1", Rating: -1, Comment: "too vague", CreatedAt: at.Add(time.Second)}
	if !mustAddFeedback(t, s, early) {
		t.Fatal("AddFeedback before its trace: added = false, want true")
	}
	mustPutTrace(t, s, traceRec("t1", "r1", "Ada", at))
	late := FeedbackRecord{RequestID: "r1", Rating: 1, CreatedAt: at.Add(time.Minute)}
	if !mustAddFeedback(t, s, late) {
		t.Fatal("AddFeedback after its trace: added = false, want true")
	}
	// Another request's rating stays with that request.
	mustAddFeedback(t, s, FeedbackRecord{RequestID: "r2", Rating: 1, CreatedAt: at})

	want := []FeedbackRecord{early, late}
	if got := mustGetTrace(t, s, "t1").Feedback; !reflect.DeepEqual(got, want) {
		t.Errorf("GetTrace feedback =\n%+v\nwant, oldest first,\n%+v", got, want)
	}
	byReq, err := s.TraceByRequest(t.Context(), "r1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(byReq.Feedback, want) {
		t.Errorf("TraceByRequest feedback = %+v, want %+v", byReq.Feedback, want)
	}
	list, err := s.ListTraces(t.Context(), TraceListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !reflect.DeepEqual(list[0].Feedback, want) {
		t.Errorf("ListTraces = %+v, want t1 with %+v", list, want)
	}
}

func testFeedbackRedelivery(t *testing.T, bs Store) {
	s := traceStore(t, bs)
	mustPutTrace(t, s, traceRec("t1", "r1", "Ada", time.Now()))
	at := time.Now().Add(-time.Second)
	tests := []struct {
		name  string
		fb    FeedbackRecord
		added bool
	}{
		{"first rating", FeedbackRecord{RequestID: "r1", Rating: 1, Comment: "good", CreatedAt: at}, true},
		{"the same rating redelivered", FeedbackRecord{RequestID: "r1", Rating: 1, Comment: "good", CreatedAt: at}, false},
		{"the same time and rating, another comment", FeedbackRecord{RequestID: "r1", Rating: 1, Comment: "edited", CreatedAt: at}, false},
		{"a change of mind", FeedbackRecord{RequestID: "r1", Rating: -1, CreatedAt: at.Add(time.Second)}, true},
		{"a rating without a time", FeedbackRecord{RequestID: "r1", Rating: -1}, true},
		{"it again", FeedbackRecord{RequestID: "r1", Rating: -1}, false},
	}
	for _, tt := range tests {
		if added := mustAddFeedback(t, s, tt.fb); added != tt.added {
			t.Errorf("%s: added = %v, want %v", tt.name, added, tt.added)
		}
	}
	got := mustGetTrace(t, s, "t1").Feedback
	if len(got) != 3 {
		t.Fatalf("feedback = %+v, want 3 ratings", got)
	}
	if !got[0].CreatedAt.IsZero() || got[1].Comment != "good" || got[2].Rating != -1 {
		t.Errorf("feedback = %+v, want the one without a time first, then the first rating as first stored, then the change of mind", got)
	}
}

func testTraceByRequest(t *testing.T, bs Store) {
	s := traceStore(t, bs)
	now := time.Now()
	mustPutTrace(t, s, traceRec("first-try", "r1", "Ada", now.Add(-time.Minute)))
	mustPutTrace(t, s, traceRec("retry", "r1", "Ada", now))
	mustPutTrace(t, s, traceRec("other", "r2", "Ada", now.Add(time.Minute)))
	got, err := s.TraceByRequest(t.Context(), "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got.TraceID != "retry" {
		t.Errorf("TraceByRequest(r1) = %s, want the newest trace, retry", got.TraceID)
	}
}

func testTraceNotFound(t *testing.T, bs Store) {
	s := traceStore(t, bs)
	mustPutTrace(t, s, traceRec("here", "r1", "Ada", time.Now()))
	mustPutTrace(t, s, traceRec("no-request", "", "Ada", time.Now()))
	mustAddFeedback(t, s, FeedbackRecord{RequestID: "r-orphan", Rating: 1})
	tests := []struct {
		name string
		call func() error
	}{
		{"GetTrace(absent)", func() error { _, err := s.GetTrace(t.Context(), "absent"); return err }},
		{"TraceByRequest(absent)", func() error { _, err := s.TraceByRequest(t.Context(), "absent"); return err }},
		{"TraceByRequest(feedback only)", func() error { _, err := s.TraceByRequest(t.Context(), "r-orphan"); return err }},
		{"TraceByRequest(empty)", func() error { _, err := s.TraceByRequest(t.Context(), ""); return err }},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s error = %v, want ErrNotFound", tt.name, err)
		}
	}
	if got := mustGetTrace(t, s, "no-request"); got.Feedback != nil {
		t.Errorf("a trace without a request id got feedback %+v", got.Feedback)
	}
}

func testListTraces(t *testing.T, bs Store) {
	s := traceStore(t, bs)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, author := range []string{"Ada", "Bob", "ada", "Bob", "ADA"} {
		mustPutTrace(t, s, traceRec(fmt.Sprint("t", i), fmt.Sprint("r", i), author, base.Add(time.Duration(i)*time.Minute)))
	}
	tests := []struct {
		name string
		opts TraceListOptions
		want []string
	}{
		{"all, newest first", TraceListOptions{}, []string{"t4", "t3", "t2", "t1", "t0"}},
		{"limit", TraceListOptions{Limit: 2}, []string{"t4", "t3"}},
		{"one author, any spelling", TraceListOptions{Author: " ada "}, []string{"t4", "t2", "t0"}},
		{"before, to page", TraceListOptions{Before: base.Add(3 * time.Minute), Limit: 2}, []string{"t2", "t1"}},
		{"author and before", TraceListOptions{Author: "Bob", Before: base.Add(3 * time.Minute)}, []string{"t1"}},
		{"nobody", TraceListOptions{Author: "Nobody"}, []string{}},
	}
	for _, tt := range tests {
		got, err := s.ListTraces(t.Context(), tt.opts)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if ids := traceIDs(got); !reflect.DeepEqual(ids, tt.want) {
			t.Errorf("%s: ListTraces = %v, want %v", tt.name, ids, tt.want)
		}
	}
}

func testExpireTraces(t *testing.T, bs Store) {
	s := traceStore(t, bs)
	now := time.Now()
	old := now.Add(-40 * 24 * time.Hour)
	mustPutTrace(t, s, traceRec("old", "r-old", "Ada", old))
	mustAddFeedback(t, s, FeedbackRecord{RequestID: "r-old", Rating: -1, CreatedAt: old})
	mustPutTrace(t, s, traceRec("new", "r-new", "Ada", now))
	mustAddFeedback(t, s, FeedbackRecord{RequestID: "r-new", Rating: 1, CreatedAt: now})
	// A request answered twice: its old trace goes, its feedback stays with
	// the new one.
	mustPutTrace(t, s, traceRec("retried-old", "r-retried", "Ada", old))
	mustPutTrace(t, s, traceRec("retried-new", "r-retried", "Ada", now))
	mustAddFeedback(t, s, FeedbackRecord{RequestID: "r-retried", Rating: 1, CreatedAt: old})
	// A rating whose trace has not come (yet).
	mustAddFeedback(t, s, FeedbackRecord{RequestID: "r-orphan", Rating: 1, CreatedAt: old})

	n, err := s.ExpireTraces(t.Context(), now.Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("ExpireTraces deleted %d traces, want 2", n)
	}
	for _, id := range []string{"old", "retried-old"} {
		if _, err := s.GetTrace(t.Context(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetTrace(%s) after expiry: %v, want ErrNotFound", id, err)
		}
	}
	if got := mustGetTrace(t, s, "new"); len(got.Feedback) != 1 {
		t.Errorf("a recent trace lost its feedback: %+v", got.Feedback)
	}
	if got := mustGetTrace(t, s, "retried-new"); len(got.Feedback) != 1 {
		t.Errorf("the newer trace of a retried request lost its feedback: %+v", got.Feedback)
	}
	// The old trace's feedback went with it: a late copy of that trace
	// comes back without it.
	mustPutTrace(t, s, traceRec("old-again", "r-old", "Ada", now))
	if got := mustGetTrace(t, s, "old-again"); len(got.Feedback) != 0 {
		t.Errorf("the feedback of an expired trace survived: %+v", got.Feedback)
	}
	// A rating stored moments ago is kept for its trace, however old the
	// user's clock says it is.
	mustPutTrace(t, s, traceRec("orphan-trace", "r-orphan", "Ada", now))
	if got := mustGetTrace(t, s, "orphan-trace"); len(got.Feedback) != 1 {
		t.Errorf("a recent rating waiting for its trace was swept: %+v", got.Feedback)
	}

	// Expire everything: ratings without a trace go too.
	mustAddFeedback(t, s, FeedbackRecord{RequestID: "r-never", Rating: -1})
	if _, err := s.ExpireTraces(t.Context(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListTraces(t.Context(), TraceListOptions{})
	if err != nil || len(list) != 0 {
		t.Fatalf("ListTraces after expiring everything = %v, %v; want none", traceIDs(list), err)
	}
	mustPutTrace(t, s, traceRec("never", "r-never", "Ada", now))
	if got := mustGetTrace(t, s, "never"); len(got.Feedback) != 0 {
		t.Errorf("an expired rating without a trace survived: %+v", got.Feedback)
	}
}

func testTraceInvalid(t *testing.T, bs Store) {
	s := traceStore(t, bs)
	tests := []struct {
		name string
		call func() error
	}{
		{"trace without id", func() error {
			_, err := s.PutTraces(t.Context(), []TraceRecord{traceRec("", "r1", "Ada", time.Now())})
			return err
		}},
		{"trace body not JSON", func() error {
			tr := traceRec("t1", "r1", "Ada", time.Now())
			tr.Trace = json.RawMessage(`{"trace_id":`)
			_, err := s.PutTraces(t.Context(), []TraceRecord{tr})
			return err
		}},
		{"trace without body", func() error {
			tr := traceRec("t1", "r1", "Ada", time.Now())
			tr.Trace = nil
			_, err := s.PutTraces(t.Context(), []TraceRecord{tr})
			return err
		}},
		{"feedback without request", func() error {
			_, err := s.AddFeedback(t.Context(), FeedbackRecord{Rating: 1})
			return err
		}},
		{"feedback rating 0", func() error {
			_, err := s.AddFeedback(t.Context(), FeedbackRecord{RequestID: "r1"})
			return err
		}},
		{"feedback rating 5", func() error {
			_, err := s.AddFeedback(t.Context(), FeedbackRecord{RequestID: "r1", Rating: 5})
			return err
		}},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error = %v, want ErrInvalid", tt.name, err)
		}
	}
	if _, err := s.GetTrace(t.Context(), "t1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an invalid trace was stored: GetTrace = %v", err)
	}
}

// TestMongoTraceRetentionOnFerretDB: FerretDB has no TTL indexes, so
// SetTraceRetention says so with errors.ErrUnsupported, and the store keeps
// working, expiry by ExpireTraces included.
func TestMongoTraceRetentionOnFerretDB(t *testing.T) {
	t.Parallel()
	s := mongoOpener(startFerretDB(t), false)(t).(*MongoStore)
	if err := s.SetTraceRetention(t.Context(), 30*24*time.Hour); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("SetTraceRetention on FerretDB = %v, want errors.ErrUnsupported", err)
	}
	if err := s.SetTraceRetention(t.Context(), 0); err != nil {
		t.Fatalf("SetTraceRetention(0) with no TTL index = %v, want nil", err)
	}
	mustPutTrace(t, s, traceRec("old", "r1", "Ada", time.Now().Add(-time.Hour)))
	if n, err := s.ExpireTraces(t.Context(), time.Now()); err != nil || n != 1 {
		t.Fatalf("ExpireTraces after a refused TTL index = %d, %v; want 1, nil", n, err)
	}
}

// TestMongoTraceRetentionReal checks the TTL indexes on a real MongoDB
// named by TWIN_TEST_MONGO: created, changed in place, removed.
func TestMongoTraceRetentionReal(t *testing.T) {
	t.Parallel()
	uri := os.Getenv("TWIN_TEST_MONGO")
	if uri == "" {
		t.Skip("TWIN_TEST_MONGO is not set: set it to a MongoDB URI to test the TTL indexes of traces")
	}
	s := mongoOpener(uri, true)(t).(*MongoStore)
	ttl := func() map[string]int32 {
		t.Helper()
		got := map[string]int32{}
		for _, c := range []string{Traces, Feedback} {
			cur, err := s.db.Collection(c).Indexes().List(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var specs []bson.M
			if err := cur.All(t.Context(), &specs); err != nil {
				t.Fatal(err)
			}
			for _, spec := range specs {
				if v, ok := spec["expireAfterSeconds"]; ok {
					n, _ := v.(int32)
					got[c+"."+spec["name"].(string)] = n
				}
			}
		}
		return got
	}
	for _, tt := range []struct {
		retention time.Duration
		want      map[string]int32
	}{
		{time.Hour, map[string]int32{"traces.created_at_ttl": 3600, "feedback.stored_at_ttl": 3600}},
		{2 * time.Hour, map[string]int32{"traces.created_at_ttl": 7200, "feedback.stored_at_ttl": 7200}},
		{0, map[string]int32{}},
	} {
		if err := s.SetTraceRetention(t.Context(), tt.retention); err != nil {
			t.Fatalf("SetTraceRetention(%v): %v", tt.retention, err)
		}
		if got := ttl(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("after SetTraceRetention(%v): TTL indexes %v, want %v", tt.retention, got, tt.want)
		}
	}
}

// TestSQLiteUpgradeAddsTraceTables opens a warehouse written before the
// trace tables existed (schema version 1): the migration adds them and
// leaves the documents alone.
func TestSQLiteUpgradeAddsTraceTables(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "warehouse.db")
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		sqliteMigrations()[0],
		`INSERT INTO articles(id, revision, author_id, link, content_hash, deleted, doc) VALUES ('a1', 1, '', 'https://example.com/a', 'h', 0, '{"id":"a1","collection":"articles","revision":1}')`,
		`UPDATE meta SET value = 1 WHERE key = 'revision'`,
		`PRAGMA user_version = 1`,
	} {
		if _, err := old.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("build a version 1 warehouse: %v", err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("open a version 1 warehouse: %v", err)
	}
	defer s.Close()
	if got := mustGet(t, s, Articles, "a1"); got.Revision != 1 {
		t.Errorf("document after the upgrade = %+v, want a1 at revision 1", got)
	}
	mustPutTrace(t, s, traceRec("t1", "r1", "Ada", time.Now()))
	mustAddFeedback(t, s, FeedbackRecord{RequestID: "r1", Rating: 1})
	if got := mustGetTrace(t, s, "t1"); len(got.Feedback) != 1 {
		t.Errorf("trace after the upgrade = %+v, want it with its rating", got)
	}
}
