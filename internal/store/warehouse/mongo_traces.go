package warehouse

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// mongoTrace is a TraceRecord as stored in the traces collection. The trace
// is kept as JSON text, not converted to BSON: a step's output is any JSON,
// whose keys ("$date", "a.b") MongoDB could refuse or read as operators.
type mongoTrace struct {
	ID        string    `bson:"_id"`
	RequestID string    `bson:"request_id"`
	AuthorID  string    `bson:"author_id"`
	Author    string    `bson:"author"`
	CreatedAt time.Time `bson:"created_at"`
	Trace     string    `bson:"trace"`
}

func (m mongoTrace) record() TraceRecord {
	return TraceRecord{TraceID: m.ID, RequestID: m.RequestID, AuthorID: m.AuthorID, Author: m.Author,
		CreatedAt: storeTime(m.CreatedAt), Trace: []byte(m.Trace)}
}

// mongoFeedback is a FeedbackRecord as stored in the feedback collection.
type mongoFeedback struct {
	// ID is feedbackID(request, FeedbackKey).
	ID        string     `bson:"_id"`
	RequestID string     `bson:"request_id"`
	TraceID   string     `bson:"trace_id"`
	Rating    int        `bson:"rating"`
	Comment   string     `bson:"comment"`
	CreatedAt *time.Time `bson:"created_at,omitempty"`
	// StoredAt is when the store first saw the rating: it decides when a
	// rating whose trace never came is swept, and carries its TTL index.
	StoredAt time.Time `bson:"stored_at"`
}

func (m mongoFeedback) record() FeedbackRecord {
	fb := FeedbackRecord{RequestID: m.RequestID, TraceID: m.TraceID, Rating: m.Rating, Comment: m.Comment}
	if m.CreatedAt != nil {
		fb.CreatedAt = storeTime(*m.CreatedAt)
	}
	return fb
}

// feedbackID is a rating's _id. The key never holds a '#', so the last one
// splits the two parts and no two ratings share an id, whatever the
// request id holds.
func feedbackID(fb FeedbackRecord) string { return fb.RequestID + "#" + FeedbackKey(fb) }

// TTL index names, and what they index.
var mongoTTLIndexes = []struct{ collection, field, name string }{
	{Traces, "created_at", "created_at_ttl"},
	{Feedback, "stored_at", "stored_at_ttl"},
}

// ensureTraceIndexes creates the indexes of traces and feedback, one per
// command (see ensureIndexes). None of them is on the key pattern of a TTL
// index ({created_at: 1}, {stored_at: 1}): MongoDB allows one index per key
// pattern, and the TTL ones come and go with the retention.
func (s *MongoStore) ensureTraceIndexes(ctx context.Context) error {
	for _, ci := range []struct {
		collection string
		idx        mongo.IndexModel
	}{
		// Listing newest first, and the sweep's range.
		{Traces, mongo.IndexModel{Keys: bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("created")}},
		{Traces, mongo.IndexModel{Keys: bson.D{{Key: "request_id", Value: 1}, {Key: "created_at", Value: -1}}, Options: options.Index().SetName("request_created")}},
		{Traces, mongo.IndexModel{Keys: bson.D{{Key: "author_id", Value: 1}, {Key: "created_at", Value: -1}}, Options: options.Index().SetName("author_created")}},
		// The join on read.
		{Feedback, mongo.IndexModel{Keys: bson.D{{Key: "request_id", Value: 1}, {Key: "created_at", Value: 1}}, Options: options.Index().SetName("request_created")}},
		// The sweep of ratings whose trace never came.
		{Feedback, mongo.IndexModel{Keys: bson.D{{Key: "stored_at", Value: -1}}, Options: options.Index().SetName("stored")}},
	} {
		if _, err := s.db.Collection(ci.collection).Indexes().CreateOne(ctx, ci.idx); err != nil {
			return fmt.Errorf("create indexes on %s: %w", ci.collection, err)
		}
	}
	return nil
}

// SetTraceRetention makes MongoDB itself delete traces (and ratings) older
// than retention, with TTL indexes; a retention <= 0 removes them. Calling it
// again with another retention changes the indexes in place.
//
// The TTL monitor runs about once a minute and deletes a trace and its
// ratings independently, so ExpireTraces should still run now and then; it
// is also the only expiry on servers without TTL indexes, such as FerretDB,
// for which SetTraceRetention returns an error matching
// errors.ErrUnsupported and changes nothing.
func (s *MongoStore) SetTraceRetention(ctx context.Context, retention time.Duration) error {
	if retention <= 0 {
		for _, ttl := range mongoTTLIndexes {
			err := s.db.Collection(ttl.collection).Indexes().DropOne(ctx, ttl.name)
			if err != nil && !hasCode(err, codeIndexNotFound, codeNamespaceNotFound) {
				return fmt.Errorf("drop trace retention index on %s: %w", ttl.collection, err)
			}
		}
		return nil
	}
	secs := math.Ceil(retention.Seconds())
	if secs > math.MaxInt32 {
		return fmt.Errorf("%w: trace retention %v exceeds what a TTL index holds", ErrInvalid, retention)
	}
	for _, ttl := range mongoTTLIndexes {
		if err := s.ensureTTL(ctx, ttl.collection, ttl.field, ttl.name, int32(secs)); err != nil {
			return err
		}
	}
	return nil
}

// MongoDB error codes the trace store tells apart.
const (
	codeNamespaceNotFound     = 26
	codeIndexNotFound         = 27
	codeIndexOptionsConflict  = 85
	codeIndexKeySpecsConflict = 86
	codeNotImplemented        = 238
)

// hasCode reports whether err is a server error with one of codes.
func hasCode(err error, codes ...int) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	return slices.ContainsFunc(codes, se.HasErrorCode)
}

func (s *MongoStore) ensureTTL(ctx context.Context, collection, field, name string, secs int32) error {
	_, err := s.db.Collection(collection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: field, Value: 1}},
		Options: options.Index().SetName(name).SetExpireAfterSeconds(secs),
	})
	switch {
	case err == nil:
		return nil
	case hasCode(err, codeNotImplemented):
		return fmt.Errorf("trace retention index on %s: %w: %w", collection, errors.ErrUnsupported, err)
	case hasCode(err, codeIndexOptionsConflict, codeIndexKeySpecsConflict):
		// The index exists with another retention: change it in place.
		err = s.db.RunCommand(ctx, bson.D{
			{Key: "collMod", Value: collection},
			{Key: "index", Value: bson.D{{Key: "name", Value: name}, {Key: "expireAfterSeconds", Value: secs}}},
		}).Err()
		if err != nil {
			return fmt.Errorf("change trace retention index on %s: %w", collection, err)
		}
		return nil
	default:
		return fmt.Errorf("create trace retention index on %s: %w", collection, err)
	}
}

// PutTraces implements TraceStore: one replace with upsert per trace, in
// order, whose upserted count tells a new trace from a replaced one. Not a
// bulk write: FerretDB reports the upserts of a bulk at other indexes than
// the writes', and created must be exact. MongoDB has no commit per write
// to save anyway (its journal is flushed on its own schedule).
func (s *MongoStore) PutTraces(ctx context.Context, traces []TraceRecord) (created []bool, err error) {
	traces, err = prepareTraces(traces, time.Now())
	if err != nil {
		return nil, fmt.Errorf("put traces: %w", err)
	}
	created = make([]bool, len(traces))
	for i, t := range traces {
		if created[i], err = s.putTrace(ctx, t); err != nil {
			return nil, err
		}
	}
	return created, nil
}

func (s *MongoStore) putTrace(ctx context.Context, t TraceRecord) (created bool, err error) {
	doc := mongoTrace{ID: t.TraceID, RequestID: t.RequestID, AuthorID: t.AuthorID, Author: t.Author,
		CreatedAt: t.CreatedAt, Trace: string(t.Trace)}
	coll := s.db.Collection(Traces)
	for range 2 {
		var res *mongo.UpdateResult
		res, err = coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: t.TraceID}}, doc, options.Replace().SetUpsert(true))
		if err == nil {
			return res.UpsertedCount == 1, nil
		}
		// Two upserts of a new trace at once: the loser collides with the
		// winner's insert, and replaces it on the second try.
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	return false, fmt.Errorf("put trace %s: %w", t.TraceID, err)
}

// AddFeedback implements TraceStore: $setOnInsert with upsert, so a rating
// stored already is left as it was.
func (s *MongoStore) AddFeedback(ctx context.Context, fb FeedbackRecord) (added bool, err error) {
	fb, err = prepareFeedback(fb)
	if err != nil {
		return false, fmt.Errorf("add feedback: %w", err)
	}
	set := bson.D{
		{Key: "request_id", Value: fb.RequestID},
		{Key: "trace_id", Value: fb.TraceID},
		{Key: "rating", Value: fb.Rating},
		{Key: "comment", Value: fb.Comment},
		{Key: "stored_at", Value: storeTime(time.Now())},
	}
	if !fb.CreatedAt.IsZero() {
		set = append(set, bson.E{Key: "created_at", Value: fb.CreatedAt})
	}
	res, err := s.db.Collection(Feedback).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: feedbackID(fb)}},
		bson.D{{Key: "$setOnInsert", Value: set}},
		options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		return false, nil // a concurrent copy of the same rating won
	}
	if err != nil {
		return false, fmt.Errorf("add feedback on %s: %w", fb.RequestID, err)
	}
	return res.UpsertedCount == 1, nil
}

// GetTrace implements TraceStore.
func (s *MongoStore) GetTrace(ctx context.Context, traceID string) (TraceRecord, error) {
	t, err := s.oneTrace(ctx, bson.D{{Key: "_id", Value: traceID}}, nil)
	if err != nil {
		return TraceRecord{}, fmt.Errorf("get trace %s: %w", traceID, err)
	}
	return t, nil
}

// TraceByRequest implements TraceStore.
func (s *MongoStore) TraceByRequest(ctx context.Context, requestID string) (TraceRecord, error) {
	if requestID == "" {
		return TraceRecord{}, fmt.Errorf("trace of request %q: %w", requestID, ErrNotFound)
	}
	t, err := s.oneTrace(ctx, bson.D{{Key: "request_id", Value: requestID}}, newestFirst())
	if err != nil {
		return TraceRecord{}, fmt.Errorf("trace of request %s: %w", requestID, err)
	}
	return t, nil
}

func newestFirst() bson.D {
	return bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}
}

func (s *MongoStore) oneTrace(ctx context.Context, filter, sort bson.D) (TraceRecord, error) {
	opts := options.FindOne()
	if sort != nil {
		opts.SetSort(sort)
	}
	var m mongoTrace
	err := s.db.Collection(Traces).FindOne(ctx, filter, opts).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return TraceRecord{}, ErrNotFound
	}
	if err != nil {
		return TraceRecord{}, err
	}
	traces := []TraceRecord{m.record()}
	if err := s.joinFeedback(ctx, traces); err != nil {
		return TraceRecord{}, err
	}
	return traces[0], nil
}

// ListTraces implements TraceStore.
func (s *MongoStore) ListTraces(ctx context.Context, opts TraceListOptions) ([]TraceRecord, error) {
	filter := bson.D{}
	if opts.Author != "" {
		filter = append(filter, bson.E{Key: "author_id", Value: AuthorID(opts.Author)})
	}
	if !opts.Before.IsZero() {
		filter = append(filter, bson.E{Key: "created_at", Value: bson.D{{Key: "$lt", Value: storeTime(opts.Before)}}})
	}
	cur, err := s.db.Collection(Traces).Find(ctx, filter,
		options.Find().SetSort(newestFirst()).SetLimit(int64(traceLimit(opts))))
	if err != nil {
		return nil, fmt.Errorf("list traces: %w", err)
	}
	var found []mongoTrace
	if err := cur.All(ctx, &found); err != nil {
		return nil, fmt.Errorf("list traces: %w", err)
	}
	traces := make([]TraceRecord, len(found))
	for i, m := range found {
		traces[i] = m.record()
	}
	if err := s.joinFeedback(ctx, traces); err != nil {
		return nil, fmt.Errorf("list traces: %w", err)
	}
	return traces, nil
}

// inChunk bounds the values of one $in list.
const inChunk = 1000

// joinFeedback reads the feedback of traces' requests and attaches it.
func (s *MongoStore) joinFeedback(ctx context.Context, traces []TraceRecord) error {
	byRequest := make(map[string][]FeedbackRecord)
	for chunk := range slices.Chunk(requestIDs(traces), inChunk) {
		cur, err := s.db.Collection(Feedback).Find(ctx,
			bson.D{{Key: "request_id", Value: bson.D{{Key: "$in", Value: chunk}}}},
			options.Find().SetSort(bson.D{{Key: "request_id", Value: 1}, {Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
		if err != nil {
			return fmt.Errorf("read feedback: %w", err)
		}
		var found []mongoFeedback
		if err := cur.All(ctx, &found); err != nil {
			return fmt.Errorf("read feedback: %w", err)
		}
		for _, m := range found {
			byRequest[m.RequestID] = append(byRequest[m.RequestID], m.record())
		}
	}
	joinFeedback(traces, byRequest)
	return nil
}

// ExpireTraces implements TraceStore. Without transactions it works in
// steps: collect the requests whose feedback may go, delete the traces,
// then delete the feedback of those requests that no remaining trace
// holds. A trace of one of those requests written in between loses its
// older feedback; a rating written in between survives until the next
// sweep. Both are within the retention's slack.
func (s *MongoStore) ExpireTraces(ctx context.Context, before time.Time) (int64, error) {
	cut := storeTime(before)
	older := bson.D{{Key: "$lt", Value: cut}}
	expiring, err := s.requestsOf(ctx, Traces, bson.D{{Key: "created_at", Value: older}, {Key: "request_id", Value: bson.D{{Key: "$ne", Value: ""}}}})
	if err != nil {
		return 0, fmt.Errorf("expire traces: %w", err)
	}
	oldRatings, err := s.requestsOf(ctx, Feedback, bson.D{{Key: "stored_at", Value: older}})
	if err != nil {
		return 0, fmt.Errorf("expire traces: %w", err)
	}
	res, err := s.db.Collection(Traces).DeleteMany(ctx, bson.D{{Key: "created_at", Value: older}})
	if err != nil {
		return 0, fmt.Errorf("expire traces: %w", err)
	}
	live, err := s.requestsWithTraces(ctx, append(slices.Clone(expiring), oldRatings...))
	if err != nil {
		return res.DeletedCount, fmt.Errorf("expire traces: %w", err)
	}
	gone := func(ids []string) []string {
		return slices.DeleteFunc(ids, func(id string) bool { return live[id] })
	}
	fb := s.db.Collection(Feedback)
	for chunk := range slices.Chunk(gone(expiring), inChunk) {
		if _, err := fb.DeleteMany(ctx, bson.D{{Key: "request_id", Value: bson.D{{Key: "$in", Value: chunk}}}}); err != nil {
			return res.DeletedCount, fmt.Errorf("expire traces: feedback: %w", err)
		}
	}
	for chunk := range slices.Chunk(gone(oldRatings), inChunk) {
		if _, err := fb.DeleteMany(ctx, bson.D{
			{Key: "request_id", Value: bson.D{{Key: "$in", Value: chunk}}},
			{Key: "stored_at", Value: older},
		}); err != nil {
			return res.DeletedCount, fmt.Errorf("expire traces: orphan feedback: %w", err)
		}
	}
	return res.DeletedCount, nil
}

// requestsOf lists the distinct request ids of the documents of collection
// that match filter.
func (s *MongoStore) requestsOf(ctx context.Context, collection string, filter bson.D) ([]string, error) {
	cur, err := s.db.Collection(collection).Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "request_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", collection, err)
	}
	var found []struct {
		RequestID string `bson:"request_id"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return nil, fmt.Errorf("read %s: %w", collection, err)
	}
	seen := make(map[string]bool, len(found))
	var ids []string
	for _, f := range found {
		if f.RequestID != "" && !seen[f.RequestID] {
			seen[f.RequestID] = true
			ids = append(ids, f.RequestID)
		}
	}
	return ids, nil
}

// requestsWithTraces says which of requests still have a trace.
func (s *MongoStore) requestsWithTraces(ctx context.Context, requests []string) (map[string]bool, error) {
	live := make(map[string]bool)
	for chunk := range slices.Chunk(requests, inChunk) {
		ids, err := s.requestsOf(ctx, Traces, bson.D{{Key: "request_id", Value: bson.D{{Key: "$in", Value: chunk}}}})
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			live[id] = true
		}
	}
	return live, nil
}
