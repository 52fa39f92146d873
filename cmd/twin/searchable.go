package main

import (
	"context"
	"errors"
	"net/url"
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
	want := map[string]int64{} // id → warehouse revision, once known
	pending := map[string]bool{}
	for _, id := range ids {
		pending[id] = true
	}
	total := len(pending)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var known []string // pending documents whose warehouse revision is known
		for id := range pending {
			if _, ok := want[id]; !ok {
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
			}
			known = append(known, id)
		}
		have, err := revs.Get(ctx, known)
		if err != nil {
			return err
		}
		for _, id := range known {
			if have[id] >= want[id] {
				delete(pending, id)
			}
		}
		if progress != nil {
			progress(total-len(pending), total)
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
