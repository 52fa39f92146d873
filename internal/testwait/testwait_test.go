package testwait

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	t.Parallel()
	var polls atomic.Int32
	Until(t, 5*time.Second, "the third poll", func() bool { return polls.Add(1) >= 3 })
	if n := polls.Load(); n != 3 {
		t.Fatalf("polled %d times, want 3: Until must stop polling once the condition holds", n)
	}
}

func TestUntilFailsTheTestWhenTheConditionNeverHolds(t *testing.T) {
	t.Parallel()
	rec := &recordingTB{TB: t}
	done := make(chan struct{})
	// Fatalf ends the goroutine it runs on, as testing's does.
	go func() {
		defer close(done)
		Until(rec, 20*time.Millisecond, "something that never happens", func() bool { return false })
	}()
	<-done
	if rec.failure == "" {
		t.Fatal("Until returned without failing the test, want a failure after the timeout")
	}
	if want := "timed out after 20ms waiting for something that never happens"; rec.failure != want {
		t.Fatalf("failure %q, want %q", rec.failure, want)
	}
}

// recordingTB records a Fatalf instead of failing the real test.
type recordingTB struct {
	testing.TB
	failure string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failure = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
