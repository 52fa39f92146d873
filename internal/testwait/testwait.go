// Package testwait lets a test wait for a condition that other goroutines
// or processes make true: it polls the condition until it holds or a
// timeout passes, so tests wait on what they expect, never on a sleep.
package testwait

import (
	"testing"
	"time"
)

// interval is how often the condition is polled: short next to every
// wait's timeout, long enough not to starve what it waits for.
const interval = 5 * time.Millisecond

// Until polls cond until it reports true, and fails tb (naming what it
// waited for) when it has not within timeout.
func Until(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}
