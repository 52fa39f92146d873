package warehouse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// datasetTablesSQL is the migration step of the dataset records: the record
// as JSON beside the columns the listing filters and sorts on (created_at
// in milliseconds, as the traces keep it).
const datasetTablesSQL = `
	CREATE TABLE datasets (
		id         TEXT PRIMARY KEY,
		kind       TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		record     TEXT NOT NULL
	);
	CREATE INDEX datasets_created ON datasets(created_at, id);
	`

// PutDataset implements DatasetStore.
func (s *SQLiteStore) PutDataset(ctx context.Context, rec DatasetRecord) error {
	rec, err := prepareDataset(rec, time.Now())
	if err != nil {
		return fmt.Errorf("put dataset: %w", err)
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("put dataset %s: %w", rec.ID, err)
	}
	// Bound as a string, so that SQLite stores TEXT.
	if _, err := s.write.ExecContext(ctx, `INSERT INTO datasets(id, kind, created_at, record) VALUES (?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, created_at = excluded.created_at, record = excluded.record`,
		rec.ID, rec.Kind, unixMS(rec.CreatedAt), string(body)); err != nil {
		return fmt.Errorf("put dataset %s: %w", rec.ID, err)
	}
	return nil
}

// GetDataset implements DatasetStore.
func (s *SQLiteStore) GetDataset(ctx context.Context, id string) (DatasetRecord, error) {
	var body string
	err := s.read.QueryRowContext(ctx, `SELECT record FROM datasets WHERE id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return DatasetRecord{}, fmt.Errorf("get dataset %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return DatasetRecord{}, fmt.Errorf("get dataset %s: %w", id, err)
	}
	var rec DatasetRecord
	if err := json.Unmarshal([]byte(body), &rec); err != nil {
		return DatasetRecord{}, fmt.Errorf("get dataset %s: %w", id, err)
	}
	return rec, nil
}

// ListDatasets implements DatasetStore.
func (s *SQLiteStore) ListDatasets(ctx context.Context, opts DatasetListOptions) ([]DatasetRecord, error) {
	q := `SELECT record FROM datasets`
	var args []any
	if opts.Kind != "" {
		q += ` WHERE kind = ?`
		args = append(args, opts.Kind)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	rows, err := s.read.QueryContext(ctx, q, append(args, datasetLimit(opts))...)
	if err != nil {
		return nil, fmt.Errorf("list datasets: %w", err)
	}
	defer rows.Close()
	out := []DatasetRecord{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("list datasets: %w", err)
		}
		var rec DatasetRecord
		if err := json.Unmarshal([]byte(body), &rec); err != nil {
			return nil, fmt.Errorf("list datasets: %w", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list datasets: %w", err)
	}
	return out, nil
}
