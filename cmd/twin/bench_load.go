package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/bench"
)

func newBenchLoadCmd(g *globals) *cobra.Command {
	var preload, rate, clients int
	var duration time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Ingest and chat at once through a multi-process twin; throughput, freshness, latency, memory, drain",
		Long: `Start twin as separate processes of this binary in a temporary data dir: three twin nats
members (R3), the warehouse writer with the CDC producer, two featurizers, and the embedder
with the rag worker and the gateway beside it (the embedded vector store has one process).
Index --preload documents, then for --duration import --rate documents a second (twin
import, about 4 KB each) while --clients WebSocket connections ask one question after
another. Report the ingest and answer throughput, the freshness (a change's origin to its
index event) and the chat's first-token and total percentiles, the peak resident memory of
every process, and how long after the load the lag of every consumer was back to zero.`,
		Example: `  twin bench load --duration 2m --rate 50 --clients 8
  twin bench load --duration 30s --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "twin-load-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			res, err := bench.Load(cmd.Context(), bench.LoadConfig{Bin: bin, Dir: dir, Preload: preload, Rate: rate,
				Clients: clients, Duration: duration, Log: g.stderr})
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(res)
			}
			w := g.stdout
			fmt.Fprintf(w, "load %s: ingested %d (%.1f/s), %d searchable; freshness p50 %s p99 %s\n",
				res.Duration, res.Ingested, res.IngestPerS, res.Searchable, res.FreshnessP50, res.FreshnessP99)
			fmt.Fprintf(w, "chat: %d clients, %d answers (%.1f/s), %d errors; first token p50 %s p99 %s; total p50 %s p99 %s\n",
				res.Clients, res.Answers, res.AnswersPerS, res.ChatErrors, res.FirstTokenP50, res.FirstTokenP99, res.TotalP50, res.TotalP99)
			for _, n := range slices.Sorted(maps.Keys(res.PeakRSSMB)) {
				fmt.Fprintf(w, "  %-13s peak RSS %6.1f MiB\n", n, res.PeakRSSMB[n])
			}
			fmt.Fprintf(w, "lag back to zero %.1fs after the load\n", res.DrainS)
			if res.FirstError != "" {
				fmt.Fprintf(w, "first chat error: %s\n", res.FirstError)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&preload, "preload", 2000, "documents indexed before the load")
	fl.IntVar(&rate, "rate", 50, "documents imported per second during the load")
	fl.IntVarP(&clients, "clients", "c", 8, "chat connections, each asking one question after another")
	fl.DurationVar(&duration, "duration", time.Minute, "how long the load lasts")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
