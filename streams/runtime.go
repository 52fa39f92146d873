package streams

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/schemas"
)

// Handler does one consumer's work on one message. Returning nil acks it;
// an error retries it later, unless the error is permanent (see Permanent
// and schemas.ErrInvalid), which dead-letters it.
type Handler interface {
	Handle(ctx context.Context, msg *Msg) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, msg *Msg) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, msg *Msg) error { return f(ctx, msg) }

// Decoded adapts a function taking a decoded and validated body to Handler.
// A body that does not decode or validate is dead-lettered with the
// validator's message as the reason; fn never sees it.
func Decoded[T any, P interface {
	*T
	schemas.Message
}](fn func(ctx context.Context, msg *Msg, body P) error) Handler {
	return HandlerFunc(func(ctx context.Context, msg *Msg) error {
		body := P(new(T))
		if err := schemas.Decode(msg.Data, body); err != nil {
			return err
		}
		return fn(ctx, msg, body)
	})
}

// Options tune one consumer's runtime. The zero value is not valid; start
// from the defaults that Run applies and change fields with Option funcs.
type Options struct {
	Workers       int           // handlers running at once in this process
	PullBatch     int           // messages fetched ahead of the workers, about
	Heartbeat     time.Duration // idle heartbeat of the pull requests
	BackoffBase   time.Duration // delay after the first failed delivery
	BackoffMax    time.Duration // the delay doubles per delivery up to this
	ShutdownGrace time.Duration // how long in-flight handlers may finish after stop
	BatchSize     int           // RunBatch: most messages per batch
	BatchWait     time.Duration // RunBatch: longest wait to fill a batch
}

// Option changes Options.
type Option func(*Options)

// Workers sets how many handlers run at once.
func Workers(n int) Option { return func(o *Options) { o.Workers = max(n, 1) } }

// PullBatch sets how many messages are fetched ahead of the workers, about.
// Messages waiting for a worker are kept alive like those being handled, so
// a large one costs no redelivery; a small one shares work more evenly
// between replicas of a slow consumer.
func PullBatch(n int) Option { return func(o *Options) { o.PullBatch = max(n, 1) } }

// Backoff sets the retry delay: base after the first failure, doubling up to
// limit.
func Backoff(base, limit time.Duration) Option {
	return func(o *Options) { o.BackoffBase, o.BackoffMax = base, limit }
}

// ShutdownGrace sets how long in-flight handlers may run after the run's
// context ends before their own context is cancelled.
func ShutdownGrace(d time.Duration) Option { return func(o *Options) { o.ShutdownGrace = d } }

// Batch sets RunBatch's batch size and fill time.
func Batch(size int, wait time.Duration) Option {
	return func(o *Options) { o.BatchSize, o.BatchWait = max(size, 1), wait }
}

// Heartbeat sets the idle heartbeat of pull requests, which the server
// allows from 500ms to 30s; a missed heartbeat makes the runtime re-create
// the consumer.
func Heartbeat(d time.Duration) Option {
	return func(o *Options) { o.Heartbeat = min(max(d, 500*time.Millisecond), 30*time.Second) }
}

func defaultOptions() Options {
	return Options{
		Workers:       1,
		PullBatch:     500, // nats.go's own default; slow consumers set less
		Heartbeat:     5 * time.Second,
		BackoffBase:   time.Second,
		BackoffMax:    time.Minute,
		ShutdownGrace: 30 * time.Second,
		BatchSize:     64,
		BatchWait:     20 * time.Millisecond,
	}
}

// Runtime runs consumers of one topology on one JetStream connection.
type Runtime struct {
	js      jetstream.JetStream
	topo    Topology
	metrics *Metrics
	log     zerolog.Logger
}

// NewRuntime returns a runtime for the consumers of topo.
func NewRuntime(js jetstream.JetStream, topo Topology, metrics *Metrics, log zerolog.Logger) *Runtime {
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &Runtime{js: js, topo: topo, metrics: metrics, log: log}
}

// Run consumes the durable consumer name with h until ctx ends, then shuts
// down gracefully: it stops fetching, gives buffered messages back, lets
// in-flight handlers finish (up to ShutdownGrace) and acks them. The
// consumer (and its stream) are re-created whenever they disappear.
func (r *Runtime) Run(ctx context.Context, name string, h Handler, opts ...Option) error {
	c, err := r.newRun(name, opts)
	if err != nil {
		return err
	}
	return c.run(ctx, func(b *backlog, stop <-chan struct{}, s *slot) {
		for {
			m, ok := b.take(stop, nil)
			if !ok {
				return
			}
			c.handleOne(h, m, s)
		}
	})
}

// BatchHandler does a consumer's work on a batch of messages. Returning nil
// acks them all; a BatchErrors gives each message its own outcome; any other
// error applies to every message of the batch.
type BatchHandler interface {
	HandleBatch(ctx context.Context, msgs []*Msg) error
}

// BatchHandlerFunc adapts a function to BatchHandler.
type BatchHandlerFunc func(ctx context.Context, msgs []*Msg) error

// HandleBatch calls f.
func (f BatchHandlerFunc) HandleBatch(ctx context.Context, msgs []*Msg) error { return f(ctx, msgs) }

// BatchErrors is the per-message outcome of a batch, index by index; a nil
// entry means that message succeeded.
type BatchErrors []error

func (e BatchErrors) Error() string {
	n, first := 0, error(nil)
	for _, err := range e {
		if err != nil {
			if n == 0 {
				first = err
			}
			n++
		}
	}
	if n == 0 {
		return "no errors"
	}
	return fmt.Sprintf("%d of %d messages failed, first: %v", n, len(e), first)
}

// Err is e, or nil when every message succeeded.
func (e BatchErrors) Err() error {
	for _, err := range e {
		if err != nil {
			return e
		}
	}
	return nil
}

// DecodedBatch adapts a function taking a batch's decoded and validated
// bodies to BatchHandler, as Decoded does for one message. A body that does
// not decode or validate is dead-lettered on its own; fn never sees it and
// gets the others, msgs[i] with bodies[i]. fn returns nil when every one
// succeeded, a BatchErrors indexed like its own slices, or any other error
// for all of them. Decoding (with validation, a good part of a consumer's
// work) runs on every core.
func DecodedBatch[T any, P interface {
	*T
	schemas.Message
}](fn func(ctx context.Context, msgs []*Msg, bodies []P) error) BatchHandler {
	return BatchHandlerFunc(func(ctx context.Context, msgs []*Msg) error {
		bodies := make([]P, len(msgs))
		invalid := make(BatchErrors, len(msgs))
		decodeEach(len(msgs), func(i int) {
			body := P(new(T))
			if err := schemas.Decode(msgs[i].Data, body); err != nil {
				invalid[i] = err
				return
			}
			bodies[i] = body
		})
		if invalid.Err() == nil {
			return fn(ctx, msgs, bodies)
		}
		valid := make([]int, 0, len(msgs)) // index in msgs of each valid one
		for i := range msgs {
			if invalid[i] == nil {
				valid = append(valid, i)
			}
		}
		if len(valid) == 0 {
			return invalid
		}
		okMsgs := make([]*Msg, len(valid))
		okBodies := make([]P, len(valid))
		for k, i := range valid {
			okMsgs[k], okBodies[k] = msgs[i], bodies[i]
		}
		err := fn(ctx, okMsgs, okBodies)
		var each BatchErrors
		perMessage := errors.As(err, &each) && len(each) == len(valid)
		for k, i := range valid {
			if perMessage {
				invalid[i] = each[k]
			} else {
				invalid[i] = err
			}
		}
		return invalid
	})
}

// decodeEach calls decode(i) for every i below n, spread over the cores.
func decodeEach(n int, decode func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			decode(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				decode(i)
			}
		})
	}
	wg.Wait()
}

// RunBatch is Run for a handler that works on batches of up to BatchSize
// messages, gathered for at most BatchWait.
func (r *Runtime) RunBatch(ctx context.Context, name string, h BatchHandler, opts ...Option) error {
	c, err := r.newRun(name, opts)
	if err != nil {
		return err
	}
	return c.run(ctx, func(b *backlog, stop <-chan struct{}, s *slot) {
		batch := make([]*Msg, 0, c.opts.BatchSize)
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for {
			first, ok := b.take(stop, nil)
			if !ok {
				return
			}
			batch = append(batch[:0], first)
			timer.Reset(c.opts.BatchWait)
			for len(batch) < c.opts.BatchSize {
				m, ok := b.take(stop, timer.C)
				if !ok {
					break
				}
				batch = append(batch, m)
			}
			timer.Stop()
			c.handleBatch(h, batch, s)
		}
	})
}

// consumerRun is one Run or RunBatch call.
type consumerRun struct {
	*Runtime
	spec ConsumerSpec
	opts Options
	log  zerolog.Logger

	// handlerCtx outlives the run's context by ShutdownGrace, so that
	// in-flight work finishes instead of failing at the first signal.
	handlerCtx    context.Context
	cancelHandler context.CancelFunc

	// The metric children of this consumer, bound once: a label lookup per
	// message would cost more than the rest of the runtime's bookkeeping.
	mAck, mRetry, mDead, mReleased prometheus.Counter
	mStage                         prometheus.Observer
	mInFlight                      prometheus.Gauge
}

func (r *Runtime) newRun(name string, opts []Option) (*consumerRun, error) {
	spec, ok := r.topo.Consumer(name)
	if !ok {
		return nil, fmt.Errorf("consumer %q is not in the topology", name)
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	m := r.metrics
	return &consumerRun{Runtime: r, spec: spec, opts: o,
		log:       r.log.With().Str("consumer", spec.Name).Str("stream", spec.Stream).Logger(),
		mAck:      m.handled.WithLabelValues(spec.Name, outcomeAck),
		mRetry:    m.handled.WithLabelValues(spec.Name, outcomeRetry),
		mDead:     m.handled.WithLabelValues(spec.Name, outcomeDead),
		mReleased: m.handled.WithLabelValues(spec.Name, outcomeReleased),
		mStage:    m.stage.WithLabelValues(spec.Name),
		mInFlight: m.inFlight.WithLabelValues(spec.Name),
	}, nil
}

// run owns the consume loop; work takes messages from the backlog until
// stop, once per worker, each with its own slot.
func (c *consumerRun) run(ctx context.Context, work func(b *backlog, stop <-chan struct{}, s *slot)) error {
	c.handlerCtx, c.cancelHandler = context.WithCancel(context.WithoutCancel(ctx))
	defer c.cancelHandler()

	// A delivery waits in the backlog, where the keep-alive loop sees it,
	// until a worker takes it.
	b := newBacklog(2 * c.opts.PullBatch)
	stop := make(chan struct{})
	slots := make([]*slot, c.opts.Workers)
	var workers sync.WaitGroup
	for i := range slots {
		slots[i] = &slot{}
		workers.Go(func() { work(b, stop, slots[i]) })
	}
	finished := make(chan struct{})
	go func() { workers.Wait(); close(finished) }()
	go c.keepAlive(slots, b, finished)

	c.log.Info().Int("workers", c.opts.Workers).Msg("consumer started")
	runErr := c.consumeUntilDone(ctx, b)
	close(stop)
	// Whatever no worker took is given back now that no subscription is
	// left to take it straight back: redelivered at once, to whoever
	// consumes next.
	left := b.takeAll()
	for _, m := range left {
		_ = m.raw.Nak()
	}
	c.mReleased.Add(float64(len(left)))

	select {
	case <-finished:
	case <-time.After(c.opts.ShutdownGrace):
		c.log.Warn().Dur("grace", c.opts.ShutdownGrace).Msg("in-flight handlers outlived the shutdown grace; cancelling them")
		c.cancelHandler()
		<-finished
	}
	// Acks are fire-and-forget; flush so that the last ones reach the server
	// before the caller closes the connection.
	if err := c.js.Conn().FlushTimeout(5 * time.Second); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		c.log.Warn().Err(err).Msg("flush acks at shutdown")
	}
	c.log.Info().Msg("consumer stopped")
	return runErr
}

// consumeUntilDone keeps one Consume subscription alive until ctx ends,
// re-creating the consumer whenever the server says it or its stream went
// away, or heartbeats stop. Every delivery goes to the backlog at once: a
// callback that waited for a worker would leave the rest of the pulled
// messages in the client library's buffer, where nothing can keep them
// alive, and a short AckWait would expire and redeliver them. Instead, when
// the backlog is full, the subscription is closed (the server sends nothing
// to a request nobody listens to any more) and opened again once the
// workers have taken half: so one process holds at most about twice
// PullBatch messages ahead of its workers, and replicas share the rest.
func (c *consumerRun) consumeUntilDone(ctx context.Context, b *backlog) error {
	var cons jetstream.Consumer // kept across a pause, re-created after a failure
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(c.backoff(uint64(attempt))):
			}
		}
		if cons == nil {
			var err error
			if cons, err = c.topo.ensureConsumer(ctx, c.js, c.spec); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				c.log.Warn().Err(err).Msg("consumer unavailable; retrying")
				continue
			}
		}

		lost := make(chan error, 1)
		cc, err := cons.Consume(func(raw jetstream.Msg) { b.push(newMsg(raw)) },
			jetstream.PullMaxMessages(c.opts.PullBatch),
			jetstream.PullHeartbeat(c.opts.Heartbeat),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				if consumerLost(err) {
					select {
					case lost <- err:
					default:
					}
					return
				}
				c.log.Debug().Err(err).Msg("consume")
			}))
		if errors.Is(err, jetstream.ErrInvalidOption) {
			return fmt.Errorf("consumer %s: %w", c.spec.Name, err)
		}
		if err != nil {
			c.log.Warn().Err(err).Msg("consume failed; retrying")
			cons = nil
			continue
		}
		if attempt > 0 {
			c.log.Info().Msg("consumer re-established")
		}
		attempt = 0

		var stop, pause bool
		for !stop && !pause {
			select {
			case <-ctx.Done():
				stop = true
			case err = <-lost:
				c.log.Warn().Err(err).Msg("consumer lost; re-creating it")
			case <-b.full:
				pause = b.len() >= b.limit // else a stale signal of the last subscription
				continue
			}
			break
		}
		cc.Drain()
		select {
		case <-cc.Closed():
		case <-time.After(10 * time.Second):
			c.log.Warn().Msg("consume subscription did not close in time")
		}
		if stop {
			return nil
		}
		if !pause {
			cons = nil // lost: re-create it
		}
		if pause {
			for b.len() > b.limit/2 {
				select {
				case <-ctx.Done():
					return nil
				case <-b.low:
				}
			}
			attempt = -1 // not a failure: resume at once
		}
	}
}

// backlog holds the messages delivered to this process that no worker has
// taken yet, oldest first, so that the keep-alive loop can reach them. At
// twice PullBatch (as much as the client library's buffer and one more pull
// would hold) the subscription pauses until it is down to PullBatch.
type backlog struct {
	mu    sync.Mutex // guards items
	items []waiting
	limit int           // pause the subscription at this many
	ready chan struct{} // messages wait: one waiting worker may take them
	full  chan struct{} // the backlog reached limit
	low   chan struct{} // the backlog fell to limit/2
}

type waiting struct {
	m       *Msg
	touched time.Time // delivery, or the last InProgress
}

func newBacklog(limit int) *backlog {
	return &backlog{limit: max(limit, 1), ready: make(chan struct{}, 1), full: make(chan struct{}, 1), low: make(chan struct{}, 1)}
}

func (b *backlog) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items)
}

// signal wakes whoever waits on ch, if nobody has yet.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (b *backlog) push(m *Msg) {
	b.mu.Lock()
	b.items = append(b.items, waiting{m: m, touched: time.Now()})
	full := len(b.items) >= b.limit
	b.mu.Unlock()
	signal(b.ready)
	if full {
		signal(b.full)
	}
}

// take removes and returns the oldest message, waiting for one until stop
// is closed or timeout fires (nil: no timeout); false when it gave up.
// Workers wait on ready, which holds one wake-up: whoever takes a message
// and leaves others passes the wake-up on.
func (b *backlog) take(stop <-chan struct{}, timeout <-chan time.Time) (*Msg, bool) {
	for {
		select {
		case <-stop:
			return nil, false
		default:
		}
		b.mu.Lock()
		if n := len(b.items); n > 0 {
			m := b.items[0].m
			b.items[0] = waiting{}
			b.items = b.items[1:]
			if n == 1 {
				b.items = nil // let the backing array go
			}
			b.mu.Unlock()
			if n > 1 {
				signal(b.ready)
			}
			if n-1 <= b.limit/2 {
				signal(b.low)
			}
			return m, true
		}
		b.mu.Unlock()
		select {
		case <-b.ready:
		case <-stop:
			return nil, false
		case <-timeout:
			return nil, false
		}
	}
}

// touch sends InProgress for every message that has waited every or longer
// since its delivery or its last InProgress.
func (b *backlog) touch(now time.Time, every time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.items {
		if now.Sub(b.items[i].touched) >= every {
			_ = b.items[i].m.raw.InProgress()
			b.items[i].touched = now
		}
	}
}

func (b *backlog) takeAll() []*Msg {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*Msg, len(b.items))
	for i, w := range b.items {
		out[i] = w.m
	}
	b.items = nil
	return out
}

// consumerLost reports whether err means the subscription cannot recover on
// its own and the consumer must be re-created.
func consumerLost(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, jetstream.ErrStreamNotFound) ||
		errors.Is(err, jetstream.ErrNoHeartbeat) ||
		errors.Is(err, jetstream.ErrBadRequest)
}

// backoff is the retry delay after the given number of deliveries.
func (c *consumerRun) backoff(delivered uint64) time.Duration {
	d := c.opts.BackoffBase
	for i := uint64(1); i < delivered && d < c.opts.BackoffMax; i++ {
		d *= 2
	}
	return min(d, c.opts.BackoffMax)
}

func (c *consumerRun) handleOne(h Handler, m *Msg, s *slot) {
	if c.overDelivered(m) {
		return
	}
	start := time.Now()
	s.begin(start, m)
	c.mInFlight.Inc()
	err := callSafely(func() error { return h.Handle(withMsg(c.handlerCtx, m), m) })
	c.mInFlight.Dec()
	s.end()
	c.mStage.Observe(time.Since(start).Seconds())
	c.settle(m, err)
}

func (c *consumerRun) handleBatch(h BatchHandler, batch []*Msg, s *slot) {
	live := batch[:0:0]
	for _, m := range batch {
		if !c.overDelivered(m) {
			live = append(live, m)
		}
	}
	if len(live) == 0 {
		return
	}
	start := time.Now()
	s.begin(start, live...)
	c.mInFlight.Add(float64(len(live)))
	// A batch mixes traces; the handler reads each message's own.
	err := callSafely(func() error { return h.HandleBatch(c.handlerCtx, live) })
	c.mInFlight.Sub(float64(len(live)))
	s.end()
	c.mStage.Observe(time.Since(start).Seconds())

	var each BatchErrors
	if errors.As(err, &each) && len(each) == len(live) {
		for i, m := range live {
			c.settle(m, each[i])
		}
		return
	}
	for _, m := range live {
		c.settle(m, err)
	}
}

// overDelivered dead-letters a message delivered more than MaxDeliver
// times: the process died while handling it before, perhaps because of it.
func (c *consumerRun) overDelivered(m *Msg) bool {
	if c.spec.MaxDeliver <= 0 || m.Delivered <= uint64(c.spec.MaxDeliver) {
		return false
	}
	c.deadLetter(m, schemas.ReasonMaxDeliveries,
		fmt.Errorf("delivered %d times without an outcome (the consumer stopped while handling it)", m.Delivered))
	return true
}

// settle turns a handler's result into the message's fate.
func (c *consumerRun) settle(m *Msg, err error) {
	var retry *retryError
	switch {
	case err == nil:
		if ackErr := m.raw.Ack(); ackErr != nil {
			c.log.Warn().Err(ackErr).Uint64("seq", m.Sequence).Msg("ack failed; the message will be redelivered")
		}
		c.mAck.Inc()
	case errors.Is(err, schemas.ErrInvalid):
		c.deadLetter(m, schemas.ReasonInvalid, err)
	case errors.Is(err, errPanic):
		c.deadLetter(m, schemas.ReasonPanic, err)
	case errors.Is(err, ErrPermanent):
		c.deadLetter(m, schemas.ReasonPermanent, err)
	case c.spec.MaxDeliver > 0 && m.Delivered >= uint64(c.spec.MaxDeliver):
		c.deadLetter(m, schemas.ReasonMaxDeliveries, err)
	default:
		delay := c.backoff(m.Delivered)
		if errors.As(err, &retry) {
			delay = retry.delay
		}
		c.log.Warn().Err(err).Uint64("seq", m.Sequence).Uint64("delivered", m.Delivered).
			Dur("retry_in", delay).Msg("handler failed; retrying")
		_ = m.raw.NakWithDelay(delay)
		c.mRetry.Inc()
	}
}

// deadLetter stores m in the DLQ and only then terminates it. If the DLQ
// cannot take it, m is retried later instead, so it is never lost.
func (c *consumerRun) deadLetter(m *Msg, reason string, cause error) {
	log := c.log.With().Uint64("seq", m.Sequence).Str("subject", m.Subject).Str("reason", reason).Logger()
	if err := publishDeadLetter(c.handlerCtx, c.js, c.spec.Name, m, reason, cause); err != nil {
		log.Error().Err(err).Msg("dead-lettering failed; retrying the message instead")
		_ = m.raw.NakWithDelay(c.backoff(m.Delivered))
		c.mRetry.Inc()
		return
	}
	if err := m.raw.TermWithReason(reason); err != nil {
		log.Warn().Err(err).Msg("term failed; a redelivery will be dead-lettered again and deduplicated")
	}
	log.Warn().AnErr("cause", cause).Msg("message dead-lettered")
	c.mDead.Inc()
	c.metrics.dlq.WithLabelValues(c.spec.Name, reason).Inc()
}

// slot is what one worker is handling now, for the keep-alive loop.
type slot struct {
	mu    sync.Mutex // guards msgs and since
	one   [1]*Msg    // backing for the common single message, no allocation
	msgs  []*Msg
	since time.Time
}

func (s *slot) begin(now time.Time, msgs ...*Msg) {
	s.mu.Lock()
	if len(msgs) == 1 {
		s.one[0] = msgs[0]
		msgs = s.one[:]
	}
	s.msgs, s.since = msgs, now
	s.mu.Unlock()
}

func (s *slot) end() {
	s.mu.Lock()
	s.msgs, s.one[0] = nil, nil
	s.mu.Unlock()
}

// keepAlive tells the server, every quarter of AckWait, that messages handled
// or waiting for a worker for longer than that are still this process's
// work, so neither a long handler nor a long queue is redelivered under its
// feet. One loop serves every worker: per message the runtime only marks
// its worker's slot.
func (c *consumerRun) keepAlive(slots []*slot, b *backlog, done <-chan struct{}) {
	every := c.spec.AckWait / 4
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			for _, s := range slots {
				s.mu.Lock()
				if len(s.msgs) > 0 && now.Sub(s.since) >= every {
					for _, m := range s.msgs {
						_ = m.raw.InProgress()
					}
				}
				s.mu.Unlock()
			}
			b.touch(now, every)
		}
	}
}

var errPanic = errors.New("handler panicked")

// callSafely turns a handler panic into an error, so one bad message cannot
// take the process (and every other consumer in it) down.
func callSafely(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v\n%s", errPanic, p, debug.Stack())
		}
	}()
	return fn()
}
