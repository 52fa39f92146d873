package streams

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Status is what `twin status` and GET /v1/status show.
type Status struct {
	Streams []StreamStatus `json:"streams"`
}

// StreamStatus is one stream and its consumers.
type StreamStatus struct {
	Name     string `json:"name"`
	Messages uint64 `json:"messages"`
	Bytes    uint64 `json:"bytes"`
	// LastSeq counts every message ever stored, including those that
	// retention has since removed: its change over time is the stream's
	// rate.
	LastSeq   uint64           `json:"last_seq"`
	Consumers []ConsumerStatus `json:"consumers"`
}

// ConsumerStatus is one consumer's lag.
type ConsumerStatus struct {
	Name        string `json:"name"`
	Pending     uint64 `json:"pending"`     // not yet delivered
	AckPending  int    `json:"ack_pending"` // delivered, not yet acked
	Redelivered int    `json:"redelivered"` // delivered more than once, not yet acked
	// Acked counts the consumer's deliveries up to its ack floor: its
	// change over time is the consumer's rate.
	Acked      uint64     `json:"acked"`
	LastActive *time.Time `json:"last_active,omitempty"`
}

// ReadStatus asks the server for every stream and its durable consumers,
// sorted by name.
func ReadStatus(ctx context.Context, js jetstream.JetStream) (Status, error) {
	st := Status{Streams: []StreamStatus{}}
	streams := js.ListStreams(ctx)
	for info := range streams.Info() {
		ss := StreamStatus{Name: info.Config.Name, Messages: info.State.Msgs, Bytes: info.State.Bytes, LastSeq: info.State.LastSeq, Consumers: []ConsumerStatus{}}
		stream, err := js.Stream(ctx, info.Config.Name)
		if err != nil {
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				continue // deleted between the list and now
			}
			return Status{}, fmt.Errorf("stream %s: %w", info.Config.Name, err)
		}
		consumers := stream.ListConsumers(ctx)
		for ci := range consumers.Info() {
			if ci.Config.Durable == "" {
				continue // a client's passing ordered consumer, not a component
			}
			cs := ConsumerStatus{Name: ci.Name, Pending: ci.NumPending, AckPending: ci.NumAckPending, Redelivered: ci.NumRedelivered,
				Acked: ci.AckFloor.Consumer}
			if last := ci.Delivered.Last; last != nil && !last.IsZero() {
				t := last.UTC()
				cs.LastActive = &t
			}
			ss.Consumers = append(ss.Consumers, cs)
		}
		if err := consumers.Err(); err != nil {
			return Status{}, fmt.Errorf("consumers of %s: %w", info.Config.Name, err)
		}
		slices.SortFunc(ss.Consumers, func(a, b ConsumerStatus) int { return cmp.Compare(a.Name, b.Name) })
		st.Streams = append(st.Streams, ss)
	}
	if err := streams.Err(); err != nil {
		return Status{}, fmt.Errorf("list streams: %w", err)
	}
	slices.SortFunc(st.Streams, func(a, b StreamStatus) int { return cmp.Compare(a.Name, b.Name) })
	return st, nil
}

// LagCollector exports every consumer's lag as Prometheus gauges. It reads
// the server every few seconds rather than at scrape time, so a slow server
// never slows a scrape and many scrapers cost one read.
type LagCollector struct {
	js  jetstream.JetStream
	log zerolog.Logger

	mu   sync.Mutex // guards last
	last Status

	pending, ackPending, redelivered, messages, bytes *prometheus.Desc
}

// NewLagCollector returns a collector for js; register it and call Run.
func NewLagCollector(js jetstream.JetStream, log zerolog.Logger) *LagCollector {
	consumerLabels := []string{"stream", "consumer"}
	return &LagCollector{
		js:  js,
		log: log,
		pending: prometheus.NewDesc("twin_consumer_pending_messages",
			"Messages of the stream that the consumer has not been delivered yet.", consumerLabels, nil),
		ackPending: prometheus.NewDesc("twin_consumer_ack_pending_messages",
			"Messages delivered to the consumer and not yet acknowledged.", consumerLabels, nil),
		redelivered: prometheus.NewDesc("twin_consumer_redelivered_messages",
			"Messages delivered to the consumer more than once and not yet acknowledged (the server's count, so it can go down).", consumerLabels, nil),
		messages: prometheus.NewDesc("twin_stream_messages",
			"Messages stored in the stream.", []string{"stream"}, nil),
		bytes: prometheus.NewDesc("twin_stream_bytes",
			"Bytes stored in the stream.", []string{"stream"}, nil),
	}
}

// Refresh reads the server once.
func (l *LagCollector) Refresh(ctx context.Context) error {
	st, err := ReadStatus(ctx, l.js)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.last = st
	l.mu.Unlock()
	return nil
}

// Run refreshes every interval until ctx ends.
func (l *LagCollector) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, interval)
		if err := l.Refresh(rctx); err != nil && ctx.Err() == nil {
			l.log.Warn().Err(err).Msg("lag refresh failed")
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Describe implements prometheus.Collector.
func (l *LagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.pending
	ch <- l.ackPending
	ch <- l.redelivered
	ch <- l.messages
	ch <- l.bytes
}

// Collect implements prometheus.Collector from the last refresh, so a
// consumer that was deleted disappears from the metrics.
func (l *LagCollector) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	st := l.last
	l.mu.Unlock()
	for _, s := range st.Streams {
		ch <- prometheus.MustNewConstMetric(l.messages, prometheus.GaugeValue, float64(s.Messages), s.Name)
		ch <- prometheus.MustNewConstMetric(l.bytes, prometheus.GaugeValue, float64(s.Bytes), s.Name)
		for _, c := range s.Consumers {
			ch <- prometheus.MustNewConstMetric(l.pending, prometheus.GaugeValue, float64(c.Pending), s.Name, c.Name)
			ch <- prometheus.MustNewConstMetric(l.ackPending, prometheus.GaugeValue, float64(c.AckPending), s.Name, c.Name)
			ch <- prometheus.MustNewConstMetric(l.redelivered, prometheus.GaugeValue, float64(c.Redelivered), s.Name, c.Name)
		}
	}
}
