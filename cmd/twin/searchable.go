package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/consumers/embedder"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/streams"
)

// waitStored waits until the warehouse writer has acked every DOCS message
// up to seq: everything published before is in the warehouse. It rides out
// NATS reconnects and restarts through r.
func waitStored(ctx context.Context, js jetstream.JetStream, seq uint64, r *retrier) error {
	var floor uint64
	for {
		err := r.do(ctx, "read the warehouse consumer", func(ctx context.Context) error {
			writer, err := js.Consumer(ctx, streams.StreamDocs, streams.ConsumerWriter)
			if err != nil {
				return err
			}
			info, err := writer.Info(ctx)
			if err != nil {
				return err
			}
			floor = info.AckFloor.Stream
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("the warehouse has stored the documents up to DOCS sequence %d of %d: %w", floor, seq, ctx.Err())
			}
			return err
		}
		if floor >= seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the warehouse has stored the documents up to DOCS sequence %d of %d: %w", floor, seq, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitSearchable waits until each document is in the vector store at the
// revision the warehouse holds, reporting progress as it goes. The
// embedder records the last revision it indexed per document; the
// warehouse (through the gateway) says which revision is current, so an
// unchanged document already indexed counts at once. It rides out NATS and
// gateway restarts through r; when ctx ends, the error says what is left.
func (g *globals) waitSearchable(ctx context.Context, js jetstream.JetStream, ids []string, progress func(done, total int), r *retrier) error {
	var revs *embedder.KVRevisions
	err := r.do(ctx, "open the index revisions", func(ctx context.Context) error {
		var err error
		revs, err = embedder.OpenKVRevisions(ctx, js)
		return err
	})
	if err != nil {
		return err
	}
	unknown := map[string]bool{} // documents whose warehouse revision is not known yet
	for _, id := range ids {
		unknown[id] = true
	}
	want := map[string]int64{} // id → warehouse revision, until indexed
	total := len(unknown)
	left := func(err error) error {
		pending := slices.Sorted(maps.Keys(want))
		pending = append(pending, slices.Sorted(maps.Keys(unknown))...)
		return fmt.Errorf("%d of %d documents not yet searchable (%s): %w", len(pending), total, examples(pending, 5), err)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		for id := range unknown {
			var d warehouse.Document
			err := r.do(ctx, "read the warehouse through the gateway", func(ctx context.Context) error {
				err := g.getJSON(ctx, "/v1/docs/"+url.PathEscape(id), &d)
				var herr *httpError
				if errors.As(err, &herr) && herr.status == 404 {
					d.Revision = -1 // not stored yet
					return nil
				}
				return err
			})
			if ctx.Err() != nil {
				return left(ctx.Err())
			}
			if err != nil {
				return err
			}
			if d.Revision < 0 {
				continue
			}
			want[id] = d.Revision
			delete(unknown, id)
		}
		err := r.do(ctx, "read the index revisions", func(ctx context.Context) error { return dropIndexed(ctx, revs, want) })
		if ctx.Err() != nil {
			return left(ctx.Err())
		}
		if err != nil {
			return err
		}
		pending := len(unknown) + len(want)
		if progress != nil {
			progress(total-pending, total)
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
