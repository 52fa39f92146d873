package warehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// mongoDataset is a DatasetRecord as stored in the datasets collection: the
// record as JSON text (as the traces are kept) beside the fields the
// listing filters and sorts on. The collection has no index but _id: a
// deployment builds a few datasets a day, and a scan of them is cheap.
type mongoDataset struct {
	ID        string    `bson:"_id"`
	Kind      string    `bson:"kind"`
	CreatedAt time.Time `bson:"created_at"`
	Record    string    `bson:"record"`
}

func (m mongoDataset) record() (DatasetRecord, error) {
	var rec DatasetRecord
	if err := json.Unmarshal([]byte(m.Record), &rec); err != nil {
		return DatasetRecord{}, fmt.Errorf("dataset %s: %w", m.ID, err)
	}
	return rec, nil
}

// PutDataset implements DatasetStore.
func (s *MongoStore) PutDataset(ctx context.Context, rec DatasetRecord) error {
	rec, err := prepareDataset(rec, time.Now())
	if err != nil {
		return fmt.Errorf("put dataset: %w", err)
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("put dataset %s: %w", rec.ID, err)
	}
	m := mongoDataset{ID: rec.ID, Kind: rec.Kind, CreatedAt: rec.CreatedAt, Record: string(body)}
	if _, err := s.db.Collection(Datasets).ReplaceOne(ctx, bson.D{{Key: "_id", Value: rec.ID}}, m,
		options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("put dataset %s: %w", rec.ID, err)
	}
	return nil
}

// GetDataset implements DatasetStore.
func (s *MongoStore) GetDataset(ctx context.Context, id string) (DatasetRecord, error) {
	var m mongoDataset
	err := s.db.Collection(Datasets).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return DatasetRecord{}, fmt.Errorf("get dataset %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return DatasetRecord{}, fmt.Errorf("get dataset %s: %w", id, err)
	}
	return m.record()
}

// ListDatasets implements DatasetStore.
func (s *MongoStore) ListDatasets(ctx context.Context, opts DatasetListOptions) ([]DatasetRecord, error) {
	filter := bson.D{}
	if opts.Kind != "" {
		filter = append(filter, bson.E{Key: "kind", Value: opts.Kind})
	}
	cur, err := s.db.Collection(Datasets).Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(datasetLimit(opts))))
	if err != nil {
		return nil, fmt.Errorf("list datasets: %w", err)
	}
	var found []mongoDataset
	if err := cur.All(ctx, &found); err != nil {
		return nil, fmt.Errorf("list datasets: %w", err)
	}
	out := make([]DatasetRecord, 0, len(found))
	for _, m := range found {
		rec, err := m.record()
		if err != nil {
			return nil, fmt.Errorf("list datasets: %w", err)
		}
		out = append(out, rec)
	}
	return out, nil
}
