package streams

import (
	"context"
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
	return b, err
}

func (r replicated) UpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (b jetstream.KeyValue, err error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	err = patiently(ctx, func(ctx context.Context) (err error) {
		b, err = r.JetStream.UpdateKeyValue(ctx, cfg)
		return err
	})
	return b, err
}

func (r replicated) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (b jetstream.KeyValue, err error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	err = patiently(ctx, func(ctx context.Context) (err error) {
		b, err = r.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
		return err
	})
	return b, err
}

func (r replicated) CreateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (b jetstream.ObjectStore, err error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	err = patiently(ctx, func(ctx context.Context) (err error) {
		b, err = r.JetStream.CreateObjectStore(ctx, cfg)
		return err
	})
	return b, err
}

func (r replicated) UpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (b jetstream.ObjectStore, err error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	err = patiently(ctx, func(ctx context.Context) (err error) {
		b, err = r.JetStream.UpdateObjectStore(ctx, cfg)
		return err
	})
	return b, err
}

func (r replicated) CreateOrUpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (b jetstream.ObjectStore, err error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	err = patiently(ctx, func(ctx context.Context) (err error) {
		b, err = r.JetStream.CreateOrUpdateObjectStore(ctx, cfg)
		return err
	})
	return b, err
}

// bucketPatience bounds how long a bucket's creation waits for the cluster.
const bucketPatience = 2 * time.Minute

// patiently is untilAvailable within bucketPatience.
func patiently(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, bucketPatience)
	defer cancel()
	return untilAvailable(ctx, f)
}
