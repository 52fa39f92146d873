package warehouse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// modelTablesSQL is migration step 3: the model registry. A version is
// kept as its JSON record beside the columns the store looks it up by;
// version is an integer so that the next one is MAX + 1.
const modelTablesSQL = `
	CREATE TABLE models (
		name    TEXT NOT NULL,
		version INTEGER NOT NULL,
		job_id  TEXT NOT NULL,
		record  TEXT NOT NULL,
		PRIMARY KEY (name, version)
	) WITHOUT ROWID;
	CREATE UNIQUE INDEX models_job ON models(name, job_id) WHERE job_id != '';
	`

// AddModel implements ModelStore. The lookup of the job and the choice of
// the next version are in the write transaction, so concurrent adds of the
// same job or name cannot both win.
func (s *SQLiteStore) AddModel(ctx context.Context, m ModelRecord) (ModelRecord, error) {
	m, err := prepareModel(m, time.Now())
	if err != nil {
		return ModelRecord{}, fmt.Errorf("add model: %w", err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return ModelRecord{}, fmt.Errorf("add model %s: begin: %w", m.Name, err)
	}
	defer tx.Rollback()
	if m.JobID != "" {
		var record string
		err := tx.QueryRowContext(ctx, `SELECT record FROM models WHERE name = ? AND job_id = ?`, m.Name, m.JobID).Scan(&record)
		switch {
		case err == nil:
			return decodeModel(record)
		case !errors.Is(err, sql.ErrNoRows):
			return ModelRecord{}, fmt.Errorf("add model %s: %w", m.Name, err)
		}
	}
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM models WHERE name = ?`, m.Name).Scan(&last); err != nil {
		return ModelRecord{}, fmt.Errorf("add model %s: %w", m.Name, err)
	}
	m.Version = strconv.FormatInt(last+1, 10)
	record, err := json.Marshal(m)
	if err != nil {
		return ModelRecord{}, fmt.Errorf("add model %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO models(name, version, job_id, record) VALUES (?, ?, ?, ?)`,
		m.Name, last+1, m.JobID, string(record)); err != nil {
		return ModelRecord{}, fmt.Errorf("add model %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return ModelRecord{}, fmt.Errorf("add model %s: commit: %w", m.Name, err)
	}
	return m, nil
}

// UpdateModels implements ModelStore, in one transaction.
func (s *SQLiteStore) UpdateModels(ctx context.Context, ms []ModelRecord) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update models: begin: %w", err)
	}
	defer tx.Rollback()
	now := storeTime(time.Now())
	for _, m := range ms {
		v, err := strconv.ParseInt(m.Version, 10, 64)
		if err != nil {
			return fmt.Errorf("update model %s: %w: version %q", m.Name, ErrNotFound, m.Version)
		}
		m.UpdatedAt = now
		record, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("update model %s/%s: %w", m.Name, m.Version, err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE models SET record = ? WHERE name = ? AND version = ?`, string(record), m.Name, v)
		if err != nil {
			return fmt.Errorf("update model %s/%s: %w", m.Name, m.Version, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("update model %s/%s: %w", m.Name, m.Version, ErrNotFound)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update models: commit: %w", err)
	}
	return nil
}

// ListModels implements ModelStore.
func (s *SQLiteStore) ListModels(ctx context.Context, name string) ([]ModelRecord, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT record FROM models WHERE ? = '' OR name = ? ORDER BY name, version DESC`, name, name)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	defer rows.Close()
	var out []ModelRecord
	for rows.Next() {
		var record string
		if err := rows.Scan(&record); err != nil {
			return nil, fmt.Errorf("list models: %w", err)
		}
		m, err := decodeModel(record)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	return out, nil
}

// decodeModel reads a stored record.
func decodeModel(record string) (ModelRecord, error) {
	var m ModelRecord
	if err := json.Unmarshal([]byte(record), &m); err != nil {
		return ModelRecord{}, fmt.Errorf("read model record: %w", err)
	}
	return m, nil
}
