package schemas

import "time"

// Operations on a warehouse document, as reported by CDC (the last token of
// CDC(collection, op) and CDCEvent.Op), and on its indexed chunks
// (EmbedJob.Op, IndexEvent.Op).
const (
	OpInsert  = "insert"
	OpUpdate  = "update"
	OpReplace = "replace"
	OpDelete  = "delete"
	OpUpsert  = "upsert"
)

// CDCEvent is one change to a warehouse document. The CDC producer publishes
// it on CDC(Collection, Op) after the write is durable, from a MongoDB change
// stream or from the SQLite revision tail; the featurizer consumes it.
type CDCEvent struct {
	Collection string `json:"collection"`
	// Op is OpInsert, OpUpdate, OpReplace or OpDelete.
	Op         string `json:"op"`
	DocumentID string `json:"document_id"`
	// Revision increases with every real write of the document, so a consumer
	// can drop a change older than one it has already applied.
	Revision int64 `json:"revision,omitempty"`
	// Token is the position in the change feed (a MongoDB resume token, or
	// the revision tail's cursor) this event was read at.
	Token string `json:"token,omitempty"`
	// Document is the full document after the change; nil for a delete,
	// and for a change whose document the consumer must read from the
	// warehouse itself.
	Document  *Document `json:"document,omitempty"`
	ChangedAt time.Time `json:"changed_at,omitzero"`
}

// Schema returns "cdc_event/v1".
func (CDCEvent) Schema() string { return "cdc_event/v1" }

// EmbedJob is one document's cleaned and chunked text, to be embedded and
// written to the vector store. The featurizer publishes it on
// SubjectEmbedJobs; the embedder consumes it. An upsert replaces every chunk
// the document had; a delete removes them and carries no chunks.
type EmbedJob struct {
	DocumentID string `json:"document_id"`
	// Op is OpUpsert or OpDelete.
	Op       string `json:"op"`
	Revision int64  `json:"revision,omitempty"`

	// The payload stored with every chunk, for filtered search and citations.
	AuthorID string `json:"author_id,omitempty"`
	Author   string `json:"author,omitempty"`
	Category string `json:"category,omitempty"`
	Platform string `json:"platform,omitempty"`
	Link     string `json:"link,omitempty"`
	Title    string `json:"title,omitempty"`

	Chunks []Chunk `json:"chunks,omitempty"`
	// Chunking records how Chunks were cut, so a change of settings can be
	// detected and the index rebuilt.
	Chunking Chunking `json:"chunking,omitzero"`
	// OriginTime is the time of the warehouse change this job comes from;
	// freshness is measured from it.
	OriginTime time.Time `json:"origin_time,omitzero"`
}

// Schema returns "embed_job/v1".
func (EmbedJob) Schema() string { return "embed_job/v1" }

// Chunk is one piece of a document's text, embedded as one vector.
type Chunk struct {
	Index  int    `json:"index"` // position in the document, from 0
	Text   string `json:"text"`
	Tokens int    `json:"tokens,omitempty"` // length of Text in the chunking tokenizer's tokens
}

// Chunking describes how a document was split into chunks.
type Chunking struct {
	Strategy  string `json:"strategy,omitempty"`  // e.g. "tokens", "paragraphs"
	Tokenizer string `json:"tokenizer,omitempty"` // the tokenizer Size and Overlap count in
	Size      int    `json:"size,omitempty"`      // target chunk length, in tokens
	Overlap   int    `json:"overlap,omitempty"`   // tokens shared by neighbouring chunks
}

// IndexEvent reports that a document's chunks became searchable (upsert) or
// were removed (delete). The embedder publishes it on SubjectIndexEvents once
// the vector store has acknowledged the write; twin crawl --wait and the
// freshness metric follow it.
type IndexEvent struct {
	DocumentID string `json:"document_id"`
	// Op is OpUpsert or OpDelete.
	Op         string    `json:"op,omitempty"`
	Revision   int64     `json:"revision,omitempty"`
	Chunks     int       `json:"chunks,omitempty"` // how many chunks the document now has
	OriginTime time.Time `json:"origin_time,omitzero"`
	IndexedAt  time.Time `json:"indexed_at,omitzero"`
}

// Schema returns "index_event/v1".
func (IndexEvent) Schema() string { return "index_event/v1" }
