package progress

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/consumers/embedder"
	"github.com/twin-llm/twin/streams"
)

// StoredUpTo waits until the warehouse writer has acked every DOCS message up
// to seq: everything published before is in the warehouse.
func StoredUpTo(ctx context.Context, js jetstream.JetStream, seq uint64, r *Retrier) error {
	err := AckedUpTo(ctx, js, streams.StreamDocs, streams.ConsumerWriter, seq, nil, r)
	var behind *BehindError
	if errors.As(err, &behind) {
		return fmt.Errorf("the warehouse has stored the documents up to DOCS sequence %d of %d: %w", behind.Floor, seq, behind.Err)
	}
	return err
}

// BehindError is a wait of AckedUpTo that ended before the consumer got
// there: how far it got.
type BehindError struct {
	Floor uint64
	Err   error // the context's
}

func (e *BehindError) Error() string {
	return fmt.Sprintf("acked up to sequence %d: %v", e.Floor, e.Err)
}

func (e *BehindError) Unwrap() error { return e.Err }

// AckedUpTo waits until consumer on stream has acked every message up to
// seq, calling onProgress (when set) with its ack floor as it moves. When
// ctx ends first, the error is a *BehindError.
func AckedUpTo(ctx context.Context, js jetstream.JetStream, stream, consumer string, seq uint64, onProgress func(floor uint64), r *Retrier) error {
	var floor, told uint64
	for {
		err := r.Do(ctx, "read the "+consumer+" consumer", func(ctx context.Context) error {
			var err error
			floor, err = AckFloor(ctx, js, stream, consumer)
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return &BehindError{Floor: floor, Err: ctx.Err()}
			}
			return err
		}
		if onProgress != nil && floor != told {
			told = floor
			onProgress(floor)
		}
		if floor >= seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return &BehindError{Floor: floor, Err: ctx.Err()}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// LastSeq reads the sequence of the last message of stream (0 when it
// never held one).
func LastSeq(ctx context.Context, js jetstream.JetStream, stream string) (uint64, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("read stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("read stream %s: %w", stream, err)
	}
	return info.State.LastSeq, nil
}

// StoredFloor reads, once, the DOCS sequence up to which the warehouse
// writer has acked every message.
func StoredFloor(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	return AckFloor(ctx, js, streams.StreamDocs, streams.ConsumerWriter)
}

// AckFloor reads, once, the sequence of stream up to which consumer has
// acked every message.
func AckFloor(ctx context.Context, js jetstream.JetStream, stream, consumer string) (uint64, error) {
	c, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		return 0, fmt.Errorf("read the %s consumer: %w", consumer, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("read the %s consumer: %w", consumer, err)
	}
	return info.AckFloor.Stream, nil
}

// Lookup reads the revision of a document the warehouse holds now; found
// is false while it holds none.
type Lookup func(ctx context.Context, id string) (revision int64, found bool, err error)

// Searchable waits until each document of ids is in the vector store at
// the revision lookup says the warehouse holds, calling onProgress (when
// set) as it goes. The embedder records the last revision it indexed per
// document, so an unchanged document already indexed counts at once.
// When ctx ends, the error says what is left.
func Searchable(ctx context.Context, js jetstream.JetStream, ids []string, lookup Lookup, onProgress func(done, total int), r *Retrier) error {
	unknown := map[string]bool{}
	for _, id := range ids {
		unknown[id] = true
	}
	return indexed(ctx, js, unknown, map[string]int64{}, lookup, onProgress, r)
}

// Indexed waits until the embedder has indexed each document of want (id
// → revision) at that revision or a later one.
func Indexed(ctx context.Context, js jetstream.JetStream, want map[string]int64, onProgress func(done, total int), r *Retrier) error {
	return indexed(ctx, js, map[string]bool{}, maps.Clone(want), nil, onProgress, r)
}

// indexed waits until want (id → revision) is empty, first asking lookup
// for the revisions of unknown.
func indexed(ctx context.Context, js jetstream.JetStream, unknown map[string]bool, want map[string]int64, lookup Lookup, onProgress func(done, total int), r *Retrier) error {
	var revs *embedder.KVRevisions
	err := r.Do(ctx, "open the index revisions", func(ctx context.Context) error {
		var err error
		revs, err = embedder.OpenKVRevisions(ctx, js)
		return err
	})
	if err != nil {
		return err
	}
	total := len(unknown) + len(want)
	left := func(err error) error {
		pending := slices.Sorted(maps.Keys(want))
		pending = append(pending, slices.Sorted(maps.Keys(unknown))...)
		return fmt.Errorf("%d of %d documents not yet searchable (%s): %w", len(pending), total, examples(pending, 5), err)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		for id := range unknown {
			var rev int64
			var found bool
			err := r.Do(ctx, "read the warehouse through the gateway", func(ctx context.Context) error {
				var err error
				rev, found, err = lookup(ctx, id)
				return err
			})
			if ctx.Err() != nil {
				return left(ctx.Err())
			}
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			want[id] = rev
			delete(unknown, id)
		}
		err := r.Do(ctx, "read the index revisions", func(ctx context.Context) error { return dropIndexed(ctx, revs, want) })
		if ctx.Err() != nil {
			return left(ctx.Err())
		}
		if err != nil {
			return err
		}
		pending := len(unknown) + len(want)
		if onProgress != nil {
			onProgress(total-pending, total)
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return left(ctx.Err())
		case <-tick.C:
		}
	}
}

// examples names the first n of ids, and how many more there are.
func examples(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:n], ", "), len(ids)-n)
}

// dropIndexed removes from want (id → revision) the documents the
// embedder has indexed at that revision or a later one.
func dropIndexed(ctx context.Context, revs *embedder.KVRevisions, want map[string]int64) error {
	ids := slices.Collect(maps.Keys(want))
	have, err := revs.Get(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if have[id] >= want[id] {
			delete(want, id)
		}
	}
	return nil
}
