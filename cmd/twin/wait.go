package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/producers/importer"
	"github.com/twin-llm/twin/producers/progress"
)

// waitOptions are the flags of a command's --wait.
type waitOptions struct {
	timeout   time.Duration // 0: no limit
	warnAfter time.Duration // 0: no warning
}

func (wo *waitOptions) flags(cmd *cobra.Command, timeout time.Duration) {
	cmd.Flags().DurationVar(&wo.timeout, "timeout", timeout, "with --wait: give up after this long, exiting non-zero with what is still pending (0: never)")
	cmd.Flags().DurationVar(&wo.warnAfter, "warn-after", progress.DefaultWarnAfter, "with --wait: say which component is not consuming after this long without progress (0: never)")
}

// bound is ctx ended by --timeout, with the flag as its cause, so that the
// message of a wait that gave up names it.
func (wo *waitOptions) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return progress.Bound(ctx, wo.timeout, fmt.Errorf("--timeout %s", wo.timeout))
}

// docRevision is the revision of a document the warehouse holds, read
// through the gateway.
func (g *globals) docRevision(ctx context.Context, id string) (int64, bool, error) {
	var d warehouse.Document
	err := g.getJSON(ctx, "/v1/docs/"+url.PathEscape(id), &d)
	var herr *httpError
	if errors.As(err, &herr) && herr.status == http.StatusNotFound {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return d.Revision, true, nil
}

// waitImported waits until the documents of an import are stored and then
// searchable, showing progress on stderr, and returns how long it took.
func (g *globals) waitImported(ctx context.Context, js jetstream.JetStream, sum importer.Summary, wo waitOptions) (time.Duration, error) {
	began := time.Now()
	ctx, cancel := wo.bound(ctx)
	defer cancel()
	if err := g.waitStored(ctx, js, sum.LastSeq, wo); err != nil {
		return 0, err
	}
	err := g.waitSearchable(ctx, js, sum.IDs, wo)
	return time.Since(began), err
}

// waitStored waits until the warehouse writer has acked every DOCS message
// up to seq, saying on stderr which component is not consuming when
// nothing moves. ctx is bound by the caller (waitOptions.bound).
func (g *globals) waitStored(ctx context.Context, js jetstream.JetStream, seq uint64, wo waitOptions) error {
	out := &progress.SyncWriter{W: g.stderr}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go progress.Watch(wctx, js, progress.PipelineWatches()[:1], wo.warnAfter, out)
	return progress.GaveUp(ctx, progress.StoredUpTo(ctx, js, seq, &progress.Retrier{Out: out}))
}

// waitSearchable waits until each document of ids is searchable at the
// revision the warehouse holds, with a meter on stderr. ctx is bound by
// the caller (waitOptions.bound).
func (g *globals) waitSearchable(ctx context.Context, js jetstream.JetStream, ids []string, wo waitOptions) error {
	m := newMeter(g.stderr, "searchable", int64(len(ids)), false)
	defer m.Done()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go progress.Watch(wctx, js, progress.PipelineWatches(), wo.warnAfter, m)
	err := progress.Searchable(ctx, js, ids, g.docRevision, func(n, total int) {
		m.Set(int64(n), "")
	}, &progress.Retrier{Out: m})
	return progress.GaveUp(ctx, err)
}
