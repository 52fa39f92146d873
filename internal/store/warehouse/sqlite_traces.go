package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// traceTablesSQL is migration step 2: the prompt traces and their feedback.
// Times are INTEGER milliseconds since the epoch (0 for none), so that
// ranges and ordering are plain integer comparisons on the indexes.
//
// Feedback has a table of its own rather than a column of traces, because
// it may arrive before its trace, and because rewriting a redelivered trace
// must not lose it; it is joined on read by request id. stored_at is when
// the store first saw a rating: created_at comes from the user's side, may
// be absent, and must not decide when an orphan rating is swept.
const traceTablesSQL = `
	CREATE TABLE traces (
		trace_id   TEXT PRIMARY KEY,
		request_id TEXT NOT NULL,
		author_id  TEXT NOT NULL,
		author     TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		trace      TEXT NOT NULL
	);
	CREATE INDEX traces_created ON traces(created_at, trace_id);
	CREATE INDEX traces_request ON traces(request_id, created_at);
	CREATE INDEX traces_author ON traces(author_id, created_at, trace_id);
	CREATE TABLE feedback (
		request_id TEXT NOT NULL,
		key        TEXT NOT NULL,
		trace_id   TEXT NOT NULL,
		rating     INTEGER NOT NULL,
		comment    TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		stored_at  INTEGER NOT NULL,
		PRIMARY KEY (request_id, key)
	) WITHOUT ROWID;
	CREATE INDEX feedback_stored ON feedback(stored_at);
	`

const traceColumns = `trace_id, request_id, author_id, author, created_at, trace`

// PutTraces implements TraceStore: the whole batch is one transaction, one
// commit (one fsync under synchronous=FULL) for all of it, and the existence
// checks are inside it, so created is exact even with concurrent writers of
// the same trace.
func (s *SQLiteStore) PutTraces(ctx context.Context, traces []TraceRecord) (created []bool, err error) {
	traces, err = prepareTraces(traces, time.Now())
	if err != nil {
		return nil, fmt.Errorf("put traces: %w", err)
	}
	if len(traces) == 0 {
		return nil, nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("put %d traces: begin: %w", len(traces), err)
	}
	defer tx.Rollback()
	exists, err := tx.PrepareContext(ctx, `SELECT 1 FROM traces WHERE trace_id = ?`)
	if err != nil {
		return nil, fmt.Errorf("put %d traces: %w", len(traces), err)
	}
	defer exists.Close()
	// The trace is bound as a string, so that SQLite stores TEXT (see
	// sqliteWrite.encode).
	upsert, err := tx.PrepareContext(ctx, `INSERT INTO traces(`+traceColumns+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(trace_id) DO UPDATE SET request_id = excluded.request_id, author_id = excluded.author_id,
			author = excluded.author, created_at = excluded.created_at, trace = excluded.trace`)
	if err != nil {
		return nil, fmt.Errorf("put %d traces: %w", len(traces), err)
	}
	defer upsert.Close()
	created = make([]bool, len(traces))
	for i, t := range traces {
		// In batch order: a trace twice in one batch is created by the
		// first copy and replaced by the second.
		var one int
		err := exists.QueryRowContext(ctx, t.TraceID).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created[i] = true
		case err != nil:
			return nil, fmt.Errorf("put trace %s: %w", t.TraceID, err)
		}
		if _, err := upsert.ExecContext(ctx, t.TraceID, t.RequestID, t.AuthorID, t.Author, unixMS(t.CreatedAt), string(t.Trace)); err != nil {
			return nil, fmt.Errorf("put trace %s: %w", t.TraceID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("put %d traces: commit: %w", len(traces), err)
	}
	return created, nil
}

// AddFeedback implements TraceStore. A rating already stored is left as it
// was (DO NOTHING), its first stored_at included.
func (s *SQLiteStore) AddFeedback(ctx context.Context, fb FeedbackRecord) (added bool, err error) {
	fb, err = prepareFeedback(fb)
	if err != nil {
		return false, fmt.Errorf("add feedback: %w", err)
	}
	res, err := s.write.ExecContext(ctx, `INSERT INTO feedback(request_id, key, trace_id, rating, comment, created_at, stored_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(request_id, key) DO NOTHING`,
		fb.RequestID, FeedbackKey(fb), fb.TraceID, fb.Rating, fb.Comment, unixMS(fb.CreatedAt), unixMS(storeTime(time.Now())))
	if err != nil {
		return false, fmt.Errorf("add feedback on %s: %w", fb.RequestID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("add feedback on %s: %w", fb.RequestID, err)
	}
	return n == 1, nil
}

// GetTrace implements TraceStore.
func (s *SQLiteStore) GetTrace(ctx context.Context, traceID string) (TraceRecord, error) {
	t, err := s.oneTrace(ctx, `SELECT `+traceColumns+` FROM traces WHERE trace_id = ?`, traceID)
	if err != nil {
		return TraceRecord{}, fmt.Errorf("get trace %s: %w", traceID, err)
	}
	return t, nil
}

// TraceByRequest implements TraceStore.
func (s *SQLiteStore) TraceByRequest(ctx context.Context, requestID string) (TraceRecord, error) {
	if requestID == "" {
		return TraceRecord{}, fmt.Errorf("trace of request %q: %w", requestID, ErrNotFound)
	}
	t, err := s.oneTrace(ctx, `SELECT `+traceColumns+` FROM traces WHERE request_id = ?
		ORDER BY created_at DESC, trace_id DESC LIMIT 1`, requestID)
	if err != nil {
		return TraceRecord{}, fmt.Errorf("trace of request %s: %w", requestID, err)
	}
	return t, nil
}

// oneTrace runs a query for at most one trace and joins its feedback.
func (s *SQLiteStore) oneTrace(ctx context.Context, query string, args ...any) (TraceRecord, error) {
	traces, err := s.queryTraces(ctx, query, args...)
	if err != nil {
		return TraceRecord{}, err
	}
	if len(traces) == 0 {
		return TraceRecord{}, ErrNotFound
	}
	return traces[0], nil
}

// ListTraces implements TraceStore.
func (s *SQLiteStore) ListTraces(ctx context.Context, opts TraceListOptions) ([]TraceRecord, error) {
	var (
		where []string
		args  []any
	)
	if opts.Author != "" {
		where = append(where, "author_id = ?")
		args = append(args, AuthorID(opts.Author))
	}
	if !opts.Before.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, unixMS(storeTime(opts.Before)))
	}
	q := `SELECT ` + traceColumns + ` FROM traces`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at DESC, trace_id DESC LIMIT ?`
	traces, err := s.queryTraces(ctx, q, append(args, traceLimit(opts))...)
	if err != nil {
		return nil, fmt.Errorf("list traces: %w", err)
	}
	return traces, nil
}

// queryTraces runs a query selecting traceColumns and joins the feedback of
// the traces it returns.
func (s *SQLiteStore) queryTraces(ctx context.Context, query string, args ...any) ([]TraceRecord, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	traces := []TraceRecord{}
	for rows.Next() {
		var (
			t       TraceRecord
			created int64
			body    string
		)
		if err := rows.Scan(&t.TraceID, &t.RequestID, &t.AuthorID, &t.Author, &created, &body); err != nil {
			return nil, err
		}
		t.CreatedAt = fromUnixMS(created)
		t.Trace = []byte(body)
		traces = append(traces, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	fb, err := s.feedbackOf(ctx, requestIDs(traces))
	if err != nil {
		return nil, err
	}
	joinFeedback(traces, fb)
	return traces, nil
}

// feedbackOf reads the feedback of requests, each request's oldest first.
func (s *SQLiteStore) feedbackOf(ctx context.Context, requests []string) (map[string][]FeedbackRecord, error) {
	out := make(map[string][]FeedbackRecord, len(requests))
	for chunk := range slices.Chunk(requests, statesChunk) {
		args := make([]any, len(chunk))
		for i, r := range chunk {
			args[i] = r
		}
		rows, err := s.read.QueryContext(ctx, `SELECT request_id, trace_id, rating, comment, created_at FROM feedback
			WHERE request_id IN (?`+strings.Repeat(`, ?`, len(chunk)-1)+`) ORDER BY request_id, created_at, key`, args...)
		if err != nil {
			return nil, fmt.Errorf("read feedback: %w", err)
		}
		err = func() error {
			defer rows.Close()
			for rows.Next() {
				var (
					fb      FeedbackRecord
					created int64
				)
				if err := rows.Scan(&fb.RequestID, &fb.TraceID, &fb.Rating, &fb.Comment, &created); err != nil {
					return err
				}
				fb.CreatedAt = fromUnixMS(created)
				out[fb.RequestID] = append(out[fb.RequestID], fb)
			}
			return rows.Err()
		}()
		if err != nil {
			return nil, fmt.Errorf("read feedback: %w", err)
		}
	}
	return out, nil
}

// ExpireTraces implements TraceStore, in one transaction: nobody sees the
// traces gone and their feedback still there, or the other way round.
func (s *SQLiteStore) ExpireTraces(ctx context.Context, before time.Time) (int64, error) {
	cut := unixMS(storeTime(before))
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("expire traces: begin: %w", err)
	}
	defer tx.Rollback()
	// The feedback of the expiring traces, unless a newer trace of the same
	// request stays (a retried request).
	if _, err := tx.ExecContext(ctx, `DELETE FROM feedback WHERE request_id IN (
			SELECT request_id FROM traces WHERE created_at < ? AND request_id != '')
		AND NOT EXISTS (SELECT 1 FROM traces t WHERE t.request_id = feedback.request_id AND t.created_at >= ?)`,
		cut, cut); err != nil {
		return 0, fmt.Errorf("expire traces: feedback: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM traces WHERE created_at < ?`, cut)
	if err != nil {
		return 0, fmt.Errorf("expire traces: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("expire traces: %w", err)
	}
	// Ratings whose trace never came, once they are as old as a trace
	// would be.
	if _, err := tx.ExecContext(ctx, `DELETE FROM feedback WHERE stored_at < ?
		AND NOT EXISTS (SELECT 1 FROM traces t WHERE t.request_id = feedback.request_id)`, cut); err != nil {
		return 0, fmt.Errorf("expire traces: orphan feedback: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("expire traces: commit: %w", err)
	}
	return n, nil
}
