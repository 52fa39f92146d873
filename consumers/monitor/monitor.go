// Package monitor is the prompt monitor: it stores the trace of every chat
// request (twin.monitor.traces) in the warehouse, joins the users' ratings
// (twin.feedback.>) to them, turns each trace into Prometheus metrics
// (step latencies, time to first token, tokens per model, guardrail events,
// step errors) and expires traces after a retention. It also stores the
// relevance judgments (twin.feedback.relevance) the reranker learns from.
//
// # Counting once
//
// Delivery is at least once: a trace or a rating can be handled twice, when
// the ack of a handled message is lost or the process stops between the
// write and the ack. The store says whether a write was new (PutTraces'
// created, AddFeedback's added), and metrics are observed only for new ones,
// after the write committed. So a redelivery never counts twice, and the
// one loss left is a process that stops between the commit and the
// observation: its trace is stored but not counted. Metrics live in the
// process anyway, and reset when it restarts.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// # Batches
//
// Traces are stored in batches (HandleBatch, under the runtime's RunBatch),
// one transaction each: on SQLite with synchronous=FULL every commit waits
// for an fsync, and one per chat answer would cap the chat's throughput.
//
// Durable consumers (in streams.DefaultTopology) the monitor runs as:
// HandleBatch under Consumer, FeedbackHandler under FeedbackConsumer.
const (
	Consumer         = streams.ConsumerMonitor
	FeedbackConsumer = streams.ConsumerMonitorFeedback
)

// Defaults of Config.
const (
	DefaultRetention     = 30 * 24 * time.Hour
	DefaultSweepInterval = time.Hour
)

// Store is what the monitor needs of the warehouse (warehouse.SQLiteStore
// and warehouse.MongoStore implement it).
type Store interface {
	PutTraces(ctx context.Context, traces []warehouse.TraceRecord) (created []bool, err error)
	AddFeedback(ctx context.Context, fb warehouse.FeedbackRecord) (added bool, err error)
	ExpireTraces(ctx context.Context, before time.Time) (int64, error)
}

// retentionSetter is a store that can expire traces by itself (MongoDB's
// TTL indexes): Sweep hands it the retention once, and sweeps anyway.
type retentionSetter interface {
	SetTraceRetention(ctx context.Context, retention time.Duration) error
}

// Config assembles a monitor.
type Config struct {
	Store Store // required
	// Judgments keeps relevance judgments; nil: JudgmentsHandler is nil.
	Judgments JudgmentStore
	// Registerer gets the monitor's metrics; nil leaves them unregistered.
	// A second monitor on the same registry shares the first one's.
	Registerer prometheus.Registerer
	Log        zerolog.Logger
	// Retention is how long traces are kept; DefaultRetention when <= 0.
	Retention time.Duration
	// SweepInterval is how often Sweep expires traces; DefaultSweepInterval
	// when <= 0.
	SweepInterval time.Duration
}

// Monitor is the consumer.
type Monitor struct {
	store     Store
	metrics   *metrics
	log       zerolog.Logger
	retention time.Duration
	interval  time.Duration
	traces    streams.BatchHandler
	feedback  streams.Handler

	judgmentStore JudgmentStore
	judgments     streams.BatchHandler
}

// New returns a monitor. It fails when Store is missing or when a metric
// cannot be registered (a metric of the same name but another shape is on
// the registry).
func New(cfg Config) (*Monitor, error) {
	if cfg.Store == nil {
		return nil, errors.New("monitor: Store is required")
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	met, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	m := &Monitor{store: cfg.Store, metrics: met, log: cfg.Log.With().Str("component", "monitor").Logger(),
		retention: cfg.Retention, interval: cfg.SweepInterval}
	m.traces = streams.DecodedBatch(m.storeTraces)
	m.feedback = streams.Decoded(m.handleFeedback)
	if cfg.Judgments != nil {
		m.judgmentStore = cfg.Judgments
		m.judgments = streams.DecodedBatch(m.storeJudgments)
	}
	return m, nil
}

// HandleBatch implements streams.BatchHandler for traces: every valid trace
// of the batch is stored in one write, and acked once it committed. A body
// that is not a valid trace is dead-lettered on its own; a store failure
// retries every valid trace of the batch.
func (m *Monitor) HandleBatch(ctx context.Context, msgs []*streams.Msg) error {
	return m.traces.HandleBatch(ctx, msgs)
}

// storeTraces writes the decoded traces of a batch, msgs[i] with bodies[i].
func (m *Monitor) storeTraces(ctx context.Context, msgs []*streams.Msg, bodies []*schemas.Trace) error {
	errs := make(streams.BatchErrors, len(msgs))
	recs := make([]warehouse.TraceRecord, len(bodies))
	at := make([]int, len(bodies)) // at[j] is the message of recs[j]
	for i, t := range bodies {
		recs[i] = warehouse.TraceRecord{
			TraceID: t.TraceID, RequestID: t.RequestID, Author: t.Author,
			CreatedAt: firstSet(t.CreatedAt, msgs[i].Stored),
			// The body as published, not t re-encoded: fields this build
			// does not know are kept.
			Trace: msgs[i].Data,
		}
		at[i] = i
	}
	for len(recs) > 0 {
		created, err := m.store.PutTraces(ctx, recs)
		if err == nil && len(created) != len(recs) {
			err = fmt.Errorf("the store answered for %d of %d traces", len(created), len(recs))
		}
		var invalid *warehouse.InvalidTraceError
		if errors.As(err, &invalid) && invalid.Index >= 0 && invalid.Index < len(recs) {
			// The store refuses what the schema let through: that trace
			// goes to the DLQ, the others are written without it.
			j := invalid.Index
			errs[at[j]] = streams.Permanent(fmt.Errorf("store trace %s: %w", recs[j].TraceID, err))
			bodies, recs, at = slices.Delete(bodies, j, j+1), slices.Delete(recs, j, j+1), slices.Delete(at, j, j+1)
			continue
		}
		if err != nil {
			for _, i := range at {
				errs[i] = fmt.Errorf("store %d traces: %w", len(recs), err)
			}
			break
		}
		for j, t := range bodies {
			if !created[j] {
				m.log.Debug().Str("trace", t.TraceID).Uint64("delivered", msgs[at[j]].Delivered).Msg("trace stored again; its metrics were counted before")
				continue
			}
			m.metrics.observeTrace(t)
		}
		break
	}
	return errs.Err()
}

// FeedbackHandler is the handler of ratings, to run under FeedbackConsumer.
func (m *Monitor) FeedbackHandler() streams.Handler { return m.feedback }

func (m *Monitor) handleFeedback(ctx context.Context, msg *streams.Msg, fb *schemas.Feedback) error {
	rec := warehouse.FeedbackRecord{
		RequestID: fb.RequestID, TraceID: fb.TraceID, Rating: fb.Rating, Comment: fb.Comment,
		// A rating's time is part of its identity in the store (see
		// warehouse.FeedbackKey): when the gateway gave none, the time the
		// stream stored it is the same for every redelivery.
		CreatedAt: firstSet(fb.CreatedAt, msg.Stored),
	}
	added, err := m.store.AddFeedback(ctx, rec)
	if errors.Is(err, warehouse.ErrInvalid) {
		return streams.Permanent(fmt.Errorf("store feedback on %s: %w", fb.RequestID, err))
	}
	if err != nil {
		return fmt.Errorf("store feedback on %s: %w", fb.RequestID, err)
	}
	if added {
		m.metrics.observeFeedback(fb.Rating)
	}
	return nil
}

// Sweep expires the traces older than the retention now and then every
// SweepInterval, until ctx ends. Whoever runs the monitor starts it, once
// per deployment being enough (more are harmless). A failed sweep is logged
// and tried again at the next tick.
func (m *Monitor) Sweep(ctx context.Context) {
	if rs, ok := m.store.(retentionSetter); ok {
		switch err := rs.SetTraceRetention(ctx, m.retention); {
		case errors.Is(err, errors.ErrUnsupported):
			m.log.Info().Err(err).Msg("the store cannot expire traces by itself; the sweep does it")
		case err != nil && ctx.Err() == nil:
			m.log.Warn().Err(err).Msg("could not set the store's trace retention; the sweep does it")
		}
	}
	tick := time.NewTicker(m.interval)
	defer tick.Stop()
	for {
		if _, err := m.SweepOnce(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn().Err(err).Dur("retry_in", m.interval).Msg("trace sweep failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// SweepOnce expires the traces older than the retention and returns how
// many it deleted.
func (m *Monitor) SweepOnce(ctx context.Context) (int64, error) {
	before := time.Now().Add(-m.retention)
	n, err := m.store.ExpireTraces(ctx, before)
	// A sweep that failed half way (MongoDB has no transaction) may still
	// have deleted traces.
	m.metrics.expired.Add(float64(max(n, 0)))
	if err != nil {
		return n, fmt.Errorf("expire traces before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	if n > 0 {
		m.log.Info().Int64("traces", n).Time("before", before).Msg("expired traces")
	}
	return n, nil
}

// firstSet is the first non-zero time of ts, or the zero time.
func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}
