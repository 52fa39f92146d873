package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// reconnectOptions make a client command's NATS connection outlive a
// restart of the server (twin up restarted, a NATS node replaced): it
// reconnects for as long as the command runs, instead of giving up after
// nats.go's default 60 tries, and buffers what it publishes meanwhile.
func reconnectOptions() []nats.Option {
	return []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
	}
}

// defaultWarnAfter is how long a wait sees no progress before it says which
// component is not consuming.
const defaultWarnAfter = 10 * time.Second

// callTimeout bounds one NATS or HTTP call of a wait, so that a call made
// just as the connection drops is retried instead of holding the wait.
const callTimeout = 5 * time.Second

// syncWriter serializes writes: a wait's progress and its watcher's
// warnings go to the same terminal from two goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// retrier retries the calls of one wait while NATS or the gateway is away,
// saying once per outage that it lost them and once that they are back.
type retrier struct {
	out  io.Writer
	down bool
}

// do calls fn until it succeeds, fails with an error a reconnect cannot
// cure, or ctx ends.
func (r *retrier) do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	delay := 100 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := fn(cctx)
		cancel()
		if err == nil {
			if r.down {
				r.down = false
				fmt.Fprintf(r.out, "\nreconnected; waiting on\n")
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !r.retryable(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		if !r.down {
			r.down = true
			fmt.Fprintf(r.out, "\n%s: %v; retrying until twin is back\n", what, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// retryable reports whether err is what a call sees while NATS reconnects,
// the server restarts, or the gateway is down or starting (a refused
// connection, a 5xx answer).
func (r *retrier) retryable(err error) bool {
	var herr *httpError
	switch {
	case streams.Transient(err), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &herr):
		return herr.status >= 500
	case errors.As(err, new(*url.Error)):
		return true // the gateway refused or dropped the connection
	}
	return false
}

// consumerWatch is a durable consumer a wait depends on.
type consumerWatch struct {
	stream, consumer, subject, component string

	progress  uint64    // delivered + acked, the last time it changed
	since     time.Time // when it last changed, or had nothing to do
	neglected bool      // said so, not yet said it is consumed again
}

// pipelineWatches are the consumers between an import and a searchable
// document.
func pipelineWatches() []*consumerWatch {
	return []*consumerWatch{
		{stream: streams.StreamDocs, consumer: streams.ConsumerWriter, subject: schemas.SubjectDocsCrawledAll, component: "warehouse"},
		{stream: streams.StreamCDC, consumer: streams.ConsumerFeaturizer, subject: schemas.SubjectCDCAll, component: "featurizer"},
		{stream: streams.StreamEmbed, consumer: streams.ConsumerEmbedder, subject: schemas.SubjectEmbedJobs, component: "embedder"},
	}
}

// watchConsumers says, on out, when one of watches has messages waiting, no
// pull request of any process, and no progress for warnAfter: nothing is
// consuming it, so a wait on it would go on forever. It says so once, and
// again when consuming resumes; it keeps watching until ctx ends.
func watchConsumers(ctx context.Context, js jetstream.JetStream, watches []*consumerWatch, warnAfter time.Duration, out io.Writer) {
	if warnAfter <= 0 {
		return
	}
	tick := time.NewTicker(min(warnAfter/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, w := range watches {
				w.check(ctx, js, now, warnAfter, out)
			}
		}
	}
}

func (w *consumerWatch) check(ctx context.Context, js jetstream.JetStream, now time.Time, warnAfter time.Duration, out io.Writer) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if w.since.IsZero() {
		w.since = now
	}
	cons, err := js.Consumer(cctx, w.stream, w.consumer)
	if err != nil {
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			w.warn(now, warnAfter, out, fmt.Sprintf("the consumer %s on %s does not exist", w.consumer, w.stream))
		}
		return // NATS away: the retrier of the wait says so
	}
	info, err := cons.Info(cctx)
	if err != nil {
		return
	}
	progress := info.Delivered.Stream + info.AckFloor.Stream
	idle := info.NumPending == 0 && info.NumAckPending == 0
	if idle || progress != w.progress || info.NumWaiting > 0 {
		w.progress, w.since = progress, now
		if w.neglected && !idle {
			w.neglected = false
			fmt.Fprintf(out, "\n%s is being consumed again\n", strings.TrimSuffix(w.subject, ".>"))
		}
		return
	}
	w.warn(now, warnAfter, out, fmt.Sprintf("%d messages wait on %s/%s and no process asks for them",
		info.NumPending+uint64(info.NumAckPending), w.stream, w.consumer))
}

func (w *consumerWatch) warn(now time.Time, warnAfter time.Duration, out io.Writer, why string) {
	if w.neglected || now.Sub(w.since) < warnAfter {
		return
	}
	w.neglected = true
	fmt.Fprintf(out, "\nnothing is consuming %s (%s for %s): is twin up (or twin run %s) running? still waiting\n",
		strings.TrimSuffix(w.subject, ".>"), why, warnAfter, w.component)
}
