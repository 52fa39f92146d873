package warehouse

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// sqliteMigrations lists the schema steps: step i takes a database from
// PRAGMA user_version i to i+1. Append only; never edit a released step.
func sqliteMigrations() []string {
	return []string{
		// 1: the revision counters, the users and the three document tables.
		`CREATE TABLE meta (
		key   TEXT PRIMARY KEY,
		value INTEGER NOT NULL
	);
	INSERT INTO meta(key, value) VALUES ('revision', 0), ('author_revision', 0);
	CREATE TABLE users (
		id       TEXT PRIMARY KEY,
		name     TEXT NOT NULL,
		revision INTEGER NOT NULL,
		doc      TEXT NOT NULL
	);
	CREATE UNIQUE INDEX users_revision ON users(revision);
	` + documentTableSQL(Articles) + documentTableSQL(Posts) + documentTableSQL(Repositories),
		// 2: prompt traces and the feedback on them (sqlite_traces.go).
		traceTablesSQL,
		modelTablesSQL,
		// 4: relevance judgments (judgments_sqlite.go).
		judgmentTablesSQL,
		// 5: the dataset records (sqlite_datasets.go).
		datasetTablesSQL,
		// 6: the live documents by author, which Count reads instead of
		// the rows.
		liveIndexSQL(Articles) + liveIndexSQL(Posts) + liveIndexSQL(Repositories),
		// 7: the stream position of each document's version (SourceSeq).
		sourceSeqSQL(Articles) + sourceSeqSQL(Posts) + sourceSeqSQL(Repositories),
		// 8: names kept as their authors spell them.
		authorSpellingSQL,
	}
}

// authorSpellingSQL gives the authors stored in lowercase (as every name
// was before the store kept their spelling) the spelling of one of their
// documents, when one spells the name with capitals. The ids do not
// change: they derive from the lowercase name.
const authorSpellingSQL = `
	UPDATE users SET name = s.name, doc = json_set(doc, '$.name', s.name)
	FROM (
		SELECT author_id AS id, min(name) AS name FROM (
			SELECT author_id, trim(json_extract(doc, '$.author')) AS name FROM articles
			UNION ALL SELECT author_id, trim(json_extract(doc, '$.author')) FROM posts
			UNION ALL SELECT author_id, trim(json_extract(doc, '$.author')) FROM repositories
		) WHERE name IS NOT NULL AND name <> lower(name) GROUP BY author_id
	) AS s
	WHERE users.id = s.id AND users.name = lower(users.name) AND lower(s.name) = users.name;
`

// documentTableSQL is the table of one document collection: the document as
// JSON beside the columns that the queries filter and sort on.
func documentTableSQL(table string) string {
	return strings.ReplaceAll(`
	CREATE TABLE {t} (
		id           TEXT PRIMARY KEY,
		revision     INTEGER NOT NULL,
		author_id    TEXT NOT NULL,
		link         TEXT NOT NULL,
		content_hash TEXT NOT NULL,
		deleted      INTEGER NOT NULL,
		doc          TEXT NOT NULL
	);
	CREATE UNIQUE INDEX {t}_revision ON {t}(revision);
	CREATE INDEX {t}_author ON {t}(author_id, revision);
	CREATE INDEX {t}_link ON {t}(link);
	`, "{t}", table)
}

// liveIndexSQL is a partial index of table's live documents: Count scans
// it (all of it, or one author's range) without reading a row.
func liveIndexSQL(table string) string {
	return strings.ReplaceAll(`CREATE INDEX {t}_live ON {t}(author_id) WHERE deleted = 0;
	`, "{t}", table)
}

// sourceSeqSQL adds the column of Document.SourceSeq to a document table.
func sourceSeqSQL(table string) string {
	return `ALTER TABLE ` + table + ` ADD COLUMN source_seq INTEGER NOT NULL DEFAULT 0;`
}

// SQLiteStore is the embedded warehouse: one SQLite file in WAL mode.
//
// Writes go through one connection (write), in BEGIN IMMEDIATE
// transactions, so they are serialized in this process and against any
// other process that opens the same file. Reads use a pool of read-only
// connections (read) and never wait for a writer.
type SQLiteStore struct {
	write *sql.DB
	read  *sql.DB
	stmts map[string]*sqliteTableStmts
	// Statements on the meta and users tables, prepared on write.
	getCounter, setCounter, insertUser, respellUser *sql.Stmt
	notes                                           notifier
	checkpoints                                     *checkpointer
}

// sqliteTableStmts are the write statements of one document table,
// prepared once on the write connection.
type sqliteTableStmts struct {
	getDoc, upsert, tombstone *sql.Stmt
}

// SQLiteOption is an optional setting of OpenSQLite.
type SQLiteOption func(*sqliteOptions)

type sqliteOptions struct {
	fullSync bool
}

// SQLiteFullSync chooses how a commit reaches the disk. With full (PRAGMA
// synchronous=FULL) every commit syncs the WAL before it returns, so a
// committed write survives an OS crash or power cut. Without it (NORMAL,
// the default) the WAL is synced only at checkpoints: a commit survives a
// crash of the process, but a power cut can lose the last commits (never
// corrupt the database).
func SQLiteFullSync(full bool) SQLiteOption {
	return func(o *sqliteOptions) { o.fullSync = full }
}

// OpenSQLite opens (creating it if needed) the warehouse at path and brings
// its schema up to date.
func OpenSQLite(ctx context.Context, path string, opts ...SQLiteOption) (*SQLiteStore, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("%w: sqlite path %q: want a plain file path", ErrInvalid, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open warehouse: %w", err)
	}
	var o sqliteOptions
	for _, opt := range opts {
		opt(&o)
	}
	// WAL: readers never block the writer nor the writer them.
	// synchronous is per connection; every one gets the same, so that the
	// checkpointer syncs as the writer does.
	sync := "NORMAL"
	if o.fullSync {
		sync = "FULL"
	}
	common := "_busy_timeout=10000&_journal_mode=WAL&_synchronous=" + sync + "&_foreign_keys=1"
	// The writer: BEGIN IMMEDIATE, so a write transaction takes the write
	// lock when it starts (waiting on busy_timeout) instead of failing when
	// it first writes. Pages of 16 KB hold a 4 KB document without overflow
	// pages (a new database only: page_size is fixed once the file has
	// tables); 64 MB of page cache. The WAL is checkpointed in the
	// background (checkpointer); the commit that makes it 4096 pages
	// (64 MB) long checkpoints it too, a backstop for bursts (4096 rather
	// than 1000 halves the cost of bulk upserts of 4 KB documents).
	write, err := sql.Open("sqlite", path+"?"+common+
		"&_txlock=immediate&_pragma=page_size(16384)&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(4096)")
	if err != nil {
		return nil, fmt.Errorf("open warehouse %s: %w", path, err)
	}
	// One writer: SQLite allows one anyway, and waiting in the pool is
	// cheaper than spinning on SQLITE_BUSY. The connection is kept open for
	// good, so that the statements prepared on it are prepared once.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	s := &SQLiteStore{write: write, stmts: make(map[string]*sqliteTableStmts)}
	if err := s.migrate(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open warehouse %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", path+"?"+common+"&_query_only=1")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open warehouse %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	s.read = read
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open warehouse %s: %w", path, err)
	}
	ckpt, err := sql.Open("sqlite", path+"?"+common)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open warehouse %s: %w", path, err)
	}
	ckpt.SetMaxOpenConns(1)
	// Close ends the subscription, with every other, when it closes notes.
	commits, _ := s.notes.subscribe()
	s.checkpoints = startCheckpointer(ckpt, commits)
	return s, nil
}

// migrate applies the migrations the database has not seen, each in its
// own transaction with the user_version bump, so a crash leaves the schema
// at a known version. Running it again is a no-op.
//
// The version is read inside each step's transaction (BEGIN IMMEDIATE, the
// write lock): processes that open a new warehouse at the same time (the
// twin run processes of one machine) then take turns, and each applies
// only the steps no other has, instead of all applying the first ones.
func (s *SQLiteStore) migrate(ctx context.Context) error {
	steps := sqliteMigrations()
	for {
		done, err := s.migrateStep(ctx, steps)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next migration, if any; done when there is none.
func (s *SQLiteStore) migrateStep(ctx context.Context, steps []string) (done bool, err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil || done {
			tx.Rollback()
		}
	}()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if v > len(steps) {
		return false, fmt.Errorf("schema version %d is newer than this build knows (%d)", v, len(steps))
	}
	if v == len(steps) {
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
		return false, fmt.Errorf("migrate to %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return false, fmt.Errorf("migrate to %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate to %d: %w", v+1, err)
	}
	return false, nil
}

// prepare prepares the write statements on the write connection.
func (s *SQLiteStore) prepare(ctx context.Context) error {
	p := func(q string) (*sql.Stmt, error) { return s.write.PrepareContext(ctx, q) }
	var err error
	if s.getCounter, err = p(`SELECT value FROM meta WHERE key = ?`); err != nil {
		return err
	}
	if s.setCounter, err = p(`UPDATE meta SET value = ? WHERE key = ?`); err != nil {
		return err
	}
	if s.insertUser, err = p(`INSERT INTO users(id, name, revision, doc) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`); err != nil {
		return err
	}
	if s.respellUser, err = p(`UPDATE users SET name = ?1, doc = json_set(doc, '$.name', ?1) WHERE id = ?2 AND name = ?3`); err != nil {
		return err
	}
	for _, t := range Collections() {
		var ts sqliteTableStmts
		if ts.getDoc, err = p(`SELECT doc FROM ` + t + ` WHERE id = ?`); err != nil {
			return err
		}
		if ts.upsert, err = p(`INSERT INTO ` + t + `(id, revision, author_id, link, content_hash, deleted, doc, source_seq)
			VALUES (?, ?, ?, ?, ?, 0, ?, ?)
			ON CONFLICT(id) DO UPDATE SET revision = excluded.revision, author_id = excluded.author_id,
				link = excluded.link, content_hash = excluded.content_hash, deleted = 0, doc = excluded.doc,
				source_seq = excluded.source_seq`); err != nil {
			return err
		}
		if ts.tombstone, err = p(`UPDATE ` + t + ` SET revision = ?, deleted = 1, doc = ? WHERE id = ?`); err != nil {
			return err
		}
		s.stmts[t] = &ts
	}
	return nil
}

// Synchronous is the writer connection's PRAGMA synchronous: "NORMAL" or
// "FULL" (or "OFF", "EXTRA" for a database someone else configured).
func (s *SQLiteStore) Synchronous(ctx context.Context) (string, error) {
	var level int
	if err := s.write.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&level); err != nil {
		return "", fmt.Errorf("read synchronous: %w", err)
	}
	switch level {
	case 0:
		return "OFF", nil
	case 1:
		return "NORMAL", nil
	case 2:
		return "FULL", nil
	case 3:
		return "EXTRA", nil
	}
	return "", fmt.Errorf("read synchronous: unknown level %d", level)
}

// Close closes the store and every subscription channel.
func (s *SQLiteStore) Close() error {
	s.notes.close()
	var errs []error
	if s.checkpoints != nil {
		errs = append(errs, s.checkpoints.stop())
	}
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	// Closing the last connection checkpoints the WAL into the database.
	errs = append(errs, s.write.Close())
	return errors.Join(errs...)
}

// Subscribe implements Store.
func (s *SQLiteStore) Subscribe() (<-chan struct{}, func()) { return s.notes.subscribe() }

// sqliteWrite is one write transaction with its revision counters, read at
// the start and written back at the end, inside the transaction: revisions
// are therefore allocated in commit order, without gaps (a rolled back
// transaction rolls its counter back too).
type sqliteWrite struct {
	ctx        context.Context
	s          *SQLiteStore
	tx         *sql.Tx
	now        time.Time
	rev, first int64 // last revision allocated; the one before this write
	authorRev  int64
	authorRev0 int64
	authors    map[string]bool // authors this write has already upserted
	stmts      map[*sql.Stmt]*sql.Stmt
	buf        bytes.Buffer
	enc        *json.Encoder // writes to buf
}

// encode is v as JSON text, through one buffer reused for the whole write.
// It is bound as a string, so that SQLite stores TEXT (a []byte would be
// stored as a BLOB, which SQLite's JSON functions read as JSONB).
func (w *sqliteWrite) encode(v any) (string, error) {
	w.buf.Reset()
	if err := w.enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(w.buf.Bytes(), []byte("\n"))), nil
}

// stmt is a prepared statement of the store bound to this transaction.
func (w *sqliteWrite) stmt(st *sql.Stmt) *sql.Stmt {
	if ts, ok := w.stmts[st]; ok {
		return ts
	}
	ts := w.tx.StmtContext(w.ctx, st)
	w.stmts[st] = ts
	return ts
}

func (s *SQLiteStore) begin(ctx context.Context) (*sqliteWrite, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	w := &sqliteWrite{ctx: ctx, s: s, tx: tx, now: storeTime(time.Now()), authors: make(map[string]bool), stmts: make(map[*sql.Stmt]*sql.Stmt)}
	w.enc = json.NewEncoder(&w.buf)
	w.enc.SetEscapeHTML(false)
	if err := w.stmt(s.getCounter).QueryRowContext(ctx, "revision").Scan(&w.rev); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("read revision: %w", err)
	}
	if err := w.stmt(s.getCounter).QueryRowContext(ctx, "author_revision").Scan(&w.authorRev); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("read author revision: %w", err)
	}
	w.first, w.authorRev0 = w.rev, w.authorRev
	return w, nil
}

// commit writes the counters back and commits; it wakes the subscribers
// when the transaction allocated revisions.
func (w *sqliteWrite) commit() error {
	set := w.stmt(w.s.setCounter)
	if w.rev != w.first {
		if _, err := set.ExecContext(w.ctx, w.rev, "revision"); err != nil {
			w.tx.Rollback()
			return fmt.Errorf("write revision: %w", err)
		}
	}
	if w.authorRev != w.authorRev0 {
		if _, err := set.ExecContext(w.ctx, w.authorRev, "author_revision"); err != nil {
			w.tx.Rollback()
			return fmt.Errorf("write author revision: %w", err)
		}
	}
	if err := w.tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if w.rev != w.first {
		w.s.notes.notify()
	}
	return nil
}

// sqliteState is what Upsert reads of a stored document.
type sqliteState struct {
	rev     int64
	hash    string
	deleted bool
	seq     uint64 // SourceSeq
}

// statesChunk bounds the ids of one IN list (SQLite allows 32766
// parameters; smaller statements are cheaper to prepare).
const statesChunk = 500

// states reads the stored state of docs, with one IN query per collection
// and chunk: a thousand PK lookups through database/sql cost more than the
// lookups themselves. Nobody else can write until this transaction ends,
// so what it reads stays true.
func (w *sqliteWrite) states(docs []Document) (map[string]map[string]sqliteState, error) {
	ids := make(map[string][]any)
	for _, d := range docs {
		ids[d.Collection] = append(ids[d.Collection], d.ID)
	}
	out := make(map[string]map[string]sqliteState, len(ids))
	for c, all := range ids {
		m := make(map[string]sqliteState, len(all))
		for chunk := range slices.Chunk(all, statesChunk) {
			q := `SELECT id, revision, content_hash, deleted, source_seq FROM ` + c +
				` WHERE id IN (?` + strings.Repeat(`, ?`, len(chunk)-1) + `)`
			if err := w.scanStates(q, chunk, m); err != nil {
				return nil, fmt.Errorf("read %s: %w", c, err)
			}
		}
		out[c] = m
	}
	return out, nil
}

func (w *sqliteWrite) scanStates(q string, args []any, into map[string]sqliteState) error {
	rows, err := w.tx.QueryContext(w.ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			st sqliteState
		)
		if err := rows.Scan(&id, &st.rev, &st.hash, &st.deleted, &st.seq); err != nil {
			return err
		}
		into[id] = st
	}
	return rows.Err()
}

// upsertAuthor inserts the author of d unless it exists, and gives an
// existing one stored in lowercase the spelling of d.
func (w *sqliteWrite) upsertAuthor(d Document) error {
	a, ok := authorOf(d)
	if !ok || w.authors[a.ID] {
		return nil
	}
	w.authors[a.ID] = true
	a.Revision = w.authorRev + 1
	a.UpdatedAt = w.now
	body, err := w.encode(a)
	if err != nil {
		return err
	}
	res, err := w.stmt(w.s.insertUser).ExecContext(w.ctx, a.ID, a.Name, a.Revision, body)
	if err != nil {
		return fmt.Errorf("upsert author %q: %w", a.Name, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		w.authorRev++
		return nil
	}
	// The author exists: a name stored in lowercase takes this spelling
	// (betterSpelled; the WHERE checks the stored name).
	if lower := NormalizeAuthor(a.Name); betterSpelled(lower, a.Name) {
		if _, err := w.stmt(w.s.respellUser).ExecContext(w.ctx, a.Name, a.ID, lower); err != nil {
			return fmt.Errorf("respell author %q: %w", a.Name, err)
		}
	}
	return nil
}

// Upsert implements Store, in one transaction.
func (s *SQLiteStore) Upsert(ctx context.Context, docs []Document) ([]Result, error) {
	b, err := prepareBatch(docs)
	if err != nil {
		return nil, fmt.Errorf("upsert: %w", err)
	}
	if len(b.docs) == 0 {
		return []Result{}, nil
	}
	w, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("upsert: %w", err)
	}
	stored, err := w.states(b.docs)
	if err != nil {
		w.tx.Rollback()
		return nil, fmt.Errorf("upsert: %w", err)
	}
	perDoc := make([]Result, len(b.docs))
	for i, d := range b.docs {
		st, found := stored[d.Collection][d.ID]
		r, err := w.upsert(d, st, found)
		if err != nil {
			w.tx.Rollback()
			return nil, fmt.Errorf("upsert %s/%s: %w", d.Collection, d.ID, err)
		}
		perDoc[i] = r
	}
	if err := w.commit(); err != nil {
		return nil, fmt.Errorf("upsert: %w", err)
	}
	return b.results(perDoc), nil
}

// upsert writes d unless its stored state says it is unchanged.
func (w *sqliteWrite) upsert(d Document, st sqliteState, found bool) (Result, error) {
	if err := w.upsertAuthor(d); err != nil {
		return Result{}, err
	}
	if found && (superseded(d, st.seq) || !st.deleted && st.hash == d.ContentHash) {
		return Result{ID: d.ID, Revision: st.rev}, nil
	}
	w.rev++
	d.Revision = w.rev
	d.UpdatedAt = w.now
	body, err := encodeDocument(&d)
	if err != nil {
		return Result{}, err
	}
	// A string, so that SQLite stores TEXT (see encode).
	if _, err := w.stmt(w.s.stmts[d.Collection].upsert).ExecContext(w.ctx,
		d.ID, d.Revision, d.AuthorID, d.Link, d.ContentHash, string(body), int64(d.SourceSeq)); err != nil {
		return Result{}, err
	}
	return Result{ID: d.ID, Revision: d.Revision, Changed: true}, nil
}

// Delete implements Store.
func (s *SQLiteStore) Delete(ctx context.Context, collection, id string) (Result, error) {
	if err := checkCollection(collection); err != nil {
		return Result{}, fmt.Errorf("delete: %w", err)
	}
	w, err := s.begin(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("delete: %w", err)
	}
	r, err := w.delete(collection, id)
	if err != nil {
		w.tx.Rollback()
		return Result{}, fmt.Errorf("delete %s/%s: %w", collection, id, err)
	}
	if err := w.commit(); err != nil {
		return Result{}, fmt.Errorf("delete %s/%s: %w", collection, id, err)
	}
	return r, nil
}

func (w *sqliteWrite) delete(collection, id string) (Result, error) {
	stmts := w.s.stmts[collection]
	var body []byte
	err := w.stmt(stmts.getDoc).QueryRowContext(w.ctx, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return Result{ID: id}, nil
	}
	if err != nil {
		return Result{}, err
	}
	d, err := decodeDocument(body)
	if err != nil {
		return Result{}, fmt.Errorf("decode: %w", err)
	}
	if d.Deleted {
		return Result{ID: id, Revision: d.Revision}, nil
	}
	w.rev++
	d = tombstone(d, w.rev, w.now)
	body, err = encodeDocument(&d)
	if err != nil {
		return Result{}, err
	}
	if _, err := w.stmt(stmts.tombstone).ExecContext(w.ctx, d.Revision, string(body), id); err != nil {
		return Result{}, err
	}
	return Result{ID: id, Revision: d.Revision, Changed: true}, nil
}

// Get implements Store.
func (s *SQLiteStore) Get(ctx context.Context, collection, id string) (Document, error) {
	if err := checkCollection(collection); err != nil {
		return Document{}, fmt.Errorf("get: %w", err)
	}
	var body []byte
	err := s.read.QueryRowContext(ctx, `SELECT doc FROM `+collection+` WHERE id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return Document{}, fmt.Errorf("get %s/%s: %w", collection, id, ErrNotFound)
	}
	if err != nil {
		return Document{}, fmt.Errorf("get %s/%s: %w", collection, id, err)
	}
	d, err := decodeDocument(body)
	if err != nil {
		return Document{}, fmt.Errorf("get %s/%s: decode: %w", collection, id, err)
	}
	return d, nil
}

// queryDocs runs one SELECT per table in tables, with the same WHERE clause,
// as a single compound SELECT ordered by revision. SQLite runs a compound
// SELECT with an ORDER BY as a merge of its parts (EXPLAIN QUERY PLAN:
// MERGE (UNION ALL)), each part walking its revision (or author) index in
// order, so a query with a LIMIT reads only the rows it returns, from one
// consistent snapshot of all the tables.
func (s *SQLiteStore) queryDocs(ctx context.Context, tables []string, where string, args []any, limit int, desc bool) ([]Document, error) {
	var all []any
	for range tables {
		all = append(all, args...)
	}
	if limit <= 0 {
		limit = -1
	}
	all = append(all, limit)
	rows, err := s.read.QueryContext(ctx, docsQuery(tables, where, desc), all...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	docs := []Document{}
	for rows.Next() {
		var (
			rev  int64
			body []byte
		)
		if err := rows.Scan(&rev, &body); err != nil {
			return nil, err
		}
		d, err := decodeDocument(body)
		if err != nil {
			return nil, fmt.Errorf("decode revision %d: %w", rev, err)
		}
		docs = append(docs, d)
	}
	return docs, rows.Err()
}

// docsQuery is the compound SELECT of queryDocs; its parameters are the
// WHERE clause's, once per table, then the limit.
func docsQuery(tables []string, where string, desc bool) string {
	parts := make([]string, len(tables))
	for i, t := range tables {
		parts[i] = `SELECT revision, doc FROM ` + t + ` WHERE ` + where
	}
	q := strings.Join(parts, " UNION ALL ") + " ORDER BY 1"
	if desc {
		q += " DESC"
	}
	return q + " LIMIT ?"
}

// tablesFor is the tables a ListOptions covers.
func tablesFor(collection string) ([]string, error) {
	if collection == "" {
		return Collections(), nil
	}
	if err := checkCollection(collection); err != nil {
		return nil, err
	}
	return []string{collection}, nil
}

// List implements Store.
func (s *SQLiteStore) List(ctx context.Context, opts ListOptions) ([]Document, error) {
	tables, err := tablesFor(opts.Collection)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	where, args := listWhere("1", nil, opts)
	docs, err := s.queryDocs(ctx, tables, where, args, opts.Limit, opts.Descending)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return docs, nil
}

// ListByAuthor implements Store.
func (s *SQLiteStore) ListByAuthor(ctx context.Context, authorID string, opts ListOptions) ([]Document, error) {
	tables, err := tablesFor(opts.Collection)
	if err != nil {
		return nil, fmt.Errorf("list by author: %w", err)
	}
	where, args := listWhere("author_id = ?", []any{authorID}, opts)
	docs, err := s.queryDocs(ctx, tables, where, args, opts.Limit, opts.Descending)
	if err != nil {
		return nil, fmt.Errorf("list by author %s: %w", authorID, err)
	}
	return docs, nil
}

// listWhere narrows the WHERE clause where (with args) of a listing by
// opts: no tombstones unless asked for, and past the cursor.
func listWhere(where string, args []any, opts ListOptions) (string, []any) {
	if !opts.IncludeDeleted {
		where += " AND deleted = 0"
	}
	if opts.After > 0 {
		if opts.Descending {
			where += " AND revision < ?"
		} else {
			where += " AND revision > ?"
		}
		args = append(args, opts.After)
	}
	return where, args
}

// Count implements Store: one COUNT per table, over the partial index of
// live documents (tombstones left out), or the author index with them.
func (s *SQLiteStore) Count(ctx context.Context, authorID string, opts ListOptions) (int64, error) {
	tables, err := tablesFor(opts.Collection)
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	where, args := countWhere(authorID, opts.IncludeDeleted)
	var total int64
	for _, t := range tables {
		var n int64
		if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t+` WHERE `+where, args...).Scan(&n); err != nil {
			return 0, fmt.Errorf("count %s: %w", t, err)
		}
		total += n
	}
	return total, nil
}

// countWhere is the WHERE clause (with args) of Count.
func countWhere(authorID string, includeDeleted bool) (string, []any) {
	where, args := "deleted = 0", []any(nil)
	if includeDeleted {
		where = "1"
	}
	if authorID != "" {
		where, args = where+" AND author_id = ?", []any{authorID}
	}
	return where, args
}

// Changes implements Store. There is no separate changes table: each
// document table has a unique index on revision, and the compound SELECT
// of queryDocs merges the three index scans, reading only the rows it
// returns. A changes table would cost a second write per document for the
// same answer. Since revisions are allocated inside the write transaction,
// they commit in order: a reader never sees revision N+1 before N.
func (s *SQLiteStore) Changes(ctx context.Context, afterRevision int64, limit int) ([]Document, error) {
	docs, err := s.queryDocs(ctx, Collections(), "revision > ?", []any{afterRevision}, limit, false)
	if err != nil {
		return nil, fmt.Errorf("changes after %d: %w", afterRevision, err)
	}
	return docs, nil
}

// Authors implements Store.
func (s *SQLiteStore) Authors(ctx context.Context) ([]Author, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT doc FROM users ORDER BY revision`)
	if err != nil {
		return nil, fmt.Errorf("authors: %w", err)
	}
	defer rows.Close()
	authors := []Author{}
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("authors: %w", err)
		}
		var a Author
		if err := json.Unmarshal(body, &a); err != nil {
			return nil, fmt.Errorf("authors: decode: %w", err)
		}
		authors = append(authors, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("authors: %w", err)
	}
	return authors, nil
}

// FindAuthor implements Store.
func (s *SQLiteStore) FindAuthor(ctx context.Context, name string) (Author, error) {
	id := AuthorID(name)
	var body []byte
	err := s.read.QueryRowContext(ctx, `SELECT doc FROM users WHERE id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return Author{}, fmt.Errorf("find author %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Author{}, fmt.Errorf("find author %q: %w", name, err)
	}
	var a Author
	if err := json.Unmarshal(body, &a); err != nil {
		return Author{}, fmt.Errorf("find author %q: decode: %w", name, err)
	}
	return a, nil
}

// LastRevision implements Store: the revision counter, which on SQLite is
// the highest revision any document holds (revisions are allocated inside
// the write transaction and documents are never removed), or the one
// AdvanceRevision moved it to.
func (s *SQLiteStore) LastRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.read.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'revision'`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("last revision: %w", err)
	}
	return rev, nil
}

// DocumentRevisions implements Store: one IN query per collection and
// chunk, on the read pool.
func (s *SQLiteStore) DocumentRevisions(ctx context.Context, ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	for chunk := range slices.Chunk(ids, statesChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		in := `(?` + strings.Repeat(`, ?`, len(chunk)-1) + `)`
		for _, c := range Collections() {
			if err := s.scanRevisions(ctx, `SELECT id, revision FROM `+c+` WHERE id IN `+in, args, out); err != nil {
				return nil, fmt.Errorf("document revisions in %s: %w", c, err)
			}
		}
	}
	return out, nil
}

func (s *SQLiteStore) scanRevisions(ctx context.Context, q string, args []any, out map[string]int64) error {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var rev int64
		if err := rows.Scan(&id, &rev); err != nil {
			return err
		}
		out[id] = max(out[id], rev)
	}
	return rows.Err()
}

// AdvanceRevision implements Store: one UPDATE of the counter on the one
// write connection, so it is serialized with every write: none reads the
// counter before it and writes it back after.
func (s *SQLiteStore) AdvanceRevision(ctx context.Context, atLeast int64) error {
	if _, err := s.write.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'revision' AND value < ?`, atLeast, atLeast); err != nil {
		return fmt.Errorf("advance revision to %d: %w", atLeast, err)
	}
	return nil
}
