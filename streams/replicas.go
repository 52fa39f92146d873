package streams

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// WithReplicas returns js with every key-value bucket and object store it
// creates or updates kept at n replicas (when the caller asked for fewer),
// so that the state the components keep beside the streams (the CDC
// checkpoint, the embedder's revisions, the policy's windows, the model
// registry) survives the loss of a cluster node as the streams do. The
// components open their buckets themselves and need not know the cluster's
// size. n <= 1 returns js unchanged.
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

func (r replicated) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	return r.JetStream.CreateKeyValue(ctx, cfg)
}

func (r replicated) UpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	return r.JetStream.UpdateKeyValue(ctx, cfg)
}

func (r replicated) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	return r.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
}

func (r replicated) CreateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	return r.JetStream.CreateObjectStore(ctx, cfg)
}

func (r replicated) UpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	return r.JetStream.UpdateObjectStore(ctx, cfg)
}

func (r replicated) CreateOrUpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	cfg.Replicas = max(cfg.Replicas, r.n)
	return r.JetStream.CreateOrUpdateObjectStore(ctx, cfg)
}
