package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// IngestResult is what `twin bench ingest` reports.
type IngestResult struct {
	Sync          string  `json:"sync"`
	Docs          int     `json:"docs"`
	PublishRate   float64 `json:"jetstream_publish_msgs_per_s"`
	WarehouseRate float64 `json:"warehouse_docs_per_s"`
	IngestRate    float64 `json:"ingest_docs_per_s"`
	// IngestCPUPerDoc is the process's CPU time (user and system) over the
	// ingest divided by the documents, in seconds: unlike the wall-clock
	// rate it hardly moves when other processes compete for the cores.
	// IngestRateAt2Cores is the rate it implies on two idle cores.
	IngestCPUPerDoc    float64 `json:"ingest_cpu_s_per_doc"`
	IngestRateAt2Cores float64 `json:"ingest_docs_per_s_at_2_cores"`
	FreshnessP50       string  `json:"freshness_p50"`
	FreshnessP90       string  `json:"freshness_p90"`
	FreshnessP99       string  `json:"freshness_p99"`
	// Stages is, per consumer, the share of the ingest's wall time its
	// handlers were busy: the one near 1 (or over, with several workers)
	// is the bottleneck.
	Stages map[string]float64 `json:"stage_busy"`
}

// stageBusy reads twin_stage_seconds: handler time per stage over wall.
func stageBusy(s System, wall time.Duration) map[string]float64 {
	out := map[string]float64{}
	mfs, err := s.Metrics().Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		if mf.GetName() != "twin_stage_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "stage" {
					out[l.GetValue()] = m.GetHistogram().GetSampleSum() / wall.Seconds()
				}
			}
		}
	}
	return out
}

// IngestConfig is one ingest run.
type IngestConfig struct {
	Start  Starter
	Sync   string                 // the --sync mode
	SQLite warehouse.SQLiteOption // the warehouse's option for it, for the bulk-write ceiling
	Docs   Docs
	N      int // documents of the ingest rate
	Rate   int // documents per second of the freshness run
	FreshN int // documents of the freshness run
	// CPUProfile, when set, profiles the ingest phase alone, as the
	// ceilings' runs would blur what it spends.
	CPUProfile string
	Log        io.Writer // what the run is doing
}

// Ingest measures the ceilings, the ingest rate and the freshness.
func Ingest(ctx context.Context, cfg IngestConfig) (IngestResult, error) {
	src, n, rate, freshN, log := cfg.Docs, cfg.N, cfg.Rate, cfg.FreshN, cfg.Log
	res := IngestResult{Docs: n, Sync: cfg.Sync}
	s, err := cfg.Start(ctx, Spec{Sync: cfg.Sync, MaxStore: 12 << 30})
	if err != nil {
		return res, err
	}
	defer s.Close()

	fmt.Fprintln(log, "raw JetStream publish...")
	if res.PublishRate, err = publishRate(ctx, s.JetStream(), n); err != nil {
		return res, err
	}
	fmt.Fprintln(log, "warehouse bulk write...")
	if res.WarehouseRate, err = warehouseRate(ctx, src, filepath.Join(s.DataDir(), "alone.db"), n, cfg.SQLite); err != nil {
		return res, err
	}

	store, err := s.Warehouse(ctx)
	if err != nil {
		return res, err
	}
	index, err := s.JetStream().Stream(ctx, streams.StreamIndex)
	if err != nil {
		return res, err
	}
	events, err := index.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return res, err
	}
	var mu sync.Mutex                     // guards indexed, latency and searchable
	indexed := map[string]time.Time{}     // document → when its index event arrived
	latency := map[string]time.Duration{} // document → origin to index event
	searchable := map[string]int{}        // id prefix → documents indexed
	cc, err := events.Consume(func(m jetstream.Msg) {
		var ev schemas.IndexEvent
		if schemas.Decode(m.Data(), &ev) != nil || ev.Op != schemas.OpUpsert {
			return
		}
		now := time.Now()
		mu.Lock()
		if _, ok := indexed[ev.DocumentID]; !ok {
			indexed[ev.DocumentID] = now
			latency[ev.DocumentID] = now.Sub(ev.OriginTime)
			prefix, _, _ := strings.Cut(ev.DocumentID, "-")
			searchable[prefix+"-"]++
		}
		mu.Unlock()
	})
	if err != nil {
		return res, err
	}
	defer cc.Stop()
	if err := s.Run(ctx, "cdc", "featurizer", "embedder"); err != nil {
		return res, err
	}
	count := func(prefix string) int {
		mu.Lock()
		defer mu.Unlock()
		return searchable[prefix]
	}

	fmt.Fprintf(log, "ingest of %d documents...\n", n)
	rng := rand.New(rand.NewPCG(1, 2))
	// Generated before the clock starts, as for the warehouse rate alone:
	// making up text is no part of the pipeline.
	docs := make([]warehouse.Document, n)
	for i := range docs {
		docs[i] = src.doc(rng, "ingest", i)
	}
	stopProfile, err := StartCPUProfile(cfg.CPUProfile)
	if err != nil {
		return res, err
	}
	stopProfile = sync.OnceFunc(stopProfile)
	defer stopProfile()
	cpuBefore := processCPU()
	start := time.Now()
	for i := 0; i < n; i += 500 {
		if _, err := store.Upsert(ctx, docs[i:min(i+500, n)]); err != nil {
			return res, err
		}
	}
	if err := waitFor(ctx, 10*time.Minute, func() bool { return count("ingest-") >= n }); err != nil {
		return res, fmt.Errorf("ingest: %d of %d searchable: %w", count("ingest-"), n, err)
	}
	took := time.Since(start)
	cpu := processCPU() - cpuBefore
	stopProfile()
	res.IngestRate = float64(n) / took.Seconds()
	res.IngestCPUPerDoc = cpu.Seconds() / float64(n)
	if res.IngestCPUPerDoc > 0 {
		res.IngestRateAt2Cores = 2 / res.IngestCPUPerDoc
	}
	res.Stages = stageBusy(s, took)

	fmt.Fprintf(log, "freshness at %d docs/s...\n", rate)
	every := time.Second / time.Duration(max(rate, 1))
	tick := time.NewTicker(every)
	for i := range freshN {
		<-tick.C
		if _, err := store.Upsert(ctx, []warehouse.Document{src.doc(rng, "fresh", i)}); err != nil {
			tick.Stop()
			return res, err
		}
	}
	tick.Stop()
	if err := waitFor(ctx, 5*time.Minute, func() bool { return count("fresh-") >= freshN }); err != nil {
		return res, fmt.Errorf("freshness: %d of %d searchable: %w", count("fresh-"), freshN, err)
	}
	var lat []time.Duration
	mu.Lock()
	for id, d := range latency {
		if strings.HasPrefix(id, "fresh-") {
			lat = append(lat, d)
		}
	}
	mu.Unlock()
	res.FreshnessP50 = Percentile(lat, .50).Round(100 * time.Microsecond).String()
	res.FreshnessP90 = Percentile(lat, .90).Round(100 * time.Microsecond).String()
	res.FreshnessP99 = Percentile(lat, .99).Round(100 * time.Microsecond).String()
	return res, nil
}

// publishRate is the async publish rate of n 4 KB messages.
func publishRate(ctx context.Context, js jetstream.JetStream, n int) (float64, error) {
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"},
		MaxBytes: 1 << 30, Storage: jetstream.FileStorage}); err != nil {
		return 0, err
	}
	data := make([]byte, 4096)
	start := time.Now()
	for range n {
		// A store that syncs every write acks slower than the client's
		// pending limit fills: wait for room, as a producer would.
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: "bench.publish", Data: data}, jetstream.WithStallWait(time.Minute)); err != nil {
			return 0, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return float64(n) / time.Since(start).Seconds(), js.DeleteStream(ctx, "BENCH")
}

// warehouseRate is the bulk-write rate of n 4 KB documents alone.
func warehouseRate(ctx context.Context, src Docs, path string, n int, opt warehouse.SQLiteOption) (float64, error) {
	st, err := warehouse.OpenSQLite(ctx, path, opt)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	docs := make([]warehouse.Document, n)
	for i := range docs {
		docs[i] = src.doc(rng, "alone", i)
	}
	start := time.Now()
	for i := 0; i < n; i += 1000 {
		if _, err := st.Upsert(ctx, docs[i:min(i+1000, n)]); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
