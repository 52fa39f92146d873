package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// WithReplicas returns js with every key-value bucket and object store it
// creates or updates kept at n replicas (when the caller asked for fewer),
// so that the state the components keep beside the streams (the CDC
// checkpoint, the embedder's revisions, the policy's windows, the model
// registry) survives the loss of a cluster node as the streams do. The
// components open their buckets themselves and need not know the cluster's
// size.
//
// On a cluster, creating a replicated bucket waits for its members to
// agree, which takes a while when many processes start at once; so these
// calls try again on the errors of a busy or forming cluster, for up to
// bucketPatience unless ctx ends first. n <= 1 returns js unchanged.
func WithReplicas(js jetstream.JetStream, n int) jetstream.JetStream {
	if n <= 1 {
		return js
	}
	return replicated{JetStream: js, n: n}
}

type replicated struct {
	jetstream.JetStream
	n int
}

func (r replicated) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (b jetstream.KeyValue, err error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	err = patiently(ctx, func(ctx context.Context) (err error) {
		b, err = r.JetStream.CreateKeyValue(ctx, cfg)
		return err
	})
	if err == nil {
		err = r.led(ctx, "KV_"+cfg.Bucket)
	}
	return b, err
}

func (r replicated) UpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (b jetstream.KeyValue, err error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	err = patiently(ctx, func(ctx context.Context) (err error) {
		b, err = r.JetStream.UpdateKeyValue(ctx, cfg)
		return err
	})
	if err == nil {
		err = r.led(ctx, "KV_"+cfg.Bucket)
	}
	return b, err
}

func (r replicated) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (b jetstream.KeyValue, err error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	err = patiently(ctx, func(ctx context.Context) (err error) {
		b, err = r.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
		return err
	})
	if err == nil {
		err = r.led(ctx, "KV_"+cfg.Bucket)
	}
	return b, err
}

func (r replicated) CreateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (b jetstream.ObjectStore, err error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	err = patiently(ctx, func(ctx context.Context) (err error) {
		b, err = r.JetStream.CreateObjectStore(ctx, cfg)
		return err
	})
	if err == nil {
		err = r.led(ctx, "OBJ_"+cfg.Bucket)
	}
	return b, err
}

func (r replicated) UpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (b jetstream.ObjectStore, err error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	err = patiently(ctx, func(ctx context.Context) (err error) {
		b, err = r.JetStream.UpdateObjectStore(ctx, cfg)
		return err
	})
	if err == nil {
		err = r.led(ctx, "OBJ_"+cfg.Bucket)
	}
	return b, err
}

func (r replicated) CreateOrUpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (b jetstream.ObjectStore, err error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	err = patiently(ctx, func(ctx context.Context) (err error) {
		b, err = r.JetStream.CreateOrUpdateObjectStore(ctx, cfg)
		return err
	})
	if err == nil {
		err = r.led(ctx, "OBJ_"+cfg.Bucket)
	}
	return b, err
}

// led waits, patiently, until the stream behind a bucket has a leader. On
// a forming cluster a bucket can exist before any member answers reads of
// it ("no responders"), and the components read their bucket first thing:
// the CDC its checkpoint, the embedder its revisions.
func (r replicated) led(ctx context.Context, stream string) error {
	return patiently(ctx, func(ctx context.Context) error {
		// Stream looks the stream up afresh each time, info included.
		s, err := r.JetStream.Stream(ctx, stream)
		if err != nil {
			return err
		}
		if info := s.CachedInfo(); info.Cluster != nil && info.Cluster.Leader == "" {
			return fmt.Errorf("bucket stream %s: %w", stream, errNoLeader)
		}
		return nil
	})
}

// errNoLeader is a replicated stream whose members have not elected a
// leader yet: an election takes a moment, so it is worth waiting for.
var errNoLeader = errors.New("no leader elected yet")

// bucketPatience bounds how long a bucket's creation waits for the cluster.
const bucketPatience = 2 * time.Minute

// patiently is untilAvailable within bucketPatience.
func patiently(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, bucketPatience)
	defer cancel()
	return untilAvailable(ctx, f)
}
