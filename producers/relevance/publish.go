package relevance

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// batchSize is how many judgments go out in one batch of async publishes.
const batchSize = 512

// batchPublisher publishes messages and waits for their acks;
// streams.Publisher implements it.
type batchPublisher interface {
	PublishBatch(ctx context.Context, outs []streams.Out) ([]*jetstream.PubAck, error)
}

// Summary counts what an Importer published.
type Summary struct {
	// Published is how many judgments FEEDBACK stored in this run.
	Published int
	// Duplicates is how many it already held (the same id, within its
	// dedup window): the same pair earlier in the file, or a run moments
	// before. Past the window the warehouse drops them by id instead.
	Duplicates int
	// LastSeq is the highest FEEDBACK sequence of the judgments, for
	// waiting until the monitor has stored them all.
	LastSeq uint64
}

// Importer publishes judgments on FeedbackSubject(FeedbackRelevance) in
// batches, each with its id as Nats-Msg-Id.
type Importer struct {
	pub   batchPublisher
	batch []streams.Out
	sum   Summary
}

// NewImporter returns an Importer publishing through pub.
func NewImporter(pub batchPublisher) *Importer { return &Importer{pub: pub} }

// Add queues j, publishing the queue when it is full.
func (im *Importer) Add(ctx context.Context, j schemas.Judgment) error {
	im.batch = append(im.batch, streams.Out{Subject: schemas.FeedbackSubject(schemas.FeedbackRelevance), MsgID: j.ID, Body: j})
	if len(im.batch) < batchSize {
		return nil
	}
	return im.Flush(ctx)
}

// Flush publishes what is queued and waits for the stream's acks.
func (im *Importer) Flush(ctx context.Context) error {
	if len(im.batch) == 0 {
		return nil
	}
	acks, err := im.pub.PublishBatch(ctx, im.batch)
	if err != nil {
		return fmt.Errorf("publish %d judgments: %w", len(im.batch), err)
	}
	for _, a := range acks {
		if a == nil {
			continue
		}
		if a.Duplicate {
			im.sum.Duplicates++
		} else {
			im.sum.Published++
		}
		im.sum.LastSeq = max(im.sum.LastSeq, a.Sequence)
	}
	im.batch = im.batch[:0]
	return nil
}

// Summary is what was published so far.
func (im *Importer) Summary() Summary { return im.sum }
