package streams

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/schemas"
)

// publishDeadLetter writes m to twin.dlq.<consumer> and waits for the
// stream's ack. Its Nats-Msg-Id names the original stream and sequence, so
// dead-lettering the same delivery twice (a crash between the publish and
// the Term) stores it once.
func publishDeadLetter(ctx context.Context, js jetstream.JetStream, consumer string, m *Msg, reason string, cause error) error {
	errText := ""
	if cause != nil {
		errText = cause.Error()
	}
	dl := &schemas.DeadLetter{
		Consumer:   consumer,
		Reason:     reason,
		Error:      errText,
		Stream:     m.Stream,
		Sequence:   m.Sequence,
		Subject:    m.Subject,
		Deliveries: m.Delivered,
		FailedAt:   time.Now().UTC(),
		Headers:    map[string][]string(m.Header),
		Body:       m.Data,
	}
	body, err := schemas.Encode(dl)
	if err != nil {
		return fmt.Errorf("encode dead letter: %w", err)
	}
	out := nats.NewMsg(schemas.DLQ(consumer))
	out.Data = body
	out.Header.Set(schemas.HeaderMsgID, fmt.Sprintf("dlq.%s.%d", m.Stream, m.Sequence))
	out.Header.Set(schemas.HeaderSchema, dl.Schema())
	if id := m.TraceID(); id != "" {
		out.Header.Set(schemas.HeaderTraceID, id)
	}
	if t := m.Header.Get(schemas.HeaderOriginTime); t != "" {
		out.Header.Set(schemas.HeaderOriginTime, t)
	}
	out.Header.Set(schemas.HeaderDLQReason, reason)
	out.Header.Set(schemas.HeaderDLQError, headerSafe(errText))
	out.Header.Set(schemas.HeaderDLQConsumer, consumer)
	out.Header.Set(schemas.HeaderDLQStream, m.Stream)
	out.Header.Set(schemas.HeaderDLQSequence, strconv.FormatUint(m.Sequence, 10))
	out.Header.Set(schemas.HeaderDLQSubject, m.Subject)
	out.Header.Set(schemas.HeaderDLQDeliveries, strconv.FormatUint(m.Delivered, 10))
	if _, err := js.PublishMsg(ctx, out); err != nil {
		return fmt.Errorf("publish dead letter to %s: %w", out.Subject, err)
	}
	return nil
}

// headerSafe keeps a header value on one line and short: the full error is
// in the body.
func headerSafe(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 512 {
		s = s[:512]
	}
	return strings.ToValidUTF8(s, "?")
}

// reasonUnreadable marks a DLQ message that is not a valid dead letter
// (someone published to twin.dlq.> by hand): listed, never retried.
const reasonUnreadable = "unreadable"

// DeadLetterEntry is one message of the DLQ stream.
type DeadLetterEntry struct {
	Seq    uint64             `json:"seq"` // its sequence in the DLQ stream
	Letter schemas.DeadLetter `json:"letter"`
}

// DLQ manages the dead-letter stream: list, retry, purge.
type DLQ struct{ js jetstream.JetStream }

// NewDLQ returns the DLQ manager on js.
func NewDLQ(js jetstream.JetStream) *DLQ { return &DLQ{js: js} }

// List returns the dead letters, oldest first; consumer narrows them to one
// consumer's. A message that is not a valid dead letter is listed with
// reason "unreadable" rather than hidden.
func (d *DLQ) List(ctx context.Context, consumer string) ([]DeadLetterEntry, error) {
	stream, err := d.js.Stream(ctx, StreamDLQ)
	if err != nil {
		return nil, fmt.Errorf("open DLQ stream: %w", err)
	}
	subject := dlqSubject(consumer)
	if n, err := countSubject(ctx, stream, subject); err != nil || n == 0 {
		return nil, err
	}
	var out []DeadLetterEntry
	err = ReadToEnd(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}}, func(raw jetstream.Msg) error {
		md, err := raw.Metadata()
		if err != nil {
			return fmt.Errorf("read DLQ: %w", err)
		}
		e := DeadLetterEntry{Seq: md.Sequence.Stream}
		if err := schemas.Decode(raw.Data(), &e.Letter); err != nil {
			e.Letter = schemas.DeadLetter{Consumer: strings.TrimPrefix(raw.Subject(), "twin.dlq."),
				Reason: reasonUnreadable, Error: err.Error(), Subject: raw.Subject(), Body: raw.Data()}
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Count is how many dead letters of consumer the DLQ holds, of every
// consumer when consumer is empty.
func (d *DLQ) Count(ctx context.Context, consumer string) (uint64, error) {
	stream, err := d.js.Stream(ctx, StreamDLQ)
	if err != nil {
		return 0, fmt.Errorf("open DLQ stream: %w", err)
	}
	return countSubject(ctx, stream, dlqSubject(consumer))
}

// Retry republishes dead letters to their original subjects, with their
// original headers, and removes each from the DLQ once its republish is
// acknowledged. With no seqs it retries every letter of consumer (every
// letter at all when consumer is empty). It returns how many it retried.
func (d *DLQ) Retry(ctx context.Context, consumer string, seqs ...uint64) (int, error) {
	entries, err := d.List(ctx, consumer)
	if err != nil {
		return 0, err
	}
	want := make(map[uint64]bool, len(seqs))
	for _, s := range seqs {
		want[s] = true
	}
	stream, err := d.js.Stream(ctx, StreamDLQ)
	if err != nil {
		return 0, fmt.Errorf("open DLQ stream: %w", err)
	}
	n := 0
	for _, e := range entries {
		if len(seqs) > 0 && !want[e.Seq] {
			continue
		}
		delete(want, e.Seq) // what is left in want was not found
		if e.Letter.Reason == reasonUnreadable {
			return n, fmt.Errorf("dead letter %d is unreadable; purge it instead", e.Seq)
		}
		out := nats.NewMsg(e.Letter.Subject)
		out.Data = e.Letter.Body
		for k, vs := range e.Letter.Headers {
			for _, v := range vs {
				out.Header.Add(k, v)
			}
		}
		// The original id is inside the target's dedup window more often
		// than not; a retry is a new delivery on purpose, yet retrying the
		// same letter twice must still store it once.
		if id := out.Header.Get(schemas.HeaderMsgID); id != "" {
			out.Header.Set(schemas.HeaderMsgID, fmt.Sprintf("%s.retry.%d", id, e.Seq))
		} else {
			out.Header.Set(schemas.HeaderMsgID, fmt.Sprintf("dlq.retry.%d", e.Seq))
		}
		if _, err := d.js.PublishMsg(ctx, out); err != nil {
			return n, fmt.Errorf("retry dead letter %d to %s: %w", e.Seq, out.Subject, err)
		}
		if err := stream.DeleteMsg(ctx, e.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return n, fmt.Errorf("remove retried dead letter %d: %w", e.Seq, err)
		}
		n++
	}
	if len(want) > 0 {
		missing := make([]string, 0, len(want))
		for s := range want {
			missing = append(missing, strconv.FormatUint(s, 10))
		}
		return n, fmt.Errorf("no dead letter with sequence %s", strings.Join(missing, ", "))
	}
	return n, nil
}

// Purge drops the dead letters of consumer, or all of them when consumer is
// empty, and returns how many it dropped.
func (d *DLQ) Purge(ctx context.Context, consumer string) (uint64, error) {
	stream, err := d.js.Stream(ctx, StreamDLQ)
	if err != nil {
		return 0, fmt.Errorf("open DLQ stream: %w", err)
	}
	subject := dlqSubject(consumer)
	before, err := countSubject(ctx, stream, subject)
	if err != nil {
		return 0, err
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return 0, fmt.Errorf("purge DLQ: %w", err)
	}
	return before, nil
}

// countSubject is how many messages of stream match subject.
func countSubject(ctx context.Context, stream jetstream.Stream, subject string) (uint64, error) {
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, fmt.Errorf("%s info: %w", stream.CachedInfo().Config.Name, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}

// dlqSubject is the DLQ subject of consumer, or of every consumer.
func dlqSubject(consumer string) string {
	if consumer == "" {
		return schemas.SubjectDLQAll
	}
	return schemas.DLQ(consumer)
}
