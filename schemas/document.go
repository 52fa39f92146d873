package schemas

import "time"

// Document is a warehouse document as it travels inside a CDCEvent: what the
// featurizer receives. The stores keep their own type (warehouse.Document),
// mapped to and from this one by warehouse.ToContract and
// warehouse.FromContract; the SQLite store also keeps its rows in this
// encoding.
//
// Document is not published on a subject of its own, but it has a schema
// ("document/v1") that cdc_event/v1 refers to, so that this package alone
// says what a CDC event carries.
type Document struct {
	// ID is stable: the id of the normalized URL, or an imported id.
	ID         string `json:"id"`
	Collection string `json:"collection"`
	// AuthorID identifies the normalized author name.
	AuthorID    string            `json:"author_id,omitempty"`
	Author      string            `json:"author,omitempty"`
	Platform    string            `json:"platform,omitempty"`
	Link        string            `json:"link,omitempty"`
	Title       string            `json:"title,omitempty"`
	Content     string            `json:"content,omitempty"`
	Language    string            `json:"language,omitempty"`
	PublishedAt time.Time         `json:"published_at,omitzero"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	// ContentHash, Revision and UpdatedAt are always set by the stores, but
	// a document is read as it was written, so none of them is required.
	ContentHash string `json:"content_hash,omitempty"`
	// Revision increases with every real write of the document.
	Revision int64 `json:"revision,omitempty"`
	// Deleted marks a tombstone, which keeps the document's identity and
	// description but not its content.
	Deleted   bool      `json:"deleted,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Schema returns "document/v1".
func (Document) Schema() string { return "document/v1" }
