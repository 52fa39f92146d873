package streams

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkRuntimeVsRawConsume runs a no-op handler through the runtime and
// through raw jetstream.Consume on the same messages in the same run, and
// reports both rates and their ratio. The runtime is meant to keep at
// least 80% of the raw rate.
//
//	go test -run '^$' -bench RuntimeVsRaw -benchtime 50000x ./streams/
func BenchmarkRuntimeVsRawConsume(b *testing.B) {
	for _, size := range []int{256, 4096} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			rawSpec := ConsumerSpec{Name: "raw", Stream: "TEST", FilterSubject: "test.>", AckWait: time.Minute, MaxDeliver: 5, MaxAckPending: 10000}
			rtSpec := rawSpec
			rtSpec.Name = "runtime"
			topo := testTopology(rawSpec, rtSpec)
			topo.Streams[0].MaxBytes = 512 * mib // hold every message of a long run
			e := newTestEnv(b, topo)
			e.rt.log = e.rt.log.Level(0).Output(nopWriter{}) // no per-test logging in the hot path
			// Alternate the two in rounds, so that a change in the machine's
			// load mid-run hits both alike.
			const rounds = 4
			per := max(b.N/rounds, 1)
			publishN(b, e.js, per*rounds+rounds*1000, size) // spare for prefetched messages left at each stop
			b.ResetTimer()

			var rawTime, rtTime time.Duration
			for range rounds {
				rawTime += consumeRaw(b, e.js, per)
				rtTime += consumeRuntime(b, e, per)
			}

			b.StopTimer()
			total := float64(per * rounds)
			rawRate, rtRate := total/rawTime.Seconds(), total/rtTime.Seconds()
			b.ReportMetric(rawRate, "raw_msg/s")
			b.ReportMetric(rtRate, "runtime_msg/s")
			b.ReportMetric(rtRate/rawRate, "ratio")
		})
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func publishN(b *testing.B, js jetstream.JetStream, n, size int) {
	b.Helper()
	data := make([]byte, size)
	for i := 0; i < n; i++ {
		m := nats.NewMsg("test.bench")
		m.Data = data
		if _, err := js.PublishMsgAsync(m); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publish did not complete")
	}
}

func consumeRaw(b *testing.B, js jetstream.JetStream, n int) time.Duration {
	b.Helper()
	cons, err := js.Consumer(context.Background(), "TEST", "raw")
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	done := make(chan struct{})
	start := time.Now()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		if got.Add(1) == int64(n) {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	<-done
	elapsed := time.Since(start)
	cc.Stop()
	<-cc.Closed()
	return elapsed
}

func consumeRuntime(b *testing.B, e *testEnv, n int) time.Duration {
	b.Helper()
	var got atomic.Int64
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(stopped)
		_ = e.rt.Run(ctx, "runtime", HandlerFunc(func(context.Context, *Msg) error {
			if got.Add(1) == int64(n) { // messages past n are released at the stop
				close(done)
			}
			return nil
		}))
	}()
	<-done
	elapsed := time.Since(start)
	cancel()
	<-stopped
	return elapsed
}
