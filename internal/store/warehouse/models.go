package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/twin-llm/twin/schemas"
)

// Models is the collection (table on SQLite) of the model registry: every
// version of every model the trainer produced, with its state. It shares
// nothing with the documents: no revisions, no CDC.
const Models = "models"

// ModelRecord is one model version as the registry keeps it: the message
// that announces it, and when it last began to serve.
type ModelRecord struct {
	schemas.ModelRegistered
	// PromotedAt is when the version last began to serve; zero when it
	// never served. Rollback returns to the version promoted last before
	// the one serving.
	PromotedAt time.Time `json:"promoted_at,omitzero"`
	// UpdatedAt is when the record last changed; the store sets it.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// ModelStore keeps the model registry. SQLiteStore and MongoStore implement
// it with the same promises:
//
//   - A version is numbered by the store, "1", "2", ... per model name, in
//     the order they were added.
//   - Adding the version of a job already registered returns that version
//     instead of a second one, so a trainer that registers again after a
//     crash or a redelivery duplicates nothing.
type ModelStore interface {
	// AddModel registers m as the next version of m.Name and returns it as
	// stored. m.JobID, when set, identifies it: a job already registered
	// returns its version unchanged.
	AddModel(ctx context.Context, m ModelRecord) (ModelRecord, error)
	// UpdateModels replaces stored versions by ms (matched by name and
	// version). On SQLite it is one transaction; on MongoDB one write per
	// version, in order. A version not stored is ErrNotFound.
	UpdateModels(ctx context.Context, ms []ModelRecord) error
	// ListModels returns the versions of name, or of every model when name
	// is empty, newest first.
	ListModels(ctx context.Context, name string) ([]ModelRecord, error)
}

// prepareModel validates a version before it is added.
func prepareModel(m ModelRecord, now time.Time) (ModelRecord, error) {
	if m.Name == "" || !schemas.ValidToken(m.Name) {
		return ModelRecord{}, fmt.Errorf("%w: model name %q: want letters, digits, '_' or '-'", ErrInvalid, m.Name)
	}
	if m.State == "" {
		m.State = schemas.ModelCandidate
	}
	if m.RegisteredAt.IsZero() {
		m.RegisteredAt = now
	}
	m.RegisteredAt = storeTime(m.RegisteredAt)
	m.PromotedAt = storeTime(m.PromotedAt)
	m.UpdatedAt = storeTime(now)
	return m, nil
}
