package monitor_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/monitor"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

// BenchmarkMonitorTraces measures the monitor storing published traces in
// a SQLite warehouse with synchronous=FULL (--sync warehouse), through the
// real runtime: batches of one (a commit, so an fsync, per trace) against
// the batches twin runs it with. The publisher awaits each ack, so the
// batched figure is bounded by the publish rate.
func BenchmarkMonitorTraces(b *testing.B) {
	for _, batch := range []int{1, 256} {
		b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) {
			js := streamstest.Start(b)
			store, err := warehouse.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "warehouse.db"), warehouse.SQLiteFullSync(true))
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			reg := prometheus.NewRegistry()
			// The runtime's metrics first, as twin registers them.
			rtm := streams.NewMetrics(reg)
			mon, err := monitor.New(monitor.Config{Store: store, Registerer: reg, Log: zerolog.Nop()})
			if err != nil {
				b.Fatal(err)
			}
			rt := streams.NewRuntime(js, streamstest.Topology(), rtm, zerolog.Nop())
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() {
				_ = rt.RunBatch(ctx, monitor.Consumer, mon, streams.PullBatch(512), streams.Batch(batch, 10*time.Millisecond))
			})
			defer func() { cancel(); wg.Wait() }()
			pub := streams.NewPublisher(js)
			n, start := 0, time.Now()
			for b.Loop() {
				n++
				tr := chatTrace(fmt.Sprint("trace-", n), fmt.Sprint("req-", n))
				if _, err := pub.Publish(b.Context(), streams.Out{Subject: schemas.SubjectMonitorTraces, MsgID: "trace:" + tr.TraceID, Body: tr}); err != nil {
					b.Fatal(err)
				}
			}
			// Done when every trace is stored (the counter moves after the
			// commit), which b.Loop's timer does not see: timed apart.
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for value(b, reg, "twin_chat_seconds", nil) < float64(n) {
				<-tick.C
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "traces/s")
		})
	}
}
