package warehouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// DefaultMongoDatabase is the database OpenMongo uses when given none.
const DefaultMongoDatabase = "twin"

// Counter ids in the counters collection. revisionFloor is the revision
// AdvanceRevision moved the counter to: LastRevision reports at least it.
const (
	revisionFloor         = "revision_floor"
	revisionCounter       = "revision"
	authorRevisionCounter = "author_revision"
	countersCollection    = "counters"
)

// mongoWriteAttempts bounds the optimistic retries of one write.
const mongoWriteAttempts = 8

// MongoStore is the warehouse on MongoDB: collections users, articles,
// posts and repositories, keyed by _id (the document id), each document
// carrying its revision in _rev.
//
// Revisions come from an atomic counter (findOneAndUpdate with $inc on the
// counters collection), one $inc of N per bulk of N changed documents.
// Allocating and writing are two steps, and MongoDB has no transaction
// here, so two writers may commit out of order: a reader of Changes can see
// revision N+1 before N, and a revision whose write failed is never
// stored (a gap). The CDC revision tail must therefore treat revisions
// that appear below its position as late, not as impossible.
//
// Every write is conditional on the revision it read: a document that
// exists is replaced with the filter {_id, _rev: <revision read>} and
// upsert, a new one is inserted. If another writer got there first, the
// filter misses and the upsert collides with the existing _id (duplicate
// key), and the document is read again and retried, so a document's stored
// revision never moves backwards and a stale writer never overwrites a
// newer write.
//
// The test suite runs on embedded FerretDB v1.24 (SQLite handler), and on
// a real MongoDB when TWIN_TEST_MONGO names one. Differences: FerretDB's findAndModify $inc is not atomic under
// concurrency, so two writers can be handed the same revision. Within one
// collection the unique index on _rev refuses the second write (duplicate
// key) and it is retried with a fresh revision; across collections nothing
// can catch it, so on FerretDB concurrent writers may store two documents
// with the same revision: use one writer there, as the tests do. FerretDB
// also scans whole collections for updates and range queries, and panics on
// a createIndexes naming several existing indexes (see ensureIndexes): it
// is a test server for small sizes.
type MongoStore struct {
	client *mongo.Client
	db     *mongo.Database
	notes  notifier
}

// mongoDoc is a Document as stored in MongoDB.
type mongoDoc struct {
	ID          string            `bson:"_id"`
	Revision    int64             `bson:"_rev"`
	AuthorID    string            `bson:"author_id"`
	Author      string            `bson:"author,omitempty"`
	Platform    string            `bson:"platform,omitempty"`
	Link        string            `bson:"link"`
	Title       string            `bson:"title,omitempty"`
	Content     string            `bson:"content,omitempty"`
	Language    string            `bson:"language,omitempty"`
	PublishedAt *time.Time        `bson:"published_at,omitempty"`
	Metadata    map[string]string `bson:"metadata,omitempty"`
	ContentHash string            `bson:"content_hash"`
	Deleted     bool              `bson:"deleted"`
	UpdatedAt   time.Time         `bson:"updated_at"`
	SourceSeq   int64             `bson:"source_seq,omitempty"`
}

func toMongo(d Document) mongoDoc {
	m := mongoDoc{
		ID: d.ID, Revision: d.Revision, AuthorID: d.AuthorID, Author: d.Author, Platform: d.Platform,
		Link: d.Link, Title: d.Title, Content: d.Content, Language: d.Language, Metadata: d.Metadata,
		ContentHash: d.ContentHash, Deleted: d.Deleted, UpdatedAt: d.UpdatedAt, SourceSeq: int64(d.SourceSeq),
	}
	if !d.PublishedAt.IsZero() {
		t := d.PublishedAt
		m.PublishedAt = &t
	}
	return m
}

func fromMongo(collection string, m mongoDoc) Document {
	d := Document{
		ID: m.ID, Collection: collection, AuthorID: m.AuthorID, Author: m.Author, Platform: m.Platform,
		Link: m.Link, Title: m.Title, Content: m.Content, Language: m.Language, Metadata: m.Metadata,
		ContentHash: m.ContentHash, Revision: m.Revision, Deleted: m.Deleted, UpdatedAt: storeTime(m.UpdatedAt),
		SourceSeq: uint64(max(m.SourceSeq, 0)),
	}
	if m.PublishedAt != nil {
		d.PublishedAt = storeTime(*m.PublishedAt)
	}
	if len(d.Metadata) == 0 {
		d.Metadata = nil
	}
	return d
}

// mongoAuthor is an Author as stored in MongoDB.
type mongoAuthor struct {
	ID        string    `bson:"_id"`
	Name      string    `bson:"name"`
	Revision  int64     `bson:"_rev"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// OpenMongo connects to MongoDB at uri, uses database (DefaultMongoDatabase
// when empty) and creates the indexes the queries need.
func OpenMongo(ctx context.Context, uri, database string) (*MongoStore, error) {
	if database == "" {
		database = DefaultMongoDatabase
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("open warehouse: connect to mongodb: %w", err)
	}
	if err := client.Ping(ctx, readpref.Primary()); err != nil {
		client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("open warehouse: ping mongodb: %w", err)
	}
	s := &MongoStore{client: client, db: client.Database(database)}
	if err := s.ensureIndexes(ctx); err != nil {
		client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("open warehouse: %w", err)
	}
	return s, nil
}

// ensureIndexes creates the indexes; creating an existing index with the
// same keys and options is a no-op, so this runs at every open.
//
// One index per createIndexes command: FerretDB v1.24 panics (and drops the
// connection) when one command names two or more indexes that already
// exist (it deletes from the list it is iterating by the wrong position).
func (s *MongoStore) ensureIndexes(ctx context.Context) error {
	for _, c := range Collections() {
		for _, idx := range []mongo.IndexModel{
			// Changes and commit conflicts: the unique index on _rev also
			// refuses a revision handed out twice within the collection
			// (FerretDB's counter).
			{Keys: bson.D{{Key: "_rev", Value: 1}}, Options: options.Index().SetName("rev").SetUnique(true)},
			// ListByAuthor, in revision order.
			{Keys: bson.D{{Key: "author_id", Value: 1}, {Key: "_rev", Value: 1}}, Options: options.Index().SetName("author_rev")},
			// Lookups by URL.
			{Keys: bson.D{{Key: "link", Value: 1}}, Options: options.Index().SetName("link")},
		} {
			if _, err := s.db.Collection(c).Indexes().CreateOne(ctx, idx); err != nil {
				return fmt.Errorf("create indexes on %s: %w", c, err)
			}
		}
	}
	if err := s.ensureTraceIndexes(ctx); err != nil {
		return err
	}
	return s.ensureJudgmentIndexes(ctx)
}

// Close disconnects and closes every subscription channel.
func (s *MongoStore) Close() error {
	s.notes.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("close warehouse: %w", err)
	}
	return nil
}

// Subscribe implements Store.
func (s *MongoStore) Subscribe() (<-chan struct{}, func()) { return s.notes.subscribe() }

// Database is the store's database, for the CDC producer's change streams.
func (s *MongoStore) Database() *mongo.Database { return s.db }

// DecodeMongo decodes a document of collection as MongoDB holds it (a
// change stream's fullDocument, say).
func DecodeMongo(collection string, raw bson.Raw) (Document, error) {
	var m mongoDoc
	if err := bson.Unmarshal(raw, &m); err != nil {
		return Document{}, fmt.Errorf("decode %s document: %w", collection, err)
	}
	return fromMongo(collection, m), nil
}

// allocate reserves n revisions of a counter with one atomic $inc and
// returns the first of them.
func (s *MongoStore) allocate(ctx context.Context, counter string, n int) (int64, error) {
	var c struct {
		Value int64 `bson:"value"`
	}
	var err error
	for range mongoWriteAttempts {
		err = s.db.Collection(countersCollection).FindOneAndUpdate(ctx,
			bson.D{{Key: "_id", Value: counter}},
			bson.D{{Key: "$inc", Value: bson.D{{Key: "value", Value: int64(n)}}}},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After),
		).Decode(&c)
		// Two first-ever allocations can both try to insert the counter;
		// the loser finds it on the next try.
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	if err != nil {
		return 0, fmt.Errorf("allocate %d %s: %w", n, counter, err)
	}
	return c.Value - int64(n) + 1, nil
}

// mongoState is what Upsert reads of a stored document.
type mongoState struct {
	ID          string `bson:"_id"`
	Revision    int64  `bson:"_rev"`
	ContentHash string `bson:"content_hash"`
	Deleted     bool   `bson:"deleted"`
	SourceSeq   int64  `bson:"source_seq"`
}

// states reads the stored state of ids in one collection, with one $in
// query.
func (s *MongoStore) states(ctx context.Context, collection string, ids []string) (map[string]mongoState, error) {
	cur, err := s.db.Collection(collection).Find(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "_rev", Value: 1}, {Key: "content_hash", Value: 1}, {Key: "deleted", Value: 1}, {Key: "source_seq", Value: 1}}),
	)
	if err != nil {
		return nil, err
	}
	var found []mongoState
	if err := cur.All(ctx, &found); err != nil {
		return nil, err
	}
	m := make(map[string]mongoState, len(found))
	for _, st := range found {
		m[st.ID] = st
	}
	return m, nil
}

// isConflict tells a write that lost a race (duplicate _id or _rev) from
// a failure.
func isConflict(code int) bool { return code == 11000 || code == 11001 }

// Upsert implements Store. Unchanged documents are found by reading the
// stored hashes first (one $in query per collection) and cause no write
// and no revision; the changed ones are written with one unordered
// BulkWrite per collection.
func (s *MongoStore) Upsert(ctx context.Context, docs []Document) (res []Result, err error) {
	b, err := prepareBatch(docs)
	if err != nil {
		return nil, fmt.Errorf("upsert: %w", err)
	}
	if len(b.docs) == 0 {
		return []Result{}, nil
	}
	if err := s.upsertAuthors(ctx, b.docs); err != nil {
		return nil, fmt.Errorf("upsert: %w", err)
	}
	changed := false
	defer func() {
		// Written revisions are durable even when a later step failed.
		if changed {
			s.notes.notify()
		}
	}()
	perDoc := make([]Result, len(b.docs))
	pending := make([]int, len(b.docs))
	for i := range pending {
		pending[i] = i
	}
	for attempt := 1; len(pending) > 0; attempt++ {
		if attempt > mongoWriteAttempts {
			return nil, fmt.Errorf("upsert: %d documents still conflict after %d attempts", len(pending), mongoWriteAttempts)
		}
		wrote, conflicts, err := s.upsertOnce(ctx, b.docs, pending, perDoc)
		changed = changed || wrote
		if err != nil {
			return nil, fmt.Errorf("upsert: %w", err)
		}
		pending = conflicts
	}
	return b.results(perDoc), nil
}

// upsertOnce reads the state of the pending documents, allocates revisions
// for the changed ones and writes them. It fills perDoc for every document
// settled and returns those that lost a race, to be retried.
func (s *MongoStore) upsertOnce(ctx context.Context, docs []Document, pending []int, perDoc []Result) (wrote bool, conflicts []int, err error) {
	byCollection := make(map[string][]int)
	for _, i := range pending {
		byCollection[docs[i].Collection] = append(byCollection[docs[i].Collection], i)
	}
	stored := make(map[string]map[string]mongoState, len(byCollection))
	for c, idx := range byCollection {
		ids := make([]string, len(idx))
		for k, i := range idx {
			ids[k] = docs[i].ID
		}
		st, err := s.states(ctx, c, ids)
		if err != nil {
			return false, nil, fmt.Errorf("read %s: %w", c, err)
		}
		stored[c] = st
	}
	var writes []int
	for _, i := range pending {
		d := docs[i]
		st, found := stored[d.Collection][d.ID]
		if found && (superseded(d, uint64(max(st.SourceSeq, 0))) || !st.Deleted && st.ContentHash == d.ContentHash) {
			perDoc[i] = Result{ID: d.ID, Revision: st.Revision}
			continue
		}
		writes = append(writes, i)
	}
	if len(writes) == 0 {
		return false, nil, nil
	}
	return s.writeChanged(ctx, docs, writes, stored, perDoc)
}

// writeChanged allocates a block of revisions for docs[writes] and writes
// them, each conditionally on the state stored (as read by the caller): a
// document that existed is replaced only if it still has the revision
// read, a new one is inserted only if it is still absent. The documents
// that lose a race are returned as conflicts.
func (s *MongoStore) writeChanged(ctx context.Context, docs []Document, writes []int, stored map[string]map[string]mongoState, perDoc []Result) (wrote bool, conflicts []int, err error) {
	first, err := s.allocate(ctx, revisionCounter, len(writes))
	if err != nil {
		return false, nil, err
	}
	now := storeTime(time.Now())
	models := make(map[string][]mongo.WriteModel)
	modelDoc := make(map[string][]int) // model index -> document index
	for k, i := range writes {
		d := docs[i]
		d.Revision = first + int64(k)
		d.UpdatedAt = now
		perDoc[i] = Result{ID: d.ID, Revision: d.Revision, Changed: true}
		var m mongo.WriteModel
		if st, found := stored[d.Collection][d.ID]; found {
			m = mongo.NewReplaceOneModel().
				SetFilter(bson.D{{Key: "_id", Value: d.ID}, {Key: "_rev", Value: st.Revision}}).
				SetReplacement(toMongo(d)).
				SetUpsert(true)
		} else {
			m = mongo.NewInsertOneModel().SetDocument(toMongo(d))
		}
		models[d.Collection] = append(models[d.Collection], m)
		modelDoc[d.Collection] = append(modelDoc[d.Collection], i)
	}
	for _, c := range Collections() {
		if len(models[c]) == 0 {
			continue
		}
		lost, err := s.bulkWrite(ctx, c, models[c])
		if len(lost) < len(models[c]) {
			wrote = true
		}
		for _, k := range lost {
			i := modelDoc[c][k]
			perDoc[i] = Result{}
			conflicts = append(conflicts, i)
		}
		if err != nil {
			return wrote, nil, fmt.Errorf("write %s: %w", c, err)
		}
	}
	return wrote, conflicts, nil
}

// bulkWrite runs an unordered bulk and returns the indexes of the models
// that lost a race (duplicate key). Any other write error fails it; the
// models not named in the error were still written.
func (s *MongoStore) bulkWrite(ctx context.Context, collection string, models []mongo.WriteModel) (lost []int, err error) {
	_, err = s.db.Collection(collection).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	if err == nil {
		return nil, nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) {
		// Nothing is known about which models were written.
		return allIndexes(len(models)), err
	}
	var failed error
	for _, we := range bwe.WriteErrors {
		lost = append(lost, we.Index)
		if !isConflict(we.Code) && failed == nil {
			failed = we
		}
	}
	if bwe.WriteConcernError != nil && failed == nil {
		failed = bwe.WriteConcernError
	}
	return lost, failed
}

func allIndexes(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// upsertAuthors inserts the authors of docs that do not exist yet, and
// gives an existing author stored in lowercase the spelling of docs
// (betterSpelled). Its id never changes: it derives from the lowercase
// name.
func (s *MongoStore) upsertAuthors(ctx context.Context, docs []Document) error {
	want := make(map[string]Author)
	var ids []string
	for _, d := range docs {
		if a, ok := authorOf(d); ok {
			if _, seen := want[a.ID]; !seen {
				want[a.ID] = a
				ids = append(ids, a.ID)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	users := s.db.Collection(Users)
	cur, err := users.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "name", Value: 1}}))
	if err != nil {
		return fmt.Errorf("read authors: %w", err)
	}
	var found []struct {
		ID   string `bson:"_id"`
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return fmt.Errorf("read authors: %w", err)
	}
	var models []mongo.WriteModel
	for _, f := range found {
		if a := want[f.ID]; betterSpelled(f.Name, a.Name) {
			// Conditional on the stored name, so a concurrent respelling
			// is not overwritten.
			models = append(models, mongo.NewUpdateOneModel().
				SetFilter(bson.D{{Key: "_id", Value: f.ID}, {Key: "name", Value: f.Name}}).
				SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: a.Name}}}}))
		}
		delete(want, f.ID)
	}
	if len(want) > 0 {
		first, err := s.allocate(ctx, authorRevisionCounter, len(want))
		if err != nil {
			return err
		}
		now := storeTime(time.Now())
		n := int64(0)
		for _, id := range ids {
			a, ok := want[id]
			if !ok {
				continue
			}
			// $setOnInsert: a concurrent writer that inserted the same
			// author first keeps its record.
			models = append(models, mongo.NewUpdateOneModel().
				SetFilter(bson.D{{Key: "_id", Value: a.ID}}).
				SetUpdate(bson.D{{Key: "$setOnInsert", Value: bson.D{
					{Key: "name", Value: a.Name},
					{Key: "_rev", Value: first + n},
					{Key: "updated_at", Value: now},
				}}}).
				SetUpsert(true))
			n++
		}
	}
	if len(models) == 0 {
		return nil
	}
	// A duplicate key here is two writers inserting the same author at
	// once: the author exists, which is all that was asked.
	if _, err := s.bulkWrite(ctx, Users, models); err != nil {
		return fmt.Errorf("write authors: %w", err)
	}
	return nil
}

// Delete implements Store: the document is turned into a tombstone,
// conditionally on the revision read, and read again if another writer
// changed it meanwhile.
func (s *MongoStore) Delete(ctx context.Context, collection, id string) (Result, error) {
	if err := checkCollection(collection); err != nil {
		return Result{}, fmt.Errorf("delete: %w", err)
	}
	coll := s.db.Collection(collection)
	for attempt := 1; attempt <= mongoWriteAttempts; attempt++ {
		var st mongoState
		err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}},
			options.FindOne().SetProjection(bson.D{{Key: "_rev", Value: 1}, {Key: "deleted", Value: 1}})).Decode(&st)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return Result{ID: id}, nil
		}
		if err != nil {
			return Result{}, fmt.Errorf("delete %s/%s: %w", collection, id, err)
		}
		if st.Deleted {
			return Result{ID: id, Revision: st.Revision}, nil
		}
		rev, err := s.allocate(ctx, revisionCounter, 1)
		if err != nil {
			return Result{}, fmt.Errorf("delete %s/%s: %w", collection, id, err)
		}
		res, err := coll.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "_rev", Value: st.Revision}},
			bson.D{{Key: "$set", Value: bson.D{
				{Key: "_rev", Value: rev},
				{Key: "deleted", Value: true},
				{Key: "content", Value: ""},
				{Key: "updated_at", Value: storeTime(time.Now())},
			}}})
		if err != nil {
			if mongo.IsDuplicateKeyError(err) {
				continue
			}
			return Result{}, fmt.Errorf("delete %s/%s: %w", collection, id, err)
		}
		if res.MatchedCount == 0 {
			continue // changed since read: read it again
		}
		s.notes.notify()
		return Result{ID: id, Revision: rev, Changed: true}, nil
	}
	return Result{}, fmt.Errorf("delete %s/%s: still conflicting after %d attempts", collection, id, mongoWriteAttempts)
}

// Get implements Store.
func (s *MongoStore) Get(ctx context.Context, collection, id string) (Document, error) {
	if err := checkCollection(collection); err != nil {
		return Document{}, fmt.Errorf("get: %w", err)
	}
	var m mongoDoc
	err := s.db.Collection(collection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Document{}, fmt.Errorf("get %s/%s: %w", collection, id, ErrNotFound)
	}
	if err != nil {
		return Document{}, fmt.Errorf("get %s/%s: %w", collection, id, err)
	}
	return fromMongo(collection, m), nil
}

// find runs one query per collection, each sorted by _rev and limited, and
// merges the answers.
func (s *MongoStore) find(ctx context.Context, collections []string, filter bson.D, limit int, desc bool) ([]Document, error) {
	dir := 1
	if desc {
		dir = -1
	}
	opts := options.Find().SetSort(bson.D{{Key: "_rev", Value: dir}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	lists := make([][]Document, 0, len(collections))
	for _, c := range collections {
		cur, err := s.db.Collection(c).Find(ctx, filter, opts)
		if err != nil {
			return nil, fmt.Errorf("find in %s: %w", c, err)
		}
		var found []mongoDoc
		if err := cur.All(ctx, &found); err != nil {
			return nil, fmt.Errorf("find in %s: %w", c, err)
		}
		docs := make([]Document, len(found))
		for i, m := range found {
			docs[i] = fromMongo(c, m)
		}
		lists = append(lists, docs)
	}
	out := mergeByRevision(lists, limit, desc)
	if out == nil {
		out = []Document{}
	}
	return out, nil
}

func listFilter(opts ListOptions, f bson.D) bson.D {
	if !opts.IncludeDeleted {
		f = append(f, bson.E{Key: "deleted", Value: bson.D{{Key: "$ne", Value: true}}})
	}
	if opts.After > 0 {
		op := "$gt"
		if opts.Descending {
			op = "$lt"
		}
		f = append(f, bson.E{Key: "_rev", Value: bson.D{{Key: op, Value: opts.After}}})
	}
	return f
}

// Count implements Store.
func (s *MongoStore) Count(ctx context.Context, authorID string, opts ListOptions) (int64, error) {
	colls, err := tablesFor(opts.Collection)
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	f := bson.D{}
	if authorID != "" {
		f = bson.D{{Key: "author_id", Value: authorID}}
	}
	f = listFilter(ListOptions{IncludeDeleted: opts.IncludeDeleted}, f)
	var total int64
	for _, c := range colls {
		n, err := s.db.Collection(c).CountDocuments(ctx, f)
		if err != nil {
			return 0, fmt.Errorf("count %s: %w", c, err)
		}
		total += n
	}
	return total, nil
}

// List implements Store.
func (s *MongoStore) List(ctx context.Context, opts ListOptions) ([]Document, error) {
	colls, err := tablesFor(opts.Collection)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	docs, err := s.find(ctx, colls, listFilter(opts, bson.D{}), opts.Limit, opts.Descending)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return docs, nil
}

// ListByAuthor implements Store.
func (s *MongoStore) ListByAuthor(ctx context.Context, authorID string, opts ListOptions) ([]Document, error) {
	colls, err := tablesFor(opts.Collection)
	if err != nil {
		return nil, fmt.Errorf("list by author: %w", err)
	}
	f := listFilter(opts, bson.D{{Key: "author_id", Value: authorID}})
	docs, err := s.find(ctx, colls, f, opts.Limit, opts.Descending)
	if err != nil {
		return nil, fmt.Errorf("list by author %s: %w", authorID, err)
	}
	return docs, nil
}

// Changes implements Store. On MongoDB a revision may commit after a higher
// one (see MongoStore), so a caller that has read past N can later find a
// document with a revision at or below N.
func (s *MongoStore) Changes(ctx context.Context, afterRevision int64, limit int) ([]Document, error) {
	f := bson.D{{Key: "_rev", Value: bson.D{{Key: "$gt", Value: afterRevision}}}}
	docs, err := s.find(ctx, Collections(), f, limit, false)
	if err != nil {
		return nil, fmt.Errorf("changes after %d: %w", afterRevision, err)
	}
	return docs, nil
}

// Authors implements Store.
func (s *MongoStore) Authors(ctx context.Context) ([]Author, error) {
	cur, err := s.db.Collection(Users).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_rev", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("authors: %w", err)
	}
	var found []mongoAuthor
	if err := cur.All(ctx, &found); err != nil {
		return nil, fmt.Errorf("authors: %w", err)
	}
	authors := make([]Author, len(found))
	for i, a := range found {
		authors[i] = Author{ID: a.ID, Name: a.Name, Revision: a.Revision, UpdatedAt: storeTime(a.UpdatedAt)}
	}
	return authors, nil
}

// FindAuthor implements Store.
func (s *MongoStore) FindAuthor(ctx context.Context, name string) (Author, error) {
	var a mongoAuthor
	err := s.db.Collection(Users).FindOne(ctx, bson.D{{Key: "_id", Value: AuthorID(name)}}).Decode(&a)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Author{}, fmt.Errorf("find author %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Author{}, fmt.Errorf("find author %q: %w", name, err)
	}
	return Author{ID: a.ID, Name: a.Name, Revision: a.Revision, UpdatedAt: storeTime(a.UpdatedAt)}, nil
}

// LastRevision implements Store: the highest _rev stored in any document
// collection, or the floor AdvanceRevision set when that is higher. It can
// be lower than the counter, which also counts revisions allocated but not
// (yet, or ever) written.
func (s *MongoStore) LastRevision(ctx context.Context) (int64, error) {
	var floor struct {
		Value int64 `bson:"value"`
	}
	err := s.db.Collection(countersCollection).FindOne(ctx, bson.D{{Key: "_id", Value: revisionFloor}}).Decode(&floor)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return 0, fmt.Errorf("last revision: %w", err)
	}
	last := floor.Value
	for _, c := range Collections() {
		var st mongoState
		err := s.db.Collection(c).FindOne(ctx, bson.D{},
			options.FindOne().SetSort(bson.D{{Key: "_rev", Value: -1}}).SetProjection(bson.D{{Key: "_rev", Value: 1}})).Decode(&st)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("last revision: %w", err)
		}
		last = max(last, st.Revision)
	}
	return last, nil
}

// DocumentRevisions implements Store: one $in query per collection and
// chunk, reading _rev alone.
func (s *MongoStore) DocumentRevisions(ctx context.Context, ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	for chunk := range slices.Chunk(ids, 1000) {
		for _, c := range Collections() {
			st, err := s.states(ctx, c, chunk)
			if err != nil {
				return nil, fmt.Errorf("document revisions in %s: %w", c, err)
			}
			for id, v := range st {
				out[id] = max(out[id], v.Revision)
			}
		}
	}
	return out, nil
}

// AdvanceRevision implements Store: $max on the counter and on the floor
// LastRevision reads, each atomic on its own. The counter goes first: a
// floor above the counter would let LastRevision report a revision that a
// writer could still be handed.
func (s *MongoStore) AdvanceRevision(ctx context.Context, atLeast int64) error {
	for _, id := range []string{revisionCounter, revisionFloor} {
		var err error
		for range mongoWriteAttempts {
			_, err = s.db.Collection(countersCollection).UpdateOne(ctx,
				bson.D{{Key: "_id", Value: id}},
				bson.D{{Key: "$max", Value: bson.D{{Key: "value", Value: atLeast}}}},
				options.UpdateOne().SetUpsert(true))
			if !mongo.IsDuplicateKeyError(err) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("advance revision to %d: %w", atLeast, err)
		}
	}
	return nil
}
