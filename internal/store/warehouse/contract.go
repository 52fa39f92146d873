package warehouse

import (
	"fmt"
	"time"

	"github.com/twin-llm/twin/schemas"
)

// ToContract is d as a CDC event carries it (schemas.Document); FromContract
// is the way back. They are the one place the store's type meets the
// contract's. The contract has every field of the store's document but
// SourceSeq, the store's own bookkeeping: the mapping goes through
// sharedDocument, which converts to and from the contract's type, so a
// field added to the contract alone stops it compiling; one added to
// Document goes into shared and document below too.
func ToContract(d *Document) schemas.Document { return schemas.Document(d.shared()) }

// FromContract is the store's document of a contract document; see
// ToContract.
func FromContract(d *schemas.Document) Document { return sharedDocument(*d).document() }

// sharedDocument is Document without SourceSeq: the contract's fields.
type sharedDocument struct {
	ID          string            `json:"id"`
	Collection  string            `json:"collection"`
	AuthorID    string            `json:"author_id,omitempty"`
	Author      string            `json:"author,omitempty"`
	Platform    string            `json:"platform,omitempty"`
	Link        string            `json:"link,omitempty"`
	Title       string            `json:"title,omitempty"`
	Content     string            `json:"content,omitempty"`
	Language    string            `json:"language,omitempty"`
	PublishedAt time.Time         `json:"published_at,omitzero"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	ContentHash string            `json:"content_hash,omitempty"`
	Revision    int64             `json:"revision,omitempty"`
	Deleted     bool              `json:"deleted,omitempty"`
	UpdatedAt   time.Time         `json:"updated_at,omitzero"`
}

func (d *Document) shared() sharedDocument {
	return sharedDocument{ID: d.ID, Collection: d.Collection, AuthorID: d.AuthorID, Author: d.Author, Platform: d.Platform,
		Link: d.Link, Title: d.Title, Content: d.Content, Language: d.Language, PublishedAt: d.PublishedAt, Metadata: d.Metadata,
		ContentHash: d.ContentHash, Revision: d.Revision, Deleted: d.Deleted, UpdatedAt: d.UpdatedAt}
}

func (s sharedDocument) document() Document {
	return Document{ID: s.ID, Collection: s.Collection, AuthorID: s.AuthorID, Author: s.Author, Platform: s.Platform,
		Link: s.Link, Title: s.Title, Content: s.Content, Language: s.Language, PublishedAt: s.PublishedAt, Metadata: s.Metadata,
		ContentHash: s.ContentHash, Revision: s.Revision, Deleted: s.Deleted, UpdatedAt: s.UpdatedAt}
}

// encodeDocument is the JSON text the SQLite store keeps of d: its contract
// form, document/v1, through the package schemas' encoder (which writes
// exactly json.Marshal's bytes, and fast). A stored document has every field
// the contract omits when empty (hash, revision, time of update), so these
// are the bytes json.Marshal writes of d itself, as rows always were.
func encodeDocument(d *Document) ([]byte, error) {
	c := ToContract(d)
	return schemas.Encode(&c)
}

// decodeDocument reads a row written by encodeDocument (or by json.Marshal,
// as older versions wrote them) through the one decoder of document/v1.
func decodeDocument(data []byte) (Document, error) {
	var c schemas.Document
	if err := schemas.Decode(data, &c); err != nil {
		// Not wrapped: a row the store cannot read is its own fault, not a
		// message to dead-letter as schemas.ErrInvalid would say.
		return Document{}, fmt.Errorf("document: %v", err)
	}
	return FromContract(&c), nil
}
