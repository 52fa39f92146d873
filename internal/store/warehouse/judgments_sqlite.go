package warehouse

import (
	"context"
	"fmt"
	"time"
)

// judgmentTablesSQL is migration step 4: the relevance judgments. seq is
// the rowid, AUTOINCREMENT so that a number is never handed out twice even
// after the newest rows are deleted: a reader that remembers the last seq it
// read never misses a judgment stored later.
const judgmentTablesSQL = `
	CREATE TABLE judgments (
		seq         INTEGER PRIMARY KEY AUTOINCREMENT,
		id          TEXT NOT NULL UNIQUE,
		query       TEXT NOT NULL,
		document_id TEXT NOT NULL,
		grade       INTEGER NOT NULL,
		source      TEXT NOT NULL,
		request_id  TEXT NOT NULL,
		trace_id    TEXT NOT NULL,
		created_at  INTEGER NOT NULL
	);
	CREATE INDEX judgments_request ON judgments(request_id, seq) WHERE request_id != '';
	`

// PutJudgments implements JudgmentStore in one transaction: seq follows
// commit order, so a reader paging by After never sees a hole fill later.
func (s *SQLiteStore) PutJudgments(ctx context.Context, js []JudgmentRecord) (added int, err error) {
	js, err = prepareJudgments(js, time.Now())
	if err != nil {
		return 0, fmt.Errorf("put judgments: %w", err)
	}
	if len(js) == 0 {
		return 0, nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("put %d judgments: begin: %w", len(js), err)
	}
	defer tx.Rollback()
	insert, err := tx.PrepareContext(ctx, `INSERT INTO judgments(id, query, document_id, grade, source, request_id, trace_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`)
	if err != nil {
		return 0, fmt.Errorf("put %d judgments: %w", len(js), err)
	}
	defer insert.Close()
	for _, j := range js {
		res, err := insert.ExecContext(ctx, j.ID, j.Query, j.DocumentID, j.Grade, j.Source, j.RequestID, j.TraceID, unixMS(j.CreatedAt))
		if err != nil {
			return 0, fmt.Errorf("put judgment %s: %w", j.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("put judgment %s: %w", j.ID, err)
		}
		added += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("put %d judgments: commit: %w", len(js), err)
	}
	return added, nil
}

const judgmentColumns = `seq, id, query, document_id, grade, source, request_id, trace_id, created_at`

// ListJudgments implements JudgmentStore.
func (s *SQLiteStore) ListJudgments(ctx context.Context, opts JudgmentListOptions) ([]JudgmentRecord, error) {
	limit := int64(opts.Limit)
	if limit <= 0 {
		limit = -1 // SQLite's "no limit"
	}
	js, err := s.queryJudgments(ctx, `SELECT `+judgmentColumns+` FROM judgments WHERE seq > ? ORDER BY seq LIMIT ?`, opts.After, limit)
	if err != nil {
		return nil, fmt.Errorf("list judgments: %w", err)
	}
	return js, nil
}

// JudgmentsOfRequest returns the judgments of the sources of one chat
// request, in seq order (none for "": imports have no request).
func (s *SQLiteStore) JudgmentsOfRequest(ctx context.Context, requestID string) ([]JudgmentRecord, error) {
	if requestID == "" {
		return []JudgmentRecord{}, nil
	}
	js, err := s.queryJudgments(ctx, `SELECT `+judgmentColumns+` FROM judgments WHERE request_id = ? AND request_id != '' ORDER BY seq`, requestID)
	if err != nil {
		return nil, fmt.Errorf("judgments of request %s: %w", requestID, err)
	}
	return js, nil
}

func (s *SQLiteStore) queryJudgments(ctx context.Context, query string, args ...any) ([]JudgmentRecord, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []JudgmentRecord{}
	for rows.Next() {
		var (
			j       JudgmentRecord
			created int64
		)
		if err := rows.Scan(&j.Seq, &j.ID, &j.Query, &j.DocumentID, &j.Grade, &j.Source, &j.RequestID, &j.TraceID, &created); err != nil {
			return nil, err
		}
		j.CreatedAt = fromUnixMS(created)
		out = append(out, j)
	}
	return out, rows.Err()
}
