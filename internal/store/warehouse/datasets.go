package warehouse

import (
	"context"
	"fmt"
	"time"
)

// Datasets is the collection (table on SQLite) of dataset records: what
// each built training set holds and where it came from. Like the traces it
// shares nothing with the documents: no revisions, no CDC.
const Datasets = "datasets"

// DefaultDatasetListLimit is how many records ListDatasets returns when the
// options set no limit.
const DefaultDatasetListLimit = 100

// DatasetRecord is the lineage of one built dataset: enough to say which
// documents, ratings and judgments went into it, how it was made (model,
// prompt version, seed) and what the filters kept, without the examples
// themselves (those are in the files at URI).
type DatasetRecord struct {
	ID string `json:"id"`
	// Kind is instruct, preference or relevance.
	Kind   string `json:"kind"`
	Author string `json:"author,omitempty"`
	// Format is the layout of the example lines (alpaca, chat, dpo,
	// relevance).
	Format    string  `json:"format,omitempty"`
	Seed      int64   `json:"seed"`
	TestShare float64 `json:"test_share"`
	// Candidates is how many examples reached the filters; Kept how many
	// passed them (Train + Test).
	Candidates int `json:"candidates"`
	Kept       int `json:"kept"`
	// Dropped counts what was left out, by reason: examples the filters
	// dropped, and what was left out before them (pieces of text,
	// extracts the LLM failed on, superseded judgments).
	Dropped map[string]int `json:"dropped,omitempty"`
	// Methods counts the kept examples by how they were made.
	Methods map[string]int `json:"methods,omitempty"`
	Train   int            `json:"train"`
	Test    int            `json:"test"`
	// URI is where the files were written: a directory, or where the
	// caller uploaded them.
	URI string `json:"uri"`
	// DocumentIDs are the documents the examples were made from, sorted.
	DocumentIDs []string `json:"document_ids,omitempty"`
	// Model names the model that generated text for the examples, empty
	// when none did; PromptVersion the prompt it was given.
	Model         string `json:"model,omitempty"`
	PromptVersion string `json:"prompt_version,omitempty"`
	// FeedbackIDs are the ratings (request id "#" FeedbackKey) and
	// JudgmentIDs the relevance judgments the examples were made from,
	// sorted; JudgmentSeqFirst and JudgmentSeqLast bound the judgments read
	// (by JudgmentRecord.Seq), so that a later build can read only what is
	// new.
	FeedbackIDs      []string  `json:"feedback_ids,omitempty"`
	JudgmentIDs      []string  `json:"judgment_ids,omitempty"`
	JudgmentSeqFirst int64     `json:"judgment_seq_first,omitempty"`
	JudgmentSeqLast  int64     `json:"judgment_seq_last,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
}

// DatasetListOptions narrow ListDatasets. Records come newest first.
type DatasetListOptions struct {
	// Kind keeps one kind of dataset.
	Kind string
	// Limit is the most records returned; DefaultDatasetListLimit when <= 0.
	Limit int
}

// DatasetStore keeps dataset records. SQLiteStore and MongoStore implement
// it with the same promises: a record is keyed by its ID, and writing it
// again replaces it (a build that is retried under the same id records its
// last outcome once).
type DatasetStore interface {
	// PutDataset stores rec. A record without an id or kind stores nothing
	// and the error matches ErrInvalid.
	PutDataset(ctx context.Context, rec DatasetRecord) error
	// GetDataset returns one record, or an error matching ErrNotFound.
	GetDataset(ctx context.Context, id string) (DatasetRecord, error)
	// ListDatasets lists records, newest first.
	ListDatasets(ctx context.Context, opts DatasetListOptions) ([]DatasetRecord, error)
}

var (
	_ DatasetStore = (*SQLiteStore)(nil)
	_ DatasetStore = (*MongoStore)(nil)
)

// prepareDataset validates rec and fills what the store computes.
func prepareDataset(rec DatasetRecord, now time.Time) (DatasetRecord, error) {
	if rec.ID == "" || rec.Kind == "" {
		return DatasetRecord{}, fmt.Errorf("%w: dataset record needs an id and a kind", ErrInvalid)
	}
	rec.CreatedAt = storeTime(rec.CreatedAt)
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = storeTime(now)
	}
	return rec, nil
}

func datasetLimit(opts DatasetListOptions) int {
	if opts.Limit <= 0 {
		return DefaultDatasetListLimit
	}
	return opts.Limit
}
