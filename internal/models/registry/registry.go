// Package registry is the model registry: every model version the trainer
// produced (kept in the warehouse, with its metrics, lineage and state), the
// artifacts that serving processes load (a JetStream object store), and
// which version serves (a JetStream KV bucket that every serving process
// watches). Each change of state is announced on twin.training.models.
//
// Promotion writes the warehouse first, then the serving pointer, then the
// announcement. A crash between them leaves the warehouse ahead of the
// pointer; running the same promotion again (it is idempotent) finishes it.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Model names in the registry, by what they serve.
const (
	Reranker = "reranker" // trained by TrainingRerank
	LLM      = "llm"      // trained by TrainingSFT and TrainingDPO
)

// NameFor is the model a kind of training produces.
func NameFor(kind string) string {
	if kind == schemas.TrainingRerank {
		return Reranker
	}
	return LLM
}

// Buckets of the registry.
const (
	// ServingBucket holds, per model name, the Serving record of the
	// version in service.
	ServingBucket = "twin_models"
	// ArtifactBucket is the object store of the artifacts small enough to
	// travel through NATS (a learned reranker is a few kilobytes).
	ArtifactBucket = "twin_artifacts"
)

// ArtifactScheme prefixes the URI of an artifact kept in ArtifactBucket:
// "nats-object://twin_artifacts/<object>".
const ArtifactScheme = "nats-object://" + ArtifactBucket + "/"

// Serving is what a serving process needs to load the version in service.
// An empty Version is the built-in model (no trained version serves).
type Serving struct {
	Name        string `json:"name"`
	Version     string `json:"version,omitempty"`
	ArtifactURI string `json:"artifact_uri,omitempty"`
}

// Store keeps the versions; warehouse.ModelStore implements it.
type Store interface {
	AddModel(ctx context.Context, m warehouse.ModelRecord) (warehouse.ModelRecord, error)
	UpdateModels(ctx context.Context, ms []warehouse.ModelRecord) error
	ListModels(ctx context.Context, name string) ([]warehouse.ModelRecord, error)
}

// Errors of the registry's operations.
var (
	ErrNoVersion   = errors.New("no such model version")
	ErrNoRollback  = errors.New("nothing to roll back to")
	ErrNotServable = errors.New("version cannot serve")
)

// Registry is the model registry.
type Registry struct {
	store   Store
	serving jetstream.KeyValue
	objects jetstream.ObjectStore
	pub     *streams.Publisher
	now     func() time.Time
	// mu serializes promotions and rollbacks of this process; across
	// processes the last writer of the serving pointer wins, and each
	// announcement says what it did.
	mu       sync.Mutex
	rollouts map[string]Rollout
}

// Rollout puts a version in service outside twin (a SageMaker endpoint
// rolled to its artifact) and returns where it serves. Promote and
// Rollback call it before they change any state: when it fails, nothing
// changed.
type Rollout func(ctx context.Context, m warehouse.ModelRecord) (endpoint string, err error)

// SetRollout makes versions of name serve through fn when promoted or
// rolled back to. Call it before the registry is used.
func (r *Registry) SetRollout(name string, fn Rollout) {
	if r.rollouts == nil {
		r.rollouts = map[string]Rollout{}
	}
	r.rollouts[name] = fn
}

// rollOut runs the rollout of m's name, if any, and records the endpoint.
func (r *Registry) rollOut(ctx context.Context, m *warehouse.ModelRecord) error {
	fn, ok := r.rollouts[m.Name]
	if !ok {
		return nil
	}
	endpoint, err := fn(ctx, *m)
	if err != nil {
		return fmt.Errorf("roll out %s/%s: %w", m.Name, m.Version, err)
	}
	m.Endpoint = endpoint
	return nil
}

// Open opens (creating when absent) the registry's buckets.
func Open(ctx context.Context, js jetstream.JetStream, store Store, pub *streams.Publisher) (*Registry, error) {
	kv, err := OpenServing(ctx, js)
	if err != nil {
		return nil, err
	}
	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: ArtifactBucket,
		Description: "model artifacts small enough to travel through NATS", Storage: jetstream.FileStorage, MaxBytes: 64 << 20})
	if err != nil {
		return nil, fmt.Errorf("open the artifact store %s: %w", ArtifactBucket, err)
	}
	return &Registry{store: store, serving: kv, objects: obj, pub: pub, now: time.Now}, nil
}

// OpenServing opens (creating when absent) the bucket of serving versions.
func OpenServing(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: ServingBucket,
		Description: "the model version in service, per model name", History: 16, Storage: jetstream.FileStorage, MaxBytes: 1 << 20})
	if err != nil {
		return nil, fmt.Errorf("open the serving bucket %s: %w", ServingBucket, err)
	}
	return kv, nil
}

// PutArtifact stores data as the artifact of a job and returns its URI.
// Storing the same job's artifact again replaces it.
func (r *Registry) PutArtifact(ctx context.Context, name, jobID string, data []byte) (string, error) {
	object := name + "/" + jobID
	if _, err := r.objects.PutBytes(ctx, object, data); err != nil {
		return "", fmt.Errorf("store the artifact of %s: %w", object, err)
	}
	return ArtifactScheme + object, nil
}

// Artifact reads an artifact kept in the object store.
func Artifact(ctx context.Context, js jetstream.JetStream, uri string) ([]byte, error) {
	object, ok := cutPrefix(uri, ArtifactScheme)
	if !ok {
		return nil, fmt.Errorf("%w: artifact %q is not in the NATS object store", ErrNotServable, uri)
	}
	obj, err := js.ObjectStore(ctx, ArtifactBucket)
	if err != nil {
		return nil, fmt.Errorf("open the artifact store: %w", err)
	}
	data, err := obj.GetBytes(ctx, object)
	if err != nil {
		return nil, fmt.Errorf("read artifact %s: %w", object, err)
	}
	return data, nil
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) <= len(prefix) || s[:len(prefix)] != prefix {
		return "", false
	}
	return s[len(prefix):], true
}

// Register adds m as a candidate version (or returns the version its job
// already has) and announces it.
func (r *Registry) Register(ctx context.Context, m schemas.ModelRegistered) (warehouse.ModelRecord, error) {
	m.State = schemas.ModelCandidate
	rec, err := r.store.AddModel(ctx, warehouse.ModelRecord{ModelRegistered: m})
	if err != nil {
		return warehouse.ModelRecord{}, fmt.Errorf("register %s: %w", m.Name, err)
	}
	if err := r.announce(ctx, rec); err != nil {
		return warehouse.ModelRecord{}, err
	}
	return rec, nil
}

// List returns the versions of name (every model when empty), newest
// first.
func (r *Registry) List(ctx context.Context, name string) ([]warehouse.ModelRecord, error) {
	return r.store.ListModels(ctx, name)
}

// Reject marks a candidate that lost the evaluation gate.
func (r *Registry) Reject(ctx context.Context, m warehouse.ModelRecord) (warehouse.ModelRecord, error) {
	m.State = schemas.ModelRejected
	if err := r.store.UpdateModels(ctx, []warehouse.ModelRecord{m}); err != nil {
		return warehouse.ModelRecord{}, fmt.Errorf("reject %s/%s: %w", m.Name, m.Version, err)
	}
	return m, r.announce(ctx, m)
}

// Promote makes version of name the one in service and retires the one it
// replaces. Promoting the version already serving completes a promotion a
// crash interrupted.
func (r *Registry) Promote(ctx context.Context, name, version string) (warehouse.ModelRecord, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	all, err := r.store.ListModels(ctx, name)
	if err != nil {
		return warehouse.ModelRecord{}, fmt.Errorf("promote %s/%s: %w", name, version, err)
	}
	i := slices.IndexFunc(all, func(m warehouse.ModelRecord) bool { return m.Version == version })
	if i < 0 {
		return warehouse.ModelRecord{}, fmt.Errorf("promote %s/%s: %w", name, version, ErrNoVersion)
	}
	target := all[i]
	if target.ArtifactURI == "" {
		return warehouse.ModelRecord{}, fmt.Errorf("promote %s/%s: %w: it has no artifact", name, version, ErrNotServable)
	}
	if err := r.rollOut(ctx, &target); err != nil {
		return warehouse.ModelRecord{}, err
	}
	changed := r.switchTo(all, &target)
	if err := r.store.UpdateModels(ctx, changed); err != nil {
		return warehouse.ModelRecord{}, fmt.Errorf("promote %s/%s: %w", name, version, err)
	}
	if err := r.point(ctx, Serving{Name: name, Version: target.Version, ArtifactURI: target.ArtifactURI}); err != nil {
		return warehouse.ModelRecord{}, err
	}
	for _, m := range changed {
		if err := r.announce(ctx, m); err != nil {
			return warehouse.ModelRecord{}, err
		}
	}
	return target, nil
}

// switchTo makes target serve (when it does not already) and retires every
// other serving version; it returns the records that changed, target last.
func (r *Registry) switchTo(all []warehouse.ModelRecord, target *warehouse.ModelRecord) []warehouse.ModelRecord {
	var changed []warehouse.ModelRecord
	for _, m := range all {
		if m.Version != target.Version && m.State == schemas.ModelServing {
			m.State = schemas.ModelRetired
			changed = append(changed, m)
		}
	}
	if target.State != schemas.ModelServing {
		target.State = schemas.ModelServing
		target.PromotedAt = r.now().UTC().Truncate(time.Millisecond)
	}
	return append(changed, *target)
}

// Rollback returns name to the version that served before the one serving
// now (or to the built-in model when none did) and retires the current one.
// It returns the version now serving; an empty Version is the built-in.
func (r *Registry) Rollback(ctx context.Context, name string) (warehouse.ModelRecord, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	all, err := r.store.ListModels(ctx, name)
	if err != nil {
		return warehouse.ModelRecord{}, fmt.Errorf("roll back %s: %w", name, err)
	}
	cur := slices.IndexFunc(all, func(m warehouse.ModelRecord) bool { return m.State == schemas.ModelServing })
	if cur < 0 {
		return warehouse.ModelRecord{}, fmt.Errorf("roll back %s: %w: no trained version serves", name, ErrNoRollback)
	}
	current := all[cur]
	var prev *warehouse.ModelRecord
	for i, m := range all {
		if m.State == schemas.ModelRetired && !m.PromotedAt.IsZero() && m.PromotedAt.Before(current.PromotedAt) &&
			(prev == nil || m.PromotedAt.After(prev.PromotedAt)) {
			prev = &all[i]
		}
	}
	if prev == nil {
		if _, ok := r.rollouts[name]; ok {
			return warehouse.ModelRecord{}, fmt.Errorf("roll back %s: %w: its versions serve from an endpoint, and no earlier version served there", name, ErrNoRollback)
		}
		current.State = schemas.ModelRetired
		if err := r.store.UpdateModels(ctx, []warehouse.ModelRecord{current}); err != nil {
			return warehouse.ModelRecord{}, fmt.Errorf("roll back %s: %w", name, err)
		}
		if err := r.point(ctx, Serving{Name: name}); err != nil {
			return warehouse.ModelRecord{}, err
		}
		return warehouse.ModelRecord{ModelRegistered: schemas.ModelRegistered{Name: name}}, r.announce(ctx, current)
	}
	// The version rolled back to keeps its PromotedAt: it is the one it
	// earned, and a second rollback then goes further back, not forth.
	back := *prev
	if err := r.rollOut(ctx, &back); err != nil {
		return warehouse.ModelRecord{}, err
	}
	back.State = schemas.ModelServing
	current.State = schemas.ModelRetired
	changed := []warehouse.ModelRecord{current, back}
	if err := r.store.UpdateModels(ctx, changed); err != nil {
		return warehouse.ModelRecord{}, fmt.Errorf("roll back %s: %w", name, err)
	}
	if err := r.point(ctx, Serving{Name: name, Version: back.Version, ArtifactURI: back.ArtifactURI}); err != nil {
		return warehouse.ModelRecord{}, err
	}
	for _, m := range changed {
		if err := r.announce(ctx, m); err != nil {
			return warehouse.ModelRecord{}, err
		}
	}
	return back, nil
}

// ServingVersion is the version of name in service, from the warehouse;
// ok is false when only the built-in model serves.
func (r *Registry) ServingVersion(ctx context.Context, name string) (warehouse.ModelRecord, bool, error) {
	all, err := r.store.ListModels(ctx, name)
	if err != nil {
		return warehouse.ModelRecord{}, false, err
	}
	for _, m := range all {
		if m.State == schemas.ModelServing {
			return m, true, nil
		}
	}
	return warehouse.ModelRecord{}, false, nil
}

// point sets the serving pointer that serving processes watch.
func (r *Registry) point(ctx context.Context, s Serving) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if _, err := r.serving.Put(ctx, s.Name, data); err != nil {
		return fmt.Errorf("point %s at version %q: %w", s.Name, s.Version, err)
	}
	return nil
}

// announce publishes m's state on twin.training.models, once per state
// change: the message id names the version, the state and when it began to
// serve, so a retried announcement is dropped and a second promotion of the
// same version is not.
func (r *Registry) announce(ctx context.Context, m warehouse.ModelRecord) error {
	id := fmt.Sprintf("model:%s:%s:%s:%d", m.Name, m.Version, m.State, m.PromotedAt.UnixMilli())
	body := m.ModelRegistered
	if _, err := r.pub.Publish(ctx, streams.Out{Subject: schemas.SubjectTrainingModels, MsgID: id, Body: &body}); err != nil {
		return fmt.Errorf("announce %s/%s %s: %w", m.Name, m.Version, m.State, err)
	}
	return nil
}
