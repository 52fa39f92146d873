// Package warehouse keeps what twin has crawled or imported: documents in
// the collections articles, posts and repositories, and their authors in
// users. One interface, Store, has two implementations: SQLiteStore, the
// embedded default (one file, WAL), and MongoStore (the official driver v2).
// The same test suite runs against both.
//
// # Identity
//
// A document's id is stable: DocumentID, the UUIDv5 of its normalized URL,
// or an imported id kept as it is. An author's id is AuthorID, the UUIDv5
// of its name normalized by NormalizeAuthor ("  Simon   Willison " and
// "simon willison" are one author).
//
// # Revisions
//
// Every real write (a new document, changed content, a tombstone, a
// revival) gets a new revision from one counter shared by the three
// document collections, so the revision orders all changes and
// Changes(after, limit) lets a reader resume from the last revision it
// handled. Authors have a counter of their own and never use up document
// revisions.
//
// The invariant the CDC revision tail relies on differs by backend:
//
//   - SQLite: revisions are allocated inside the write transaction, so on
//     SQLite they commit in order and without gaps. A reader of Changes
//     never sees revision N+1 before N, and after reading up to N it will
//     never be shown a revision at or below N.
//   - MongoDB: a block of revisions is reserved with one atomic $inc, then
//     written; with several writers, revisions may commit out of order, and
//     a failed write leaves a gap. A tail must expect late revisions below
//     its position (see MongoStore).
//
// Subscribe lets a tail wake up as soon as a write in this process has
// committed new revisions, instead of polling; writes by other processes
// are not signalled, so a tail still polls now and then.
//
// # Storage
//
// SQLite: one file (WAL, synchronous=NORMAL, 16 KB pages), tables users,
// articles, posts and repositories, each row the document as JSON text
// beside the indexed columns id (primary key), revision (unique), author_id
// (with revision), link, content_hash and deleted; a meta table holds the
// revision counters and PRAGMA user_version the schema version (migrations
// run at open). Writes go through one connection in BEGIN IMMEDIATE
// transactions, one per bulk; reads use a pool of read-only connections.
// There is no changes table: Changes is one compound SELECT over the three
// revision indexes, which SQLite runs as a merge reading only the rows it
// returns, so a second write per document would buy nothing.
//
// MongoDB: the same collections with _id the document id and _rev its
// revision, indexes on _rev (unique), author_id+_rev and link, and a
// counters collection. See MongoStore for its write protocol and for what
// differs on FerretDB, the MongoDB wire server the tests embed.
//
// # No-op writes
//
// Each document carries ContentHash, DocumentHash of its canonical content
// fields (computed by the store when empty). Upserting a document whose hash
// equals the stored one, and which is not a tombstone, writes nothing and
// allocates no revision: Result.Changed is false and Result.Revision is the
// stored one. Re-crawling unchanged pages therefore costs a read, and emits
// no change downstream.
//
// # Tombstones
//
// Delete never removes a document: it marks it Deleted, drops its content,
// and gives it a new revision, so the deletion reaches Changes like any
// other change. Deleting an absent or already deleted document is a no-op.
// Upserting a deleted document revives it with a new revision, even when its
// content is the same as before the deletion.
//
// # Prompt traces
//
// Both stores also implement TraceStore, for the prompt monitor: traces
// (one per chat request, keyed by trace id, the trace kept as JSON beside
// request_id, author_id and created_at) and feedback (ratings keyed by
// request id and FeedbackKey, stored apart so that a rating may come before
// its trace and survives a rewrite of it; joined on read). They take no
// revisions and reach no CDC. ExpireTraces deletes old traces and the
// feedback no trace needs any more; on MongoDB, SetTraceRetention also asks
// the server to do it with TTL indexes, which FerretDB does not have.
package warehouse
