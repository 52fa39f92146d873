// Package cdc is the change-data-capture producer: it turns every write in
// the warehouse into a message on twin.cdc.<collection>.<op>, whatever the
// warehouse. MongoDB replica sets are read through change streams; SQLite
// and standalone mongod through a tail of the revisions the store
// allocates. Either way the position is checkpointed in a JetStream KV
// bucket only after every earlier event's publish was acknowledged, and
// every event carries a Nats-Msg-Id derived from the change, so a replay
// after a crash is deduplicated by the CDC stream.
package cdc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the KV bucket holding CDC checkpoints.
const Bucket = "twin_cdc"

// Checkpoint is a named position kept in the KV bucket.
type Checkpoint struct {
	kv  jetstream.KeyValue
	key string
}

// OpenCheckpoint opens (creating the bucket if needed) the checkpoint key.
func OpenCheckpoint(ctx context.Context, js jetstream.JetStream, key string) (*Checkpoint, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "CDC positions: the last revision or resume token whose events are all stored",
		History:     5,
		MaxBytes:    16 << 20,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("cdc checkpoint bucket: %w", err)
	}
	return &Checkpoint{kv: kv, key: key}, nil
}

// Load returns the stored value, or "" when there is none yet.
func (c *Checkpoint) Load(ctx context.Context) (string, error) {
	e, err := c.kv.Get(ctx, c.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("load checkpoint %s: %w", c.key, err)
	}
	return string(e.Value()), nil
}

// Store saves v. Callers store a position only once every event before it
// is acknowledged by the CDC stream.
func (c *Checkpoint) Store(ctx context.Context, v string) error {
	if _, err := c.kv.PutString(ctx, c.key, v); err != nil {
		return fmt.Errorf("store checkpoint %s: %w", c.key, err)
	}
	return nil
}

// Delete forgets the position (a re-snapshot follows).
func (c *Checkpoint) Delete(ctx context.Context) error {
	if err := c.kv.Delete(ctx, c.key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete checkpoint %s: %w", c.key, err)
	}
	return nil
}

// sibling is another key of the same bucket, named after this one.
func (c *Checkpoint) sibling(name string) *Checkpoint {
	return &Checkpoint{kv: c.kv, key: c.key + "-" + name}
}

// revision parses a tail checkpoint.
func revision(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// sleep waits d or until ctx ends, reporting whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
