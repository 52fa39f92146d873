package streams

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/schemas"
)

// Msg is one delivery as a handler sees it: the body, the headers and where
// it came from, but no way to ack it. The runtime owns that.
type Msg struct {
	Subject   string
	Data      []byte
	Header    nats.Header
	Stream    string
	Consumer  string
	Sequence  uint64    // stream sequence
	Delivered uint64    // 1 on the first delivery
	Stored    time.Time // when the stream stored it

	raw jetstream.Msg
}

func newMsg(raw jetstream.Msg) *Msg {
	m := &Msg{Subject: raw.Subject(), Data: raw.Data(), Header: raw.Headers(), raw: raw}
	if md, err := raw.Metadata(); err == nil {
		m.Stream, m.Consumer = md.Stream, md.Consumer
		m.Sequence, m.Delivered, m.Stored = md.Sequence.Stream, md.NumDelivered, md.Timestamp
	}
	return m
}

// TraceID is the message's Twin-Trace-Id header.
func (m *Msg) TraceID() string { return m.Header.Get(schemas.HeaderTraceID) }

// OriginTime is the message's Twin-Origin-Time: when the change it carries
// happened. Freshness is measured from it.
func (m *Msg) OriginTime() (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, m.Header.Get(schemas.HeaderOriginTime))
	return t, err == nil
}

type ctxKey int

const (
	traceKey ctxKey = iota
	originKey
	msgKey
)

// WithTrace returns a context whose publishes carry trace id and origin
// time. The runtime does the same for every delivery, so a handler's own
// publishes continue the trace and keep the origin time without copying
// headers by hand.
func WithTrace(ctx context.Context, traceID string, origin time.Time) context.Context {
	if traceID != "" {
		ctx = context.WithValue(ctx, traceKey, traceID)
	}
	if !origin.IsZero() {
		ctx = context.WithValue(ctx, originKey, origin)
	}
	return ctx
}

// withMsg is the handler's context for m: it carries m's trace, read from
// its headers only if the handler publishes.
func withMsg(ctx context.Context, m *Msg) context.Context {
	return context.WithValue(ctx, msgKey, m)
}

// TraceFrom returns the trace id and origin time stored by WithTrace, or
// else those of the message being handled.
func TraceFrom(ctx context.Context) (traceID string, origin time.Time) {
	traceID, _ = ctx.Value(traceKey).(string)
	origin, _ = ctx.Value(originKey).(time.Time)
	if m, ok := ctx.Value(msgKey).(*Msg); ok {
		if traceID == "" {
			traceID = m.TraceID()
		}
		if origin.IsZero() {
			origin, _ = m.OriginTime()
		}
	}
	return traceID, origin
}
