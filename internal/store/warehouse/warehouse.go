package warehouse

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"
)

// Collections. A document lives in exactly one of them; users hold the
// authors.
const (
	Articles     = "articles"
	Posts        = "posts"
	Repositories = "repositories"
	Users        = "users"
)

// Collections lists the document collections in a fixed order.
func Collections() []string { return []string{Articles, Posts, Repositories} }

// ErrNotFound is returned (wrapped) when a document or author does not exist.
var ErrNotFound = errors.New("warehouse: not found")

// ErrInvalid is returned (wrapped) for input the store refuses: an unknown
// collection or kind, a document with neither id nor link.
var ErrInvalid = errors.New("warehouse: invalid input")

// Document is one crawled or imported document.
type Document struct {
	// ID is stable: DocumentID of the normalized URL, or an imported id kept
	// as it is. The store fills it from Link when it is empty.
	ID         string `json:"id"`
	Collection string `json:"collection"`
	// AuthorID is AuthorID(Author); the store fills it when it is empty.
	AuthorID    string            `json:"author_id,omitempty"`
	Author      string            `json:"author,omitempty"`
	Platform    string            `json:"platform,omitempty"`
	Link        string            `json:"link,omitempty"`
	Title       string            `json:"title,omitempty"`
	Content     string            `json:"content,omitempty"`
	Language    string            `json:"language,omitempty"`
	PublishedAt time.Time         `json:"published_at,omitzero"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	// ContentHash is DocumentHash(doc); the store computes it when empty.
	ContentHash string `json:"content_hash"`
	// Revision is allocated by the store on every real write.
	Revision int64 `json:"revision"`
	// Deleted marks a tombstone. A tombstone keeps the document's identity
	// and description (title, link, author, hash) but not its content.
	Deleted   bool      `json:"deleted,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// SourceSeq orders the versions of a document that arrive through a
	// stream: the sequence, in that stream, of the message that carried
	// this one (0 when it came from elsewhere: an import straight into the
	// store, an API call). Upsert never replaces a stored version with one
	// of a lower SourceSeq: a message redelivered after a later one was
	// written (its writer was killed before it acked) would otherwise bring
	// the older version back. Not part of the content hash; reads may
	// leave it 0.
	SourceSeq uint64 `json:"-"`
}

// Author is one user of the warehouse: a name as its author spells it
// (AuthorName) with a stable id, AuthorID of the name.
// Its revision comes from a counter of its own, so that authors leave no
// gaps in the document revision sequence.
type Author struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Revision  int64     `json:"revision"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Result is the outcome of writing one document.
type Result struct {
	ID string
	// Revision is the document's revision after the call: a new one when
	// Changed, else the stored one (0 when the document does not exist).
	Revision int64
	Changed  bool
}

// ListOptions narrow List and ListByAuthor. Documents come in ascending
// revision order (the order they were last written), or descending when
// Descending is set.
type ListOptions struct {
	Collection     string // one collection, or every one when empty
	Limit          int    // at most this many; no limit when <= 0
	IncludeDeleted bool   // include tombstones
	Descending     bool   // newest first
	// After continues a listing past the document of this revision: only
	// revisions below it when Descending, above it otherwise (0: from the
	// start). Revisions are unique across collections, so the last
	// revision of a page is the cursor of the next.
	After int64
}

// Store is the warehouse. Both implementations (SQLite and MongoDB) keep the
// same promises; see the package documentation.
type Store interface {
	// Upsert writes docs as one bulk. A document whose content hash equals
	// the stored one (and is not a tombstone) is a no-op: no write, no new
	// revision. Any other document gets the next revision. Authors are
	// upserted by normalized name. Results are in the order of docs; when
	// docs holds the same document twice, the last one wins and both get
	// its result.
	Upsert(ctx context.Context, docs []Document) ([]Result, error)
	// Get returns one document; tombstones come back with Deleted set.
	Get(ctx context.Context, collection, id string) (Document, error)
	// Delete turns a document into a tombstone with a new revision.
	// Deleting an absent or already deleted document is a no-op, not an
	// error.
	Delete(ctx context.Context, collection, id string) (Result, error)
	// ListByAuthor lists one author's documents.
	ListByAuthor(ctx context.Context, authorID string, opts ListOptions) ([]Document, error)
	// List lists documents.
	List(ctx context.Context, opts ListOptions) ([]Document, error)
	// Count counts the documents List (or ListByAuthor, for a non-empty
	// authorID) would return with opts' Collection and IncludeDeleted,
	// regardless of Limit and After.
	Count(ctx context.Context, authorID string, opts ListOptions) (int64, error)
	// Changes returns every document (any collection, tombstones included)
	// whose revision is greater than afterRevision, in ascending revision
	// order, at most limit of them (no limit when limit <= 0).
	Changes(ctx context.Context, afterRevision int64, limit int) ([]Document, error)
	// Authors lists every author, in the order they were first seen.
	Authors(ctx context.Context) ([]Author, error)
	// FindAuthor finds an author by name, normalized by NormalizeAuthor.
	FindAuthor(ctx context.Context, name string) (Author, error)
	// LastRevision is the highest revision the store has issued: the highest
	// held by any document, or the one AdvanceRevision moved the counter to
	// when that is higher (0 when there is none). A revision above it was
	// never issued.
	LastRevision(ctx context.Context) (int64, error)
	// DocumentRevisions returns the current revision (tombstones included)
	// of each of ids the warehouse holds, in any collection; an id it does
	// not hold is absent from the map.
	DocumentRevisions(ctx context.Context, ids []string) (map[string]int64, error)
	// AdvanceRevision moves the revision counter to at least atLeast, so
	// that the next write gets a higher revision and LastRevision reports
	// at least atLeast. It never moves the counter back. It is how a
	// warehouse restored from an older copy gets past the revisions that
	// the streams already carried.
	AdvanceRevision(ctx context.Context, atLeast int64) error
	// Subscribe returns a channel that receives after every write in this
	// process that allocated revisions (non-blocking, coalesced: buffer 1),
	// and a function that cancels the subscription. The channel is closed
	// when the store is closed.
	Subscribe() (<-chan struct{}, func())
	// Close releases the store.
	Close() error
}

// DocumentID is the stable id of the document at a normalized URL: the
// UUIDv5 of the URL in the URL namespace.
func DocumentID(normalizedURL string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(normalizedURL)).String()
}

// authorNamespace is the UUIDv5 namespace of author ids, itself derived from
// a URL naming it so that it cannot collide with a document id.
func authorNamespace() uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/twin-llm/twin/authors"))
}

// AuthorID is the stable id of an author: the UUIDv5 of NormalizeAuthor(name)
// in twin's author namespace, or "" when the name is blank.
func AuthorID(name string) string {
	n := NormalizeAuthor(name)
	if n == "" {
		return ""
	}
	return uuid.NewSHA1(authorNamespace(), []byte(n)).String()
}

// AuthorName is a name as its author spells it, tidied: trimmed, the
// spaces inside it collapsed, in Unicode NFC ("  Simon   Willison " is
// "Simon Willison"). It is what the users record shows; names are matched
// by NormalizeAuthor, so any case finds it.
func AuthorName(name string) string {
	return strings.Join(strings.Fields(norm.NFC.String(name)), " ")
}

// betterSpelled reports whether name should replace the stored name of the
// same author: only a name stored in lowercase (as the store kept every
// name before it kept their spelling, or as a first document spelled it)
// gives way, to a spelling with capitals. The first spelling otherwise
// stays, so a name does not flip with each document's spelling.
func betterSpelled(stored, name string) bool {
	return stored == NormalizeAuthor(stored) && name != stored && NormalizeAuthor(name) == stored
}

// NormalizeAuthor lowercases a name, trims it and collapses the spaces
// inside it, in Unicode NFC: "  Simon   Willison " is "simon willison".
func NormalizeAuthor(name string) string {
	return strings.Join(strings.Fields(strings.ToLower(norm.NFC.String(name))), " ")
}

// CollectionForKind maps a document kind (article, post, repository, as in
// twin.docs.crawled.<kind>) to its collection. Collection names themselves
// are accepted too.
func CollectionForKind(kind string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case "article", Articles:
		return Articles, nil
	case "post", Posts:
		return Posts, nil
	case "repository", "repo", Repositories:
		return Repositories, nil
	}
	return "", fmt.Errorf("%w: unknown document kind %q", ErrInvalid, kind)
}

// checkCollection refuses anything but a document collection name.
func checkCollection(collection string) error {
	if slices.Contains(Collections(), collection) {
		return nil
	}
	return fmt.Errorf("%w: unknown collection %q", ErrInvalid, collection)
}

// DocumentHash is the sha256 (hex) of a document's canonical content fields:
// collection, title, content, author, link, platform, language, publication
// time and metadata. Ids, revision, tombstone and timestamps are not part of
// it. Each field is length-prefixed, so no two documents share an encoding.
func DocumentHash(d Document) string {
	b := make([]byte, 0, 128+len(d.Title)+len(d.Content)+len(d.Author)+len(d.Link))
	field := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	field("twin/document/v1")
	field(d.Collection)
	field(d.Title)
	field(d.Content)
	field(d.Author)
	field(d.Link)
	field(d.Platform)
	field(d.Language)
	// The time as the store keeps it (UTC, milliseconds), so that the hash
	// of a document before and after a round trip through the store agree.
	if t := storeTime(d.PublishedAt); t.IsZero() {
		field("")
	} else {
		field(t.Format(time.RFC3339Nano))
	}
	keys := make([]string, 0, len(d.Metadata))
	for k := range d.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	field(strconv.Itoa(len(keys)))
	for _, k := range keys {
		field(k)
		field(d.Metadata[k])
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// storeTime is a time as both stores keep it: UTC, millisecond precision
// (BSON dates have no more), the zero time left zero.
func storeTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// batch is an Upsert's input after validation: unique documents, each with
// the input positions it answers.
type batch struct {
	docs []Document
	// slots[i] lists the positions in the input that docs[i] answers.
	slots [][]int
	n     int
}

// prepareBatch validates docs and fills what the store computes: the id
// from the link, the author id, the content hash, normalized times. The
// same (collection, id) twice keeps the last one.
func prepareBatch(docs []Document) (batch, error) {
	b := batch{n: len(docs)}
	type key struct{ collection, id string }
	pos := make(map[key]int, len(docs))
	for i, d := range docs {
		if err := checkCollection(d.Collection); err != nil {
			return batch{}, fmt.Errorf("document %d: %w", i, err)
		}
		if d.ID == "" {
			if d.Link == "" {
				return batch{}, fmt.Errorf("document %d: %w: neither id nor link", i, ErrInvalid)
			}
			d.ID = DocumentID(d.Link)
		}
		if d.AuthorID == "" {
			d.AuthorID = AuthorID(d.Author)
		}
		d.PublishedAt = storeTime(d.PublishedAt)
		if len(d.Metadata) == 0 {
			d.Metadata = nil
		}
		if d.ContentHash == "" {
			d.ContentHash = DocumentHash(d)
		}
		d.Deleted = false
		d.Revision = 0
		d.UpdatedAt = time.Time{}
		k := key{d.Collection, d.ID}
		if j, ok := pos[k]; ok {
			b.docs[j] = d
			b.slots[j] = append(b.slots[j], i)
			continue
		}
		pos[k] = len(b.docs)
		b.docs = append(b.docs, d)
		b.slots = append(b.slots, []int{i})
	}
	return b, nil
}

// results spreads one result per unique document over the input positions.
func (b batch) results(perDoc []Result) []Result {
	out := make([]Result, b.n)
	for i, r := range perDoc {
		for _, p := range b.slots[i] {
			out[p] = r
		}
	}
	return out
}

// authorOf is the author record a document implies, if any.
func authorOf(d Document) (Author, bool) {
	name := AuthorName(d.Author)
	if name == "" || d.AuthorID == "" {
		return Author{}, false
	}
	return Author{ID: d.AuthorID, Name: name}, true
}

// tombstone turns a stored document into its tombstone.
// superseded reports whether d is older than the stored version, whose
// SourceSeq is stored: both came through the stream, the stored one later.
func superseded(d Document, stored uint64) bool {
	return d.SourceSeq > 0 && stored > d.SourceSeq
}

func tombstone(d Document, rev int64, now time.Time) Document {
	d.Deleted = true
	d.Content = ""
	d.Revision = rev
	d.UpdatedAt = now
	return d
}

// mergeByRevision merges lists each sorted by revision (ascending, or
// descending when desc) and keeps at most limit documents (all when
// limit <= 0).
func mergeByRevision(lists [][]Document, limit int, desc bool) []Document {
	var out []Document
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.SortFunc(out, func(a, b Document) int {
		if desc {
			a, b = b, a
		}
		switch {
		case a.Revision < b.Revision:
			return -1
		case a.Revision > b.Revision:
			return 1
		}
		return 0
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
