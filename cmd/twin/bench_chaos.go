package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/bench"
	"github.com/twin-llm/twin/internal/models/embed"
)

// errChaosFound is the exit of a chaos run that found documents lost,
// duplicated or stale: the report is printed, and the exit is not 0.
var errChaosFound = fmt.Errorf("chaos: the index does not match the warehouse")

func newBenchChaosCmd(g *globals) *cobra.Command {
	var docs, kills int
	var seed uint64
	var pause time.Duration
	var asJSON, keep bool
	var victims []string
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Kill processes of a multi-process twin while it ingests, then count what was lost, duplicated or stale",
		Long: `Start twin as separate processes of this binary in a temporary data dir: three twin nats
members (R3 streams and buckets), the warehouse writer, the CDC producer, two featurizers
and the embedder, each a twin run of its own. Ingest --docs documents (twin import), then
change a tenth and delete a tenth of them, while --kills times a random process (any of
them, NATS members included) is killed with SIGKILL and started again. Then wait until the
pipeline is idle and compare: the warehouse with what was ingested, and every chunk of the
vector store with the warehouse.

It reports the documents and chunks lost (missing), duplicated (a chunk twice) and stale
(an older version, or a deleted document, still searchable), the dead letters, how long the
pipeline took to converge after the last restart, and which process was killed how often.
It exits non-zero when anything is lost, duplicated, stale or dead-lettered.`,
		Example: `  twin bench chaos --docs 5000 --kills 20
  twin bench chaos --docs 500 --kills 5 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "twin-chaos-")
			if err != nil {
				return err
			}
			if keep {
				fmt.Fprintf(g.stderr, "data dir %s (kept)\n", dir)
			} else {
				defer os.RemoveAll(dir)
			}
			res, err := bench.Chaos(cmd.Context(), bench.ChaosConfig{Bin: bin, Dir: dir, Docs: docs, Kills: kills, Seed: seed, Victims: victims, Pause: pause,
				Dim: embed.NewHashed(0).Dim(), Log: g.stderr})
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(g.stdout, "docs %d (%d updated, %d deleted), kills %d %v\nlost %d, duplicated %d, stale %d, dead letters %d (%d chunks compared)\ningest %.1fs, converged %.1fs after the last restart\n",
					res.Docs, res.Updated, res.Deleted, res.Kills, res.Killed, res.Lost, res.Duplicated, res.Stale, res.DLQ, res.Points, res.IngestS, res.ConvergeS)
				for _, p := range res.Problems {
					fmt.Fprintln(g.stdout, "  "+p)
				}
			}
			if !res.OK() {
				return errChaosFound
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&docs, "docs", 5000, "documents to ingest")
	fl.IntVar(&kills, "kills", 20, "processes to kill during the ingest")
	fl.Uint64Var(&seed, "seed", 1, "picks the victims and when they come back")
	fl.DurationVar(&pause, "pause", time.Second, "time between a victim being back and the next kill")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON")
	fl.StringSliceVar(&victims, "victims", nil, "kill only these processes (nats-1, nats-2, nats-3, writer, cdc, featurizer-1, featurizer-2, embedder; default all)")
	fl.BoolVar(&keep, "keep", false, "keep the data dir for a look afterwards")
	return cmd
}
