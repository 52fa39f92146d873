package main

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/consumers/embedder"
	"github.com/twin-llm/twin/internal/warehouse"
)

// waitStored waits until the warehouse writer has acked every DOCS message
// up to seq: everything published before is in the warehouse.
func waitStored(ctx context.Context, js jetstream.JetStream, seq uint64) error {
	writer, err := js.Consumer(ctx, "DOCS", "warehouse")
	if err != nil {
		return err
	}
	for {
		info, err := writer.Info(ctx)
		if err != nil {
			return err
		}
		if info.AckFloor.Stream >= seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitSearchable waits until each document is in the vector store at the
// revision the warehouse holds, reporting progress as it goes. The
// embedder records the last revision it indexed per document; the
// warehouse (through the gateway) says which revision is current, so an
// unchanged document already indexed counts at once.
func (g *globals) waitSearchable(ctx context.Context, js jetstream.JetStream, ids []string, progress func(done, total int)) error {
	revs, err := embedder.OpenKVRevisions(ctx, js)
	if err != nil {
		return err
	}
	unknown := map[string]bool{} // documents whose warehouse revision is not known yet
	for _, id := range ids {
		unknown[id] = true
	}
	want := map[string]int64{} // id → warehouse revision, until indexed
	total := len(unknown)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		for id := range unknown {
			var d warehouse.Document
			err := g.getJSON(ctx, "/v1/docs/"+url.PathEscape(id), &d)
			var herr *httpError
			if errors.As(err, &herr) && herr.status == 404 {
				continue // not stored yet
			}
			if err != nil {
				return err
			}
			want[id] = d.Revision
			delete(unknown, id)
		}
		if err := dropIndexed(ctx, revs, want); err != nil {
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
			return ctx.Err()
		case <-tick.C:
		}
	}
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
