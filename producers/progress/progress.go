// Package progress follows what a producer put into twin until the
// pipeline has handled it: crawl requests until their documents are
// stored or failed, DOCS messages until the warehouse writer has acked
// them, documents until the embedder has indexed their current revision.
// It is what `twin crawl --wait`, `twin import --wait`, `twin eval` and the
// benchmarks wait with. Every wait rides out a restart of NATS or twin
// through one retry policy (Retrier), and Watch says which consumer
// nothing consumes when a wait stops moving.
package progress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"
	"time"

	"github.com/twin-llm/twin/streams"
)

// CallTimeout bounds one NATS or HTTP call of a wait, so that a call made
// just as the connection drops is retried instead of holding the wait.
const CallTimeout = 5 * time.Second

// DefaultWarnAfter is how long a wait sees no progress before Watch says
// which component is not consuming.
const DefaultWarnAfter = 10 * time.Second

// StatusError is an HTTP answer other than a success. A wait retries the
// ones with a 5xx status: the gateway is starting or stopping.
type StatusError interface {
	error
	StatusCode() int
}

// Retrier retries the calls of one wait while NATS or the gateway is away,
// saying on Out once per outage that it lost them and once that they are
// back. The zero value says nothing. One Retrier serves one wait; it is
// not safe for concurrent use.
type Retrier struct {
	Out  io.Writer
	down bool
}

// Do calls fn, with CallTimeout, until it succeeds, fails with an error a
// reconnect cannot cure (returned wrapped in what), or ctx ends (ctx's
// error is returned).
func (r *Retrier) Do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	delay := 100 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, CallTimeout)
		err := fn(cctx)
		cancel()
		if err == nil {
			if r.down {
				r.down = false
				r.say("\nreconnected; waiting on\n")
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !Retryable(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		if !r.down {
			r.down = true
			r.say(fmt.Sprintf("\n%s: %v; retrying until twin is back\n", what, err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func (r *Retrier) say(s string) {
	if r.Out != nil {
		io.WriteString(r.Out, s)
	}
}

// Retryable reports whether err is what a call sees while NATS reconnects,
// the server restarts, or the gateway is down or starting: a transient
// NATS error, a call that timed out, a refused or dropped HTTP connection,
// a 5xx answer.
func Retryable(err error) bool {
	var serr StatusError
	switch {
	case streams.Transient(err), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &serr):
		return serr.StatusCode() >= 500
	case errors.As(err, new(*url.Error)):
		return true
	}
	return false
}

// Bound is ctx ended after timeout (none for 0 or less), with cause as the
// reason, so that GaveUp can name it: fmt.Errorf("--timeout %s", d).
func Bound(ctx context.Context, timeout time.Duration, cause error) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, timeout, cause)
}

// GaveUp names the cause of a Bound that ended a wait in its error.
func GaveUp(ctx context.Context, err error) error {
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
			return fmt.Errorf("gave up waiting (%v): %w", cause, err)
		}
	}
	return err
}

// SyncWriter serializes writes: a wait's progress and its watcher's
// warnings go to the same terminal from two goroutines.
type SyncWriter struct {
	mu sync.Mutex
	W  io.Writer
}

func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.W.Write(p)
}
