package cdc

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

type env struct {
	js  jetstream.JetStream
	pub *streams.Publisher
}

func newEnv(t *testing.T) *env {
	t.Helper()
	js := streamstest.Start(t)
	return &env{js: js, pub: streams.NewPublisher(js)}
}

// events reads every CDC event stored so far.
func (e *env) events(t *testing.T) []schemas.CDCEvent {
	t.Helper()
	s, _ := e.js.Stream(context.Background(), streams.StreamCDC)
	info, _ := s.Info(context.Background())
	var out []schemas.CDCEvent
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			continue
		}
		var ev schemas.CDCEvent
		if err := schemas.Decode(m.Data, &ev); err != nil {
			t.Fatalf("CDC message %d: %v", seq, err)
		}
		out = append(out, ev)
	}
	return out
}

func (e *env) waitEvents(t *testing.T, n int) []schemas.CDCEvent {
	t.Helper()
	var evs []schemas.CDCEvent
	testwait.Until(t, 10*time.Second, fmt.Sprintf("%d CDC events", n), func() bool {
		evs = e.events(t)
		return len(evs) >= n
	})
	return evs
}

func doc(id, content string) warehouse.Document {
	return warehouse.Document{ID: id, Collection: warehouse.Articles, Author: "Ann", Title: id, Content: content}
}

func runTail(t *testing.T, e *env, store Changes, cfg TailConfig) (stop func()) {
	t.Helper()
	cp, err := OpenCheckpoint(context.Background(), e.js, "tail")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = NewTail(store, e.pub, cp, cfg, zerolog.Nop()).Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestTailPublishesEveryWriteInRevisionOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	store, err := warehouse.OpenSQLite(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// A long poll: only the store's wake-up can make this fast.
	runTail(t, e, store, TailConfig{Poll: time.Hour})

	// Each write waits for its event, so the tail sees every version (a
	// tail that starts late sees only the latest version of each document).
	store.Upsert(ctx, []warehouse.Document{doc("a", "one"), doc("b", "two")})
	e.waitEvents(t, 2)
	store.Upsert(ctx, []warehouse.Document{doc("a", "one, changed")})
	e.waitEvents(t, 3)
	store.Upsert(ctx, []warehouse.Document{doc("b", "two")}) // unchanged: no revision, no event
	store.Delete(ctx, warehouse.Articles, "b")
	evs := e.waitEvents(t, 4)
	want := []struct {
		id, op string
		rev    int64
	}{{"a", schemas.OpReplace, 1}, {"b", schemas.OpReplace, 2}, {"a", schemas.OpReplace, 3}, {"b", schemas.OpDelete, 4}}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		ev := evs[i]
		if ev.DocumentID != w.id || ev.Op != w.op || ev.Revision != w.rev || ev.Collection != warehouse.Articles {
			t.Errorf("event %d = %s %s rev %d, want %s %s rev %d", i, ev.DocumentID, ev.Op, ev.Revision, w.id, w.op, w.rev)
		}
	}
	if evs[2].Document == nil || evs[3].Document != nil {
		t.Errorf("an update must carry the document and a delete none")
	}
}

func TestTailRestartMissesNothingAndDuplicatesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	store, err := warehouse.OpenSQLite(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stop := runTail(t, e, store, TailConfig{Batch: 7, Poll: 10 * time.Millisecond})
	for i := range 50 {
		store.Upsert(ctx, []warehouse.Document{doc(fmt.Sprint("d", i), "x")})
		if i == 20 {
			stop() // killed mid-stream: the rest is written while it is down
		}
	}
	// The checkpoint may lag what was published: the replay is deduplicated.
	runTail(t, e, store, TailConfig{Batch: 7, Poll: 10 * time.Millisecond})
	evs := e.waitEvents(t, 50)
	time.Sleep(100 * time.Millisecond) // nothing more may arrive
	evs = e.events(t)
	if len(evs) != 50 {
		t.Fatalf("%d events for 50 writes across a restart", len(evs))
	}
	for i, ev := range evs {
		if ev.Revision != int64(i+1) {
			t.Fatalf("event %d has revision %d: order or completeness broken", i, ev.Revision)
		}
	}
}

// gappy is a Changes source whose revision 2 commits late, as with two
// MongoDB writers.
type gappy struct {
	mu   sync.Mutex
	docs []warehouse.Document
	wake chan struct{}
}

func (g *gappy) Changes(_ context.Context, after int64, limit int) ([]warehouse.Document, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []warehouse.Document
	for _, d := range g.docs {
		if d.Revision > after && len(out) < limit {
			out = append(out, d)
		}
	}
	return out, nil
}

func (g *gappy) Subscribe() (<-chan struct{}, func()) { return g.wake, func() {} }

func (g *gappy) commit(d warehouse.Document) {
	g.mu.Lock()
	g.docs = append(g.docs, d)
	// Changes come back in revision order, whatever the commit order.
	for i := len(g.docs) - 1; i > 0 && g.docs[i].Revision < g.docs[i-1].Revision; i-- {
		g.docs[i], g.docs[i-1] = g.docs[i-1], g.docs[i]
	}
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

func TestTailDoesNotSkipALateCommittedRevision(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	src := &gappy{wake: make(chan struct{}, 1)}
	runTail(t, e, src, TailConfig{Poll: 10 * time.Millisecond, GapGrace: time.Hour})
	d := func(rev int64) warehouse.Document {
		x := doc(fmt.Sprint("r", rev), "x")
		x.Revision = rev
		return x
	}
	src.commit(d(1))
	src.commit(d(3)) // 2 is still in flight
	e.waitEvents(t, 2)
	cp, _ := OpenCheckpoint(context.Background(), e.js, "tail")
	eventuallyCheckpoint(t, cp, "1")
	src.commit(d(2)) // the late one
	evs := e.waitEvents(t, 3)
	seen := map[int64]int{}
	for _, ev := range evs {
		seen[ev.Revision]++
	}
	if seen[1] != 1 || seen[2] != 1 || seen[3] != 1 {
		t.Fatalf("events per revision %v: want 1, 2 and 3 once each", seen)
	}
	eventuallyCheckpoint(t, cp, "3")
}

func eventuallyCheckpoint(t *testing.T, cp *Checkpoint, want string) {
	t.Helper()
	testwait.Until(t, 5*time.Second, fmt.Sprintf("checkpoint %q", want), func() bool {
		got, _ := cp.Load(context.Background())
		return got == want
	})
}

// recorded is a change stream that replays recorded events.
type recorded struct {
	events []bson.Raw
	i      int
	err    error
	token  bson.Raw
}

func (r *recorded) Next(ctx context.Context) bool {
	if r.i < len(r.events) {
		r.token = bson.Raw(r.events[r.i].Lookup("_id").Document())
		r.i++
		return true
	}
	if r.err == nil {
		<-ctx.Done() // a live stream waits for more
	}
	return false
}
func (r *recorded) TryNext(ctx context.Context) bool {
	if r.i < len(r.events) {
		return r.Next(ctx)
	}
	return false
}
func (r *recorded) Event() bson.Raw {
	return r.events[r.i-1]
}
func (r *recorded) ResumeToken() bson.Raw {
	if r.token == nil {
		return mustRaw(bson.D{{Key: "_data", Value: "start"}})
	}
	return r.token
}
func (r *recorded) Err() error {
	if r.i >= len(r.events) {
		return r.err
	}
	return nil
}
func (r *recorded) Close(context.Context) error { return nil }

func mustRaw(v any) bson.Raw {
	b, err := bson.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// changeDoc is a recorded change event as MongoDB sends it.
func changeDoc(token, op, coll, id string, rev int64, deleted bool) bson.Raw {
	ev := bson.D{
		{Key: "_id", Value: bson.D{{Key: "_data", Value: token}}},
		{Key: "operationType", Value: op},
		{Key: "ns", Value: bson.D{{Key: "db", Value: "twin"}, {Key: "coll", Value: coll}}},
		{Key: "documentKey", Value: bson.D{{Key: "_id", Value: id}}},
		{Key: "wallTime", Value: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)},
	}
	if op != "delete" {
		ev = append(ev, bson.E{Key: "fullDocument", Value: bson.D{
			{Key: "_id", Value: id}, {Key: "_rev", Value: rev}, {Key: "author_id", Value: "a1"},
			{Key: "title", Value: "T " + id}, {Key: "content", Value: "text of " + id}, {Key: "deleted", Value: deleted},
			{Key: "content_hash", Value: "h"},
		}})
	}
	return mustRaw(ev)
}

func TestWatcherPublishesRecordedEventsAndCheckpointsAfterTheAcks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	stream := &recorded{events: []bson.Raw{
		changeDoc("t1", "insert", "articles", "a", 1, false),
		changeDoc("t2", "update", "articles", "a", 2, false),
		changeDoc("t3", "insert", "other", "x", 3, false), // not a warehouse collection
		changeDoc("t4", "replace", "posts", "p", 4, true), // a tombstone
		changeDoc("t5", "delete", "posts", "q", 0, false), // a physical delete: the key only
	}}
	cp, _ := OpenCheckpoint(context.Background(), e.js, "changestream")
	cp.Store(context.Background(), base64.StdEncoding.EncodeToString(mustRaw(bson.D{{Key: "_data", Value: "t0"}})))
	var opened []bson.Raw
	open := func(_ context.Context, token bson.Raw) (changeStream, error) {
		opened = append(opened, token)
		return stream, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); NewWatcher(open, nil, e.pub, cp, zerolog.Nop()).Run(ctx) }()
	evs := e.waitEvents(t, 4)
	eventuallyCheckpoint(t, cp, base64.StdEncoding.EncodeToString(mustRaw(bson.D{{Key: "_data", Value: "t5"}})))
	cancel()
	<-done
	if len(opened) != 1 || opened[0].Lookup("_data").StringValue() != "t0" {
		t.Fatalf("opened at %v, want after the checkpointed token t0", opened)
	}
	got := fmt.Sprint(len(evs))
	for _, ev := range evs {
		got += fmt.Sprintf(" %s/%s/%s/%d/%v", ev.Collection, ev.DocumentID, ev.Op, ev.Revision, ev.Document != nil)
	}
	want := "4 articles/a/insert/1/true articles/a/update/2/true posts/p/delete/4/false posts/q/delete/0/false"
	if got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
}

func TestWatcherResnapshotsWhenTheHistoryIsLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	store, err := warehouse.OpenSQLite(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	store.Upsert(ctx, []warehouse.Document{doc("a", "x"), doc("b", "y")})
	cp, _ := OpenCheckpoint(ctx, e.js, "changestream")
	cp.Store(ctx, base64.StdEncoding.EncodeToString(mustRaw(bson.D{{Key: "_data", Value: "rolled-off"}})))
	var mu sync.Mutex
	var opens []string
	open := func(_ context.Context, token bson.Raw) (changeStream, error) {
		mu.Lock()
		defer mu.Unlock()
		if token != nil {
			opens = append(opens, token.Lookup("_data").StringValue())
			return nil, mongo.CommandError{Code: 286, Name: "ChangeStreamHistoryLost", Message: "resume point no longer in the oplog"}
		}
		opens = append(opens, "now")
		return &recorded{}, nil
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); NewWatcher(open, store, e.pub, cp, zerolog.Nop()).Run(rctx) }()
	evs := e.waitEvents(t, 2)
	eventuallyCheckpoint(t, cp, base64.StdEncoding.EncodeToString(mustRaw(bson.D{{Key: "_data", Value: "start"}})))
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(opens) != "[rolled-off now]" {
		t.Fatalf("opens %v: want the lost position, then a fresh stream", opens)
	}
	if len(evs) != 2 || evs[0].DocumentID != "a" || evs[1].DocumentID != "b" {
		t.Fatalf("snapshot published %+v, want both documents", evs)
	}
}

func FuzzChangeEvent(f *testing.F) {
	f.Add([]byte(changeDoc("t1", "insert", "articles", "a", 1, false)))
	f.Add([]byte(changeDoc("t5", "delete", "posts", "q", 0, false)))
	f.Add([]byte{5, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, ok, err := changeEvent(bson.Raw(raw))
		if err == nil && ok && out.Body == nil {
			t.Fatal("an accepted event without a body")
		}
	})
}

// TestChangeStreamsOnARealReplicaSet needs a MongoDB replica set (FerretDB
// has no change streams): TWIN_TEST_MONGO=mongodb://host:27017/?replicaSet=rs0.
func TestChangeStreamsOnARealReplicaSet(t *testing.T) {
	uri := os.Getenv("TWIN_TEST_MONGO")
	if uri == "" {
		t.Skip("TWIN_TEST_MONGO is not set: change streams need a real MongoDB replica set")
	}
	e := newEnv(t)
	ctx := context.Background()
	store, err := warehouse.OpenMongo(ctx, uri, fmt.Sprintf("twin_cdc_test_%d", time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		store.Database().Drop(context.Background())
		store.Close()
	}()
	store.Upsert(ctx, []warehouse.Document{doc("before", "written before the watcher")})
	cp, _ := OpenCheckpoint(ctx, e.js, "changestream")
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewWatcher(MongoOpener(store.Database()), store, e.pub, cp, zerolog.Nop()).Run(rctx)
	}()
	defer func() { cancel(); <-done }()
	e.waitEvents(t, 1) // the snapshot
	store.Upsert(ctx, []warehouse.Document{doc("after", "written while watching")})
	store.Delete(ctx, warehouse.Articles, "before")
	evs := e.waitEvents(t, 3)
	if evs[1].DocumentID != "after" || evs[2].DocumentID != "before" || evs[2].Op != schemas.OpDelete {
		t.Fatalf("events %+v: want the snapshot, the insert, then the delete", evs)
	}
}

func TestTailBehindTheCheckpointMovesTheWarehousePastItAndRepublishes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// interrupted: a previous start moved the counter and crashed
		// before its re-snapshot was done.
		interrupted bool
	}{{"restored warehouse", false}, {"interrupted re-snapshot", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			store, err := warehouse.OpenSQLite(ctx, filepath.Join(t.TempDir(), "w.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			store.Upsert(ctx, []warehouse.Document{doc("a", "one"), doc("b", "two")})
			// The streams went on to revision 5; the warehouse lost 3 to 5,
			// among them the only revision of "gone", still indexed.
			cp, err := OpenCheckpoint(ctx, e.js, "tail")
			if err != nil {
				t.Fatal(err)
			}
			if err := cp.Store(ctx, "5"); err != nil {
				t.Fatal(err)
			}
			if tc.interrupted {
				if err := cp.sibling("resnapshot").Store(ctx, "5"); err != nil {
					t.Fatal(err)
				}
				if err := store.AdvanceRevision(ctx, 5); err != nil {
					t.Fatal(err)
				}
			}
			indexed := func(context.Context) (map[string]int64, error) {
				return map[string]int64{"a": 1, "b": 4, "gone": 5}, nil
			}
			runTail(t, e, store, TailConfig{Poll: 10 * time.Millisecond, Indexed: indexed})
			evs := e.waitEvents(t, 3)
			got := map[string]string{}
			for _, ev := range evs {
				got[ev.DocumentID] = fmt.Sprintf("%s@%d", ev.Op, ev.Revision)
			}
			want := map[string]string{"a": "replace@1", "b": "replace@2", "gone": "delete@0"}
			if len(evs) != 3 || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("re-snapshot published %v, want %v", got, want)
			}
			eventuallyCheckpoint(t, cp.sibling("resnapshot"), "")
			res, err := store.Upsert(ctx, []warehouse.Document{doc("c", "three")})
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Revision != 6 {
				t.Fatalf("the first write after the recovery got revision %d, want 6 (past the checkpoint)", res[0].Revision)
			}
			evs = e.waitEvents(t, 4)
			if last := evs[len(evs)-1]; last.DocumentID != "c" || last.Revision != 6 {
				t.Fatalf("the write after the recovery published as %s@%d, want c@6", last.DocumentID, last.Revision)
			}
		})
	}
}

func TestTailPublishesARevisionReusedWithAnotherContent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	// The stream carried revision 1 of "x" with one text, and the
	// warehouse lost it before the checkpoint moved (restored from an
	// older copy): its next write hands out revision 1 again.
	old := doc("x", "the text the warehouse lost")
	old.Revision, old.ContentHash = 1, warehouse.DocumentHash(old)
	out := Event(&old)
	if _, err := e.pub.Publish(ctx, out); err != nil {
		t.Fatal(err)
	}
	store, err := warehouse.OpenSQLite(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if res, err := store.Upsert(ctx, []warehouse.Document{doc("x", "the text written since")}); err != nil || res[0].Revision != 1 {
		t.Fatalf("Upsert = %v, %v; want revision 1", res, err)
	}
	runTail(t, e, store, TailConfig{Poll: 10 * time.Millisecond})
	evs := e.waitEvents(t, 2)
	if d := evs[1].Document; d == nil || d.Content != "the text written since" {
		t.Fatalf("second event holds %+v, want the text written since", d)
	}
}
