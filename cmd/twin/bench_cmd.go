package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the pipeline on this machine",
	}
	var docs, rate, freshDocs int
	var asJSON bool
	var cpuProfile, memProfile, textFile string
	var syncFlag syncMode
	ingest := &cobra.Command{
		Use:   "ingest",
		Short: "Ingest rate from write to searchable, freshness, and the ceilings beside them",
		Long: `Run an embedded twin in a temporary directory and measure, in one run:

  - the raw JetStream async-publish rate of 4 KB messages (the messaging ceiling);
  - the warehouse bulk-write rate alone (SQLite, 4 KB documents, bulks of 1,000);
  - ingest: --docs 4 KB documents written to the warehouse in bulks, until every
    one is searchable (CDC, featurizer, embedder, vector store), in docs/s, with its ratio to
    both ceilings;
  - freshness: --freshness-docs documents written one at a time at --rate docs/s, each timed
    from its write (Twin-Origin-Time) to its index event: p50, p90, p99.

The generated documents repeat a vocabulary of 70 words, which flatters every cache on the
way (tokenizer, models, BM25 postings). --text FILE measures with real text instead: each
document is a 4 KB window of the "text" fields of a JSON Lines file (gzip if it ends in .gz),
such as a BEIR corpus or an export of posts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src := benchDocs{}
			if textFile != "" {
				text, err := readBenchText(textFile)
				if err != nil {
					return err
				}
				src.text = text
			}
			res, err := benchIngest(cmd.Context(), g, src, docs, rate, freshDocs, syncFlag, cpuProfile)
			if err != nil {
				return err
			}
			if memProfile != "" {
				f, err := os.Create(memProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
					return err
				}
			}
			if asJSON {
				return printJSON(g, res)
			}
			fmt.Fprintf(g.stdout, `sync                                %8s
raw JetStream async publish, 4 KB   %8.0f msg/s
warehouse bulk write, 4 KB docs     %8.0f docs/s
ingest, write to searchable         %8.0f docs/s  (%.2f of the warehouse rate, %.3f of JetStream's)
ingest CPU (user+sys, process)      %8.3f ms/doc  (%.0f docs/s at 2 cores)
freshness at %d docs/s             p50 %s  p90 %s  p99 %s
handler busy time over the ingest:  %v
`, res.Sync, res.PublishRate, res.WarehouseRate, res.IngestRate, res.IngestRate/res.WarehouseRate, res.IngestRate/res.PublishRate,
				res.IngestCPUPerDoc*1000, res.IngestRateAt2Cores,
				rate, res.FreshnessP50, res.FreshnessP90, res.FreshnessP99, res.Stages)
			return nil
		},
	}
	ingest.Flags().IntVar(&docs, "docs", 10000, "documents for the ingest rate")
	ingest.Flags().IntVar(&rate, "rate", 200, "documents per second for the freshness run")
	ingest.Flags().IntVar(&freshDocs, "freshness-docs", 1000, "documents of the freshness run")
	ingest.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	ingest.Flags().Var(&syncFlag, "sync", "as twin up --sync: always, warehouse or interval")
	ingest.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the ingest phase alone to this file (go tool pprof)")
	ingest.Flags().StringVar(&textFile, "text", "", "JSON Lines file (.gz: gzip) whose \"text\" fields the documents are cut from, instead of generated text")
	ingest.Flags().StringVar(&memProfile, "memprofile", "", "write an allocation profile of the run to this file (go tool pprof -sample_index=alloc_space)")
	cmd.AddCommand(ingest, newBenchChatCmd(g), newBenchChatClientsCmd(g), newBenchSyncCmd(g))
	return cmd
}

// startBenchSystem starts a system of its own for a benchmark, in a
// temporary data dir that stop removes.
func startBenchSystem(ctx context.Context, g *globals, f serveFlags) (s *system, stop func(), err error) {
	dir, err := os.MkdirTemp("", "twin-bench-")
	if err != nil {
		return nil, nil, err
	}
	bg := *g
	bg.data, bg.nats = dir, ""
	bg.log = zerolog.Nop()
	f.natsListen, f.maxMemory, f.replicas = "off", 1<<30, 1
	s, err = start(ctx, &bg, f)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return s, func() { s.close(); os.RemoveAll(dir) }, nil
}

// startCPUProfile profiles the process into path until stop; an empty
// path profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

type benchResult struct {
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
func stageBusy(s *system, wall time.Duration) map[string]float64 {
	out := map[string]float64{}
	mfs, err := s.reg.Gather()
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

// benchIngest runs the three phases; cpuProfile, when set, profiles the
// ingest phase alone, as the ceilings' runs would blur what it spends.
func benchIngest(ctx context.Context, g *globals, src benchDocs, n, rate, freshN int, mode syncMode, cpuProfile string) (benchResult, error) {
	res := benchResult{Docs: n, Sync: mode.String()}
	s, stop, err := startBenchSystem(ctx, g, serveFlags{http: "off", maxStore: 12 << 30, sync: mode, features: featureFlags{cdcMode: "tail"}})
	if err != nil {
		return res, err
	}
	defer stop()

	fmt.Fprintln(g.stderr, "raw JetStream publish...")
	if res.PublishRate, err = benchPublish(ctx, s.js, n); err != nil {
		return res, err
	}
	fmt.Fprintln(g.stderr, "warehouse bulk write...")
	if res.WarehouseRate, err = benchWarehouse(ctx, src, filepath.Join(s.g.data, "alone.db"), n, mode); err != nil {
		return res, err
	}

	store, err := s.warehouse(ctx)
	if err != nil {
		return res, err
	}
	index, err := s.js.Stream(ctx, "INDEX")
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
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context, *system, zerolog.Logger, func()) error{runCDC, runFeaturizer, runEmbedder} {
		wg.Go(func() { _ = run(cctx, s, zerolog.Nop(), func() {}) })
	}
	defer func() { cancel(); wg.Wait() }()
	count := func(prefix string) int {
		mu.Lock()
		defer mu.Unlock()
		return searchable[prefix]
	}

	fmt.Fprintf(g.stderr, "ingest of %d documents...\n", n)
	rng := rand.New(rand.NewPCG(1, 2))
	// Generated before the clock starts, as for the warehouse rate alone:
	// making up text is no part of the pipeline.
	docs := make([]warehouse.Document, n)
	for i := range docs {
		docs[i] = src.doc(rng, "ingest", i)
	}
	stopProfile, err := startCPUProfile(cpuProfile)
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

	fmt.Fprintf(g.stderr, "freshness at %d docs/s...\n", rate)
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
	res.FreshnessP50 = percentile(lat, .50).Round(100 * time.Microsecond).String()
	res.FreshnessP90 = percentile(lat, .90).Round(100 * time.Microsecond).String()
	res.FreshnessP99 = percentile(lat, .99).Round(100 * time.Microsecond).String()
	return res, nil
}

// benchPublish is the async publish rate of n 4 KB messages.
func benchPublish(ctx context.Context, js jetstream.JetStream, n int) (float64, error) {
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

// benchWarehouse is the bulk-write rate of n 4 KB documents alone.
func benchWarehouse(ctx context.Context, src benchDocs, path string, n int, mode syncMode) (float64, error) {
	st, err := warehouse.OpenSQLite(ctx, path, mode.sqlite())
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

var benchWords = strings.Fields(`stream consumer message queue durable replica cluster shard index vector
embedding chunk token search query answer author article post repository crawl fetch extract page text
latency throughput freshness revision checkpoint snapshot change event feature pipeline model server
client request response retry backoff delivery acknowledge redelivery dead letter window dedup time`)

// benchDoc is a generated document of about 4 KB.
func benchDoc(rng *rand.Rand, prefix string, i int) warehouse.Document {
	var b strings.Builder
	for b.Len() < 4000 {
		for w := 0; w < 12 && b.Len() < 4000; w++ {
			b.WriteString(benchWords[rng.IntN(len(benchWords))])
			b.WriteByte(' ')
		}
		b.WriteString(". ")
		if rng.IntN(6) == 0 {
			b.WriteString("\n\n")
		}
	}
	return benchDocument(prefix, i, "Generated", b.String())
}

// benchDocument is the benchmark's document i under prefix.
func benchDocument(prefix string, i int, kind, content string) warehouse.Document {
	return warehouse.Document{ID: fmt.Sprintf("%s-%d", prefix, i), Collection: warehouse.Articles, Author: "Bench Author",
		Platform: "bench", Title: fmt.Sprintf("%s %s %d", kind, prefix, i), Content: content}
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func waitFor(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return context.DeadlineExceeded
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(int(p*float64(len(s))), len(s)-1)]
}
