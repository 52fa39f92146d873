package warehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// mongoModel is a ModelRecord as stored in the models collection. The _id
// is "<name>/<version>", so inserting a version twice fails on the primary
// key: two writers that pick the same next version cannot both win, and the
// loser picks again. The record is JSON text, like a trace: its metrics map
// has keys ("ndcg@10") that need no care that way.
type mongoModel struct {
	ID      string `bson:"_id"`
	Name    string `bson:"name"`
	Version int64  `bson:"version"`
	JobID   string `bson:"job_id"`
	Record  string `bson:"record"`
}

// AddModel implements ModelStore.
func (s *MongoStore) AddModel(ctx context.Context, m ModelRecord) (ModelRecord, error) {
	m, err := prepareModel(m, time.Now())
	if err != nil {
		return ModelRecord{}, fmt.Errorf("add model: %w", err)
	}
	coll := s.db.Collection(Models)
	for {
		if m.JobID != "" {
			var have mongoModel
			err := coll.FindOne(ctx, bson.D{{Key: "name", Value: m.Name}, {Key: "job_id", Value: m.JobID}}).Decode(&have)
			switch {
			case err == nil:
				return decodeModel(have.Record)
			case !errors.Is(err, mongo.ErrNoDocuments):
				return ModelRecord{}, fmt.Errorf("add model %s: %w", m.Name, err)
			}
		}
		var last mongoModel
		err := coll.FindOne(ctx, bson.D{{Key: "name", Value: m.Name}},
			options.FindOne().SetSort(bson.D{{Key: "version", Value: -1}})).Decode(&last)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return ModelRecord{}, fmt.Errorf("add model %s: %w", m.Name, err)
		}
		next := last.Version + 1
		m.Version = strconv.FormatInt(next, 10)
		record, err := json.Marshal(m)
		if err != nil {
			return ModelRecord{}, fmt.Errorf("add model %s: %w", m.Name, err)
		}
		_, err = coll.InsertOne(ctx, mongoModel{ID: m.Name + "/" + m.Version, Name: m.Name, Version: next, JobID: m.JobID, Record: string(record)})
		if err == nil {
			return m, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return ModelRecord{}, fmt.Errorf("add model %s: %w", m.Name, err)
		}
		// Another writer took this version: look again.
		if err := ctx.Err(); err != nil {
			return ModelRecord{}, fmt.Errorf("add model %s: %w", m.Name, err)
		}
	}
}

// UpdateModels implements ModelStore: one write per version, in order.
func (s *MongoStore) UpdateModels(ctx context.Context, ms []ModelRecord) error {
	coll := s.db.Collection(Models)
	now := storeTime(time.Now())
	for _, m := range ms {
		m.UpdatedAt = now
		record, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("update model %s/%s: %w", m.Name, m.Version, err)
		}
		res, err := coll.UpdateByID(ctx, m.Name+"/"+m.Version, bson.D{{Key: "$set", Value: bson.D{{Key: "record", Value: string(record)}}}})
		if err != nil {
			return fmt.Errorf("update model %s/%s: %w", m.Name, m.Version, err)
		}
		if res.MatchedCount == 0 {
			return fmt.Errorf("update model %s/%s: %w", m.Name, m.Version, ErrNotFound)
		}
	}
	return nil
}

// ListModels implements ModelStore.
func (s *MongoStore) ListModels(ctx context.Context, name string) ([]ModelRecord, error) {
	filter := bson.D{}
	if name != "" {
		filter = bson.D{{Key: "name", Value: name}}
	}
	cur, err := s.db.Collection(Models).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "name", Value: 1}, {Key: "version", Value: -1}}))
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	var docs []mongoModel
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	out := make([]ModelRecord, 0, len(docs))
	for _, d := range docs {
		m, err := decodeModel(d.Record)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
