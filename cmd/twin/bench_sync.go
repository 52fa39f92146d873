package main

import (
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/bench"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

// newBenchSyncCmd compares the --sync modes with the ingest and chat
// benchmarks, alternating them in one run so that they share the
// machine's load.
func newBenchSyncCmd(g *globals) *cobra.Command {
	var rounds, docs, freshDocs, rate, chatDocs, clients, questions int
	var modes []string
	cmd := &cobra.Command{
		Use:     "sync",
		Short:   "Compare the --sync modes: ingest and chat, alternating, in one run",
		Example: `  twin bench sync`,
		Long: `Run twin bench ingest, then twin bench chat (no idle connections), once per --sync mode,
--rounds times, the modes alternating within each round, and print per mode the median and
the range of: the ingest rate, its CPU per document, the freshness p50 and p99, the chat's
first token p50 and p99 and its answers per second; and each median's cost against the
last mode given (interval by default), in percent of its throughput. The ingest runs also
report the two ceilings: the raw JetStream publish rate and the warehouse's bulk writes alone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, m := range modes {
				if err := new(syncMode).Set(m); err != nil {
					return err
				}
			}
			cmp, err := bench.CompareSync(cmd.Context(), bench.SyncConfig{Start: g.startBench, Modes: modes,
				SQLite: func(m string) warehouse.SQLiteOption { return syncMode(m).sqlite() },
				Rounds: rounds, Docs: docs, FreshDocs: freshDocs, Rate: rate, ChatDocs: chatDocs, Clients: clients, Questions: questions,
				ClientArgs: benchClientArgs, Log: g.stderr})
			if err != nil {
				return err
			}
			cmp.Print(g.stdout)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&rounds, "rounds", 3, "runs of each mode")
	fl.StringSliceVar(&modes, "modes", []string{string(syncAlways), string(syncWarehouse), string(syncInterval)}, "the modes to compare; the last one is the baseline")
	fl.IntVar(&docs, "docs", 5000, "documents of each ingest run")
	fl.IntVar(&freshDocs, "freshness-docs", 500, "documents of each freshness run")
	fl.IntVar(&rate, "rate", 200, "documents per second of the freshness run")
	fl.IntVar(&chatDocs, "chat-docs", 2000, "documents indexed before each chat run")
	fl.IntVarP(&clients, "clients", "c", 50, "concurrent chat connections")
	fl.IntVarP(&questions, "questions", "n", 1000, "questions of each chat run")
	return cmd
}
