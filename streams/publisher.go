package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/twin-llm/twin/schemas"
)

// Out is one message to publish.
type Out struct {
	Subject string
	// MsgID is the dedup key (Nats-Msg-Id): derive it from the source (a
	// normalized URL, a change's collection, id and revision) so that a
	// replay inside the stream's window is dropped. Empty means no dedup.
	MsgID      string
	Body       schemas.Message
	TraceID    string    // empty: the context's trace, or a new one
	OriginTime time.Time // zero: the context's origin time, or now
}

// Publisher publishes twin messages with their headers and waits for the
// stream's acknowledgement: a publish that returned nil is stored.
type Publisher struct {
	js jetstream.JetStream
	// window bounds the async publishes awaiting acks in PublishBatch.
	window int
}

// NewPublisher returns a publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js, window: 1024} }

// Msg builds the NATS message for out: encoded body and the twin headers.
func (p *Publisher) Msg(ctx context.Context, out Out) (*nats.Msg, error) {
	if out.Body == nil {
		return nil, fmt.Errorf("publish to %s: no body", out.Subject)
	}
	data, err := schemas.Encode(out.Body)
	if err != nil {
		return nil, fmt.Errorf("publish to %s: %w", out.Subject, err)
	}
	traceID, origin := TraceFrom(ctx)
	if out.TraceID != "" {
		traceID = out.TraceID
	}
	if traceID == "" {
		traceID = nuid.Next()
	}
	if !out.OriginTime.IsZero() {
		origin = out.OriginTime
	}
	if origin.IsZero() {
		origin = time.Now()
	}
	m := nats.NewMsg(out.Subject)
	m.Data = data
	if out.MsgID != "" {
		m.Header.Set(schemas.HeaderMsgID, out.MsgID)
	}
	m.Header.Set(schemas.HeaderSchema, out.Body.Schema())
	m.Header.Set(schemas.HeaderTraceID, traceID)
	m.Header.Set(schemas.HeaderOriginTime, origin.UTC().Format(time.RFC3339Nano))
	return m, nil
}

// Publish publishes one message and waits for its ack. A duplicate inside
// the dedup window is not an error: the ack says Duplicate.
func (p *Publisher) Publish(ctx context.Context, out Out) (*jetstream.PubAck, error) {
	m, err := p.Msg(ctx, out)
	if err != nil {
		return nil, err
	}
	ack, err := p.js.PublishMsg(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("publish to %s: %w", out.Subject, err)
	}
	return ack, nil
}

// PublishAsync publishes one message without waiting: the future reports
// its ack. Publishes from one Publisher reach the stream in order, which
// lets a producer stream many small messages (the tokens of an answer) and
// await their acks once at the end.
func (p *Publisher) PublishAsync(ctx context.Context, out Out) (jetstream.PubAckFuture, error) {
	m, err := p.Msg(ctx, out)
	if err != nil {
		return nil, err
	}
	f, err := p.js.PublishMsgAsync(m)
	if err != nil {
		return nil, fmt.Errorf("publish to %s: %w", out.Subject, err)
	}
	return f, nil
}

// PublishBatch publishes outs asynchronously and returns once every one is
// acknowledged, or with the failures joined (each naming its index). On
// error some messages may be stored: publish again with the same MsgIDs to
// complete the batch without duplicates.
func (p *Publisher) PublishBatch(ctx context.Context, outs []Out) ([]*jetstream.PubAck, error) {
	acks := make([]*jetstream.PubAck, len(outs))
	var errs []error
	for start := 0; start < len(outs); start += p.window {
		end := min(start+p.window, len(outs))
		futures := make([]jetstream.PubAckFuture, end-start)
		for i := start; i < end; i++ {
			m, err := p.Msg(ctx, outs[i])
			if err == nil {
				futures[i-start], err = p.js.PublishMsgAsync(m)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("message %d: %w", i, err))
			}
		}
		if err := awaitAcks(ctx, futures, acks[start:end], start); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				return acks, fmt.Errorf("publish batch: %w", errors.Join(errs...))
			}
		}
	}
	return acks, errors.Join(errs...)
}

// AwaitAcks waits for the stream's ack of every future (a nil one is
// skipped) and returns them index by index, with the failures joined, each
// naming its index and subject. It stops waiting when ctx ends.
func AwaitAcks(ctx context.Context, futures []jetstream.PubAckFuture) ([]*jetstream.PubAck, error) {
	acks := make([]*jetstream.PubAck, len(futures))
	return acks, awaitAcks(ctx, futures, acks, 0)
}

// awaitAcks is AwaitAcks into acks, numbering the futures from first.
func awaitAcks(ctx context.Context, futures []jetstream.PubAckFuture, acks []*jetstream.PubAck, first int) error {
	var errs []error
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			acks[i] = ack
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("message %d to %s: %w", first+i, f.Msg().Subject, err))
		case <-ctx.Done():
			return errors.Join(append(errs, ctx.Err())...)
		}
	}
	return errors.Join(errs...)
}
