package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/bench"
	"github.com/twin-llm/twin/internal/config"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the pipeline on this machine",
		Example: `  twin bench ingest --docs 5000
  twin bench chat -c 20 -n 200`,
	}
	var docs, rate, freshDocs int
	var asJSON bool
	var cpuProfile, memProfile, textFile string
	var syncFlag syncMode
	ingest := &cobra.Command{
		Use:   "ingest",
		Short: "Ingest rate from write to searchable, freshness, and the ceilings beside them",
		Example: `  twin bench ingest
  twin bench ingest --docs 50000 --rate 500 --json`,
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
			src := bench.Docs{}
			if textFile != "" {
				text, err := bench.ReadText(textFile)
				if err != nil {
					return err
				}
				src.Text = text
			}
			res, err := bench.Ingest(cmd.Context(), bench.IngestConfig{Start: g.startBench, Sync: syncFlag.String(), SQLite: syncFlag.sqlite(),
				Docs: src, N: docs, Rate: rate, FreshN: freshDocs, CPUProfile: cpuProfile, Log: g.stderr})
			if err != nil {
				return err
			}
			if memProfile != "" {
				if err := bench.WriteAllocProfile(memProfile); err != nil {
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
	cmd.AddCommand(ingest, newBenchChatCmd(g), newBenchChatClientsCmd(g), newBenchSyncCmd(g), newBenchChaosCmd(g), newBenchLoadCmd(g), newBenchExtractCmd(g))
	return cmd
}

// benchSystem is a system started for one benchmark run, in a temporary
// data dir that Close removes.
type benchSystem struct {
	s      *system
	stderr io.Writer
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startBench starts a system for a benchmark, with no component running.
func (g *globals) startBench(ctx context.Context, spec bench.Spec) (bench.System, error) {
	dir, err := os.MkdirTemp("", "twin-bench-")
	if err != nil {
		return nil, err
	}
	bg := *g
	bg.data, bg.nats = dir, ""
	bg.log = zerolog.Nop()
	var mode syncMode
	if err := mode.Set(spec.Sync); spec.Sync != "" && err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	f := serveFlags{http: "off", natsListen: "off", maxMemory: 1 << 30, maxStore: config.Bytes(spec.MaxStore), replicas: 1, sync: mode,
		cdc: cdcFlags{mode: "tail"}, vectors: vectorFlags{embedModel: "hashed", searchMode: "auto"}}
	if spec.HTTP {
		f.http = "127.0.0.1:0"
	}
	f.chat = defaultChatFlags()
	f.chat.workers = max(spec.RagWorkers, 1)
	// Every client of the benchmark asks back to back from loopback.
	f.gateway = gatewayFlags{maxConns: -1, askRate: -1, ipAskRate: -1}
	s, err := start(ctx, &bg, f)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b := &benchSystem{s: s, stderr: g.stderr}
	b.ctx, b.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return b, nil
}

func (b *benchSystem) JetStream() jetstream.JetStream { return b.s.js }
func (b *benchSystem) Warehouse(ctx context.Context) (warehouse.Store, error) {
	return b.s.warehouse(ctx)
}
func (b *benchSystem) Metrics() prometheus.Gatherer { return b.s.reg }
func (b *benchSystem) HTTPAddr() string             { return b.s.httpAddr }
func (b *benchSystem) DataDir() string              { return b.s.g.data }
func (b *benchSystem) ChatConnections() int         { return b.s.gatewayConnections() }

// Run starts the named components and waits until each is ready.
func (b *benchSystem) Run(ctx context.Context, names ...string) error {
	comps, err := pickComponents(names)
	if err != nil {
		return err
	}
	ready := make(chan struct{}, len(comps))
	for _, c := range comps {
		var once sync.Once
		b.wg.Go(func() {
			err := c.run(b.ctx, b.s, zerolog.Nop(), func() { once.Do(func() { ready <- struct{}{} }) })
			if err != nil && b.ctx.Err() == nil {
				fmt.Fprintf(b.stderr, "component %s: %v\n", c.name, err)
			}
		})
	}
	for range comps {
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (b *benchSystem) Close() {
	b.cancel()
	b.wg.Wait()
	b.s.close()
	os.RemoveAll(b.s.g.data)
}
