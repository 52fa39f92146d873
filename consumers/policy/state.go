package policy

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/streams"
)

// Keys of the policy's KV bucket: one per rule, so that each consumer
// writes only what it changed, and one for the cooldown of every kind.
const (
	keyDocuments = "documents"
	keyRatings   = "ratings"
	keyJudgments = "judgments"
	keyDrift     = "drift"
	keyKinds     = "kinds"
)

// maxTracked bounds a counter's set of ids and the ratings window: past it
// a count saturates (documented), so the state written per batch stays
// under a megabyte whatever the traffic.
const maxTracked = 1 << 16

// bucketBytes is the most the bucket may hold. History is 1, so it holds
// one value per key, at most about 8 MiB in all (the drift state is bounded
// by 4 MiB, the id sets by 700 kB each, the ratings by 1.1 MB): 16 MiB is
// room to spare within streams.BucketBytes.
const bucketBytes = 16 << 20

// openBucket creates (or updates) the policy's KV bucket.
func openBucket(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      streams.BucketPolicy,
		Description: "retrain policy: evidence since the last training of each kind, the drift snapshot, the cooldowns",
		History:     1,
		MaxBytes:    bucketBytes,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("policy bucket: %w", err)
	}
	return kv, nil
}

// state is everything the policy decides from. Every change to it is
// idempotent (a set insert, a replacement by key, a reset recorded with its
// job), so that a redelivered message, applied twice, changes nothing: the
// runtime delivers at least once, and this is what makes that harmless.
type state struct {
	Documents counter   `json:"documents"` // distinct documents indexed since the last sft training
	Judgments counter   `json:"judgments"` // distinct judgments since the last rerank training
	Ratings   ratings   `json:"ratings"`   // the latest rating of each answer, inside the window
	Drift     drift     `json:"drift"`
	Kinds     kindState `json:"kinds"`
}

// counter is a set of distinct ids seen since Since; Last is when the
// latest was seen.
type counter struct {
	Since time.Time `json:"since,omitzero"`
	Last  time.Time `json:"last,omitzero"`
	IDs   idSet     `json:"ids"`
}

// add counts id, seen at t; it reports whether id was new.
func (c *counter) add(id string, t time.Time) bool {
	if c.IDs == nil {
		c.IDs = idSet{}
	}
	h := hash64(id)
	if _, ok := c.IDs[h]; ok || len(c.IDs) >= maxTracked {
		return false
	}
	c.IDs[h] = struct{}{}
	if c.Since.IsZero() || t.Before(c.Since) {
		c.Since = t
	}
	if t.After(c.Last) {
		c.Last = t
	}
	return true
}

func (c *counter) reset() { *c = counter{IDs: idSet{}} }

// idSet is a set of 64-bit id hashes, stored as base64 of their bytes: a
// set of 65,536 ids is 700 kB, not the 1.3 MB of a JSON array.
type idSet map[uint64]struct{}

func (s idSet) MarshalJSON() ([]byte, error) {
	keys := make([]uint64, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same set, the same bytes
	b := make([]byte, 0, 8*len(keys))
	for _, k := range keys {
		b = binary.LittleEndian.AppendUint64(b, k)
	}
	return json.Marshal(b)
}

func (s *idSet) UnmarshalJSON(data []byte) error {
	var b []byte
	if err := json.Unmarshal(data, &b); err != nil {
		return err
	}
	if len(b)%8 != 0 {
		return fmt.Errorf("id set of %d bytes, not a multiple of 8", len(b))
	}
	out := make(idSet, len(b)/8)
	for i := 0; i < len(b); i += 8 {
		out[binary.LittleEndian.Uint64(b[i:])] = struct{}{}
	}
	*s = out
	return nil
}

// ratings keeps the latest rating of each answer (by request id) inside
// the sliding window. A rating changed by its user replaces the earlier
// one, so an answer counts once.
type ratings map[uint64]rating

type rating struct {
	At       int64 // unix nanoseconds
	Negative bool
}

// put records a rating of request at t; a rating older than the one kept
// for the same request is ignored, so the order of delivery does not matter.
func (r ratings) put(request string, at time.Time, negative bool) {
	h := hash64(request)
	if old, ok := r[h]; ok && old.At > at.UnixNano() {
		return
	}
	if _, ok := r[h]; !ok && len(r) >= maxTracked {
		return
	}
	r[h] = rating{At: at.UnixNano(), Negative: negative}
}

// prune drops the ratings before from.
func (r ratings) prune(from time.Time) {
	for h, x := range r {
		if x.At < from.UnixNano() {
			delete(r, h)
		}
	}
}

// count returns how many ratings fall in [from, to] and how many of them
// are negative.
func (r ratings) count(from, to time.Time) (total, negative int) {
	for _, x := range r {
		if x.At >= from.UnixNano() && x.At <= to.UnixNano() {
			total++
			if x.Negative {
				negative++
			}
		}
	}
	return total, negative
}

// ratings are stored as 17 bytes each: hash, time, negative.
func (r ratings) MarshalJSON() ([]byte, error) {
	keys := make([]uint64, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := make([]byte, 0, 17*len(keys))
	for _, k := range keys {
		x := r[k]
		b = binary.LittleEndian.AppendUint64(b, k)
		b = binary.LittleEndian.AppendUint64(b, uint64(x.At))
		neg := byte(0)
		if x.Negative {
			neg = 1
		}
		b = append(b, neg)
	}
	return json.Marshal(b)
}

func (r *ratings) UnmarshalJSON(data []byte) error {
	var b []byte
	if err := json.Unmarshal(data, &b); err != nil {
		return err
	}
	if len(b)%17 != 0 {
		return fmt.Errorf("ratings of %d bytes, not a multiple of 17", len(b))
	}
	out := make(ratings, len(b)/17)
	for i := 0; i < len(b); i += 17 {
		out[binary.LittleEndian.Uint64(b[i:])] = rating{At: int64(binary.LittleEndian.Uint64(b[i+8:])), Negative: b[i+16] == 1}
	}
	*r = out
	return nil
}

// kindState is the cooldown and training record of each training kind.
type kindState map[string]*kindRecord

type kindRecord struct {
	// WindowStart begins the current cooldown window: no trigger of the
	// kind fires before it, and the next trigger's id is derived from it,
	// so that a trigger published again (after a crash between the
	// publish and the write of this record) has the same id and is
	// dropped by the stream's deduplication.
	WindowStart time.Time `json:"window_start,omitzero"`
	LastTrigger string    `json:"last_trigger,omitempty"`
	LastFired   time.Time `json:"last_fired,omitzero"`
	// LastJob and LastTrained are the last successful training applied:
	// a redelivered status of the same job resets nothing again.
	LastJob     string    `json:"last_job,omitempty"`
	LastTrained time.Time `json:"last_trained,omitzero"`
}

func (k kindState) get(kind string) *kindRecord {
	r, ok := k[kind]
	if !ok {
		r = &kindRecord{}
		k[kind] = r
	}
	return r
}

// matrix is a list of vectors of one dimension, stored quantized: each
// row as its scale (a float32) and one signed byte per dimension, the
// value over the scale. The vectors are unit length and only compared by
// cosine, which this keeps to about 1%; a sample of 256 vectors of 1,024
// dimensions is 350 kB instead of the 1 MB of float32 (and 2.5 MB of JSON
// numbers), written with every batch that changes it.
type matrix [][]float32

type matrixJSON struct {
	Dim  int    `json:"dim"`
	Data []byte `json:"q8"`
}

func (m matrix) MarshalJSON() ([]byte, error) {
	dim := 0
	if len(m) > 0 {
		dim = len(m[0])
	}
	b := make([]byte, 0, (4+dim)*len(m))
	for _, v := range m {
		if len(v) != dim {
			return nil, fmt.Errorf("matrix of rows of %d and %d dimensions", dim, len(v))
		}
		var top float32
		for _, x := range v {
			top = max(top, abs32(x))
		}
		scale := top / 127
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(scale))
		for _, x := range v {
			q := 0.0
			if scale > 0 {
				q = math.Round(float64(x / scale))
			}
			b = append(b, byte(int8(q)))
		}
	}
	return json.Marshal(matrixJSON{Dim: dim, Data: b})
}

func (m *matrix) UnmarshalJSON(data []byte) error {
	var mj matrixJSON
	if err := json.Unmarshal(data, &mj); err != nil {
		return err
	}
	if mj.Dim <= 0 {
		*m = nil
		return nil
	}
	row := 4 + mj.Dim
	if len(mj.Data)%row != 0 {
		return fmt.Errorf("matrix of %d bytes, not rows of %d dimensions", len(mj.Data), mj.Dim)
	}
	out := make(matrix, len(mj.Data)/row)
	for i := range out {
		r := mj.Data[i*row : (i+1)*row]
		scale := math.Float32frombits(binary.LittleEndian.Uint32(r))
		v := make([]float32, mj.Dim)
		for j := range v {
			v[j] = float32(int8(r[4+j])) * scale
		}
		out[i] = v
	}
	*m = out
	return nil
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// hash64 is FNV-1a of s: stable across processes and versions, which
// Go's maphash is not, since the hashes are stored.
func hash64(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// store keeps the state in the KV bucket, one key per part, each written
// only if nobody else wrote it since it was read (compare and set on the
// key's revision): two policies running at once cannot lose each other's
// counts; the loser reloads and its message is retried.
type store struct {
	kv   jetstream.KeyValue
	revs map[string]uint64
}

// errConflict is a write that lost to another writer of the same key.
var errConflict = errors.New("policy: the state changed under us")

// load reads key into v; a missing key leaves v as it is.
func (s *store) load(ctx context.Context, key string, v any) error {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		s.revs[key] = 0
		return nil
	}
	if err != nil {
		return fmt.Errorf("load policy %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return fmt.Errorf("load policy %s: %w", key, err)
	}
	s.revs[key] = e.Revision()
	return nil
}

// save writes v under key if the key is still at the revision last read
// or written.
func (s *store) save(ctx context.Context, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("save policy %s: %w", key, err)
	}
	var rev uint64
	if last := s.revs[key]; last == 0 {
		rev, err = s.kv.Create(ctx, key, data)
	} else {
		rev, err = s.kv.Update(ctx, key, data, last)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("save policy %s: %w: %w", key, errConflict, err)
	}
	if err != nil {
		return fmt.Errorf("save policy %s: %w", key, err)
	}
	s.revs[key] = rev
	return nil
}

// loadAll reads the whole state.
func (s *store) loadAll(ctx context.Context) (state, error) {
	st := state{Documents: counter{IDs: idSet{}}, Judgments: counter{IDs: idSet{}}, Ratings: ratings{}, Kinds: kindState{}}
	for key, v := range map[string]any{keyDocuments: &st.Documents, keyJudgments: &st.Judgments,
		keyRatings: &st.Ratings, keyDrift: &st.Drift, keyKinds: &st.Kinds} {
		if err := s.load(ctx, key, v); err != nil {
			return state{}, err
		}
	}
	// A key written empty decodes to nil maps.
	if st.Documents.IDs == nil {
		st.Documents.IDs = idSet{}
	}
	if st.Judgments.IDs == nil {
		st.Judgments.IDs = idSet{}
	}
	if st.Ratings == nil {
		st.Ratings = ratings{}
	}
	if st.Kinds == nil {
		st.Kinds = kindState{}
	}
	return st, nil
}
