package streams

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ReadToEnd reads stream's messages that cfg selects, in order, as of now,
// and returns once none is left: it never waits for new ones, so a caller
// asked every few seconds (the status, the DLQ listing) costs what there
// is to read.
func ReadToEnd(ctx context.Context, stream jetstream.Stream, cfg jetstream.OrderedConsumerConfig, each func(jetstream.Msg) error) error {
	name := stream.CachedInfo().Config.Name
	if cfg.InactiveThreshold == 0 {
		cfg.InactiveThreshold = 5 * time.Second // gone soon after this one read
	}
	oc, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	for {
		batch, err := oc.FetchNoWait(256)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if err := each(m); err != nil {
				return err
			}
			if md, err := m.Metadata(); err == nil && md.NumPending == 0 {
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if n == 0 {
			return nil
		}
	}
}
