package warehouse

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// judgmentCounter is the counters document that hands out judgment seqs.
const judgmentCounter = "judgment_seq"

// mongoJudgment is a JudgmentRecord as stored in the judgments collection.
type mongoJudgment struct {
	ID         string    `bson:"_id"`
	Seq        int64     `bson:"seq"`
	Query      string    `bson:"query"`
	DocumentID string    `bson:"document_id"`
	Grade      int       `bson:"grade"`
	Source     string    `bson:"source"`
	RequestID  string    `bson:"request_id,omitempty"`
	TraceID    string    `bson:"trace_id,omitempty"`
	CreatedAt  time.Time `bson:"created_at"`
	// Writer is a random token of the PutJudgments call that inserted it:
	// after a collision it tells this call's insert from a concurrent
	// copy's, even when FerretDB handed both the same seq.
	Writer string `bson:"writer"`
}

func (m mongoJudgment) record() JudgmentRecord {
	return JudgmentRecord{ID: m.ID, Seq: m.Seq, Query: m.Query, DocumentID: m.DocumentID, Grade: m.Grade,
		Source: m.Source, RequestID: m.RequestID, TraceID: m.TraceID, CreatedAt: storeTime(m.CreatedAt)}
}

// ensureJudgmentIndexes creates the index of the judgments: seq, unique, so
// that a seq handed out twice (FerretDB's non-atomic $inc) is refused and
// retried rather than stored twice.
func (s *MongoStore) ensureJudgmentIndexes(ctx context.Context) error {
	// One index per command (see ensureIndexes).
	for _, idx := range []mongo.IndexModel{
		{Keys: bson.D{{Key: "seq", Value: 1}}, Options: options.Index().SetName("seq").SetUnique(true)},
		// JudgmentsOfRequest.
		{Keys: bson.D{{Key: "request_id", Value: 1}, {Key: "seq", Value: 1}}, Options: options.Index().SetName("request_seq")},
	} {
		if _, err := s.db.Collection(Judgments).Indexes().CreateOne(ctx, idx); err != nil {
			return fmt.Errorf("create indexes on %s: %w", Judgments, err)
		}
	}
	return nil
}

// PutJudgments implements JudgmentStore: the ids already stored are
// skipped, the others get seqs from the counter (one $inc for all) and are
// inserted. An insert that collides (a concurrent copy of the same judgment,
// or a seq handed out twice) is sorted out by reading back what is stored:
// a judgment stored with this call's writer token was added here, one
// stored with another token was added by someone else, one not stored at
// all lost its seq and is tried again with a new one.
//
// Seqs are allocated before the writes and MongoDB has no transaction here,
// so two writers may commit out of order: a reader paging by After can see
// seq N+1 before N, and a seq whose write failed is never stored (a gap).
func (s *MongoStore) PutJudgments(ctx context.Context, js []JudgmentRecord) (added int, err error) {
	js, err = prepareJudgments(js, time.Now())
	if err != nil {
		return 0, fmt.Errorf("put judgments: %w", err)
	}
	pending, err := s.newJudgments(ctx, js)
	if err != nil {
		return 0, fmt.Errorf("put %d judgments: %w", len(js), err)
	}
	writer := rand.Text()
	for range mongoWriteAttempts {
		if len(pending) == 0 {
			return added, nil
		}
		var n int
		n, pending, err = s.insertJudgments(ctx, writer, pending)
		added += n
		if err != nil {
			return added, fmt.Errorf("put %d judgments: %w", len(js), err)
		}
	}
	return added, fmt.Errorf("put %d judgments: %d still colliding after %d attempts", len(js), len(pending), mongoWriteAttempts)
}

// newJudgments keeps the judgments of js whose id is not stored yet.
func (s *MongoStore) newJudgments(ctx context.Context, js []JudgmentRecord) ([]JudgmentRecord, error) {
	stored := make(map[string]bool, len(js))
	for chunk := range slices.Chunk(js, inChunk) {
		ids := make([]string, len(chunk))
		for i, j := range chunk {
			ids[i] = j.ID
		}
		found, err := s.storedJudgments(ctx, ids)
		if err != nil {
			return nil, err
		}
		for id := range found {
			stored[id] = true
		}
	}
	return slices.DeleteFunc(slices.Clone(js), func(j JudgmentRecord) bool { return stored[j.ID] }), nil
}

// storedJudgments returns the writer token of each of ids that is stored.
func (s *MongoStore) storedJudgments(ctx context.Context, ids []string) (map[string]string, error) {
	cur, err := s.db.Collection(Judgments).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "writer", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("read judgments: %w", err)
	}
	var found []struct {
		ID     string `bson:"_id"`
		Writer string `bson:"writer"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return nil, fmt.Errorf("read judgments: %w", err)
	}
	out := make(map[string]string, len(found))
	for _, f := range found {
		out[f.ID] = f.Writer
	}
	return out, nil
}

// insertJudgments gives js fresh seqs and inserts them; it returns how many
// it added and those that must be tried again.
func (s *MongoStore) insertJudgments(ctx context.Context, writer string, js []JudgmentRecord) (added int, retry []JudgmentRecord, err error) {
	first, err := s.allocate(ctx, judgmentCounter, len(js))
	if err != nil {
		return 0, nil, err
	}
	docs := make([]any, len(js))
	ids := make([]string, len(js))
	for i := range js {
		js[i].Seq = first + int64(i)
		j := js[i]
		ids[i] = j.ID
		docs[i] = mongoJudgment{ID: j.ID, Seq: j.Seq, Query: j.Query, DocumentID: j.DocumentID, Grade: j.Grade,
			Source: j.Source, RequestID: j.RequestID, TraceID: j.TraceID, CreatedAt: j.CreatedAt, Writer: writer}
	}
	_, err = s.db.Collection(Judgments).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return len(js), nil, nil
	}
	if !isOnlyDuplicateKeys(err) {
		return 0, nil, fmt.Errorf("insert judgments: %w", err)
	}
	// The error's indexes are not trusted (FerretDB reports some bulk
	// results at other positions): what is stored says what happened.
	stored, err := s.storedJudgments(ctx, ids)
	if err != nil {
		return 0, nil, err
	}
	for _, j := range js {
		w, ok := stored[j.ID]
		switch {
		case !ok:
			retry = append(retry, j)
		case w == writer:
			added++
		}
	}
	return added, retry, nil
}

// isOnlyDuplicateKeys reports whether every write error of err is a
// duplicate key, the collisions PutJudgments sorts out.
func isOnlyDuplicateKeys(err error) bool {
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) {
		if bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
			return false
		}
		for _, we := range bwe.WriteErrors {
			if !mongo.IsDuplicateKeyError(we) {
				return false
			}
		}
		return true
	}
	return mongo.IsDuplicateKeyError(err)
}

// ListJudgments implements JudgmentStore.
func (s *MongoStore) ListJudgments(ctx context.Context, opts JudgmentListOptions) ([]JudgmentRecord, error) {
	js, err := s.findJudgments(ctx, bson.D{{Key: "seq", Value: bson.D{{Key: "$gt", Value: opts.After}}}}, opts.Limit)
	if err != nil {
		return nil, fmt.Errorf("list judgments: %w", err)
	}
	return js, nil
}

// JudgmentsOfRequest returns the judgments of the sources of one chat
// request, in seq order (none for "": imports have no request).
func (s *MongoStore) JudgmentsOfRequest(ctx context.Context, requestID string) ([]JudgmentRecord, error) {
	if requestID == "" {
		return []JudgmentRecord{}, nil
	}
	js, err := s.findJudgments(ctx, bson.D{{Key: "request_id", Value: requestID}}, 0)
	if err != nil {
		return nil, fmt.Errorf("judgments of request %s: %w", requestID, err)
	}
	return js, nil
}

// findJudgments returns the judgments matching filter in seq order, at
// most limit of them (no limit when <= 0).
func (s *MongoStore) findJudgments(ctx context.Context, filter bson.D, limit int) ([]JudgmentRecord, error) {
	find := options.Find().SetSort(bson.D{{Key: "seq", Value: 1}})
	if limit > 0 {
		find.SetLimit(int64(limit))
	}
	cur, err := s.db.Collection(Judgments).Find(ctx, filter, find)
	if err != nil {
		return nil, err
	}
	var found []mongoJudgment
	if err := cur.All(ctx, &found); err != nil {
		return nil, err
	}
	out := make([]JudgmentRecord, len(found))
	for i, m := range found {
		out[i] = m.record()
	}
	return out, nil
}
