package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// newBenchSyncCmd compares the --sync modes with the ingest and chat
// benchmarks, alternating them in one run so that they share the
// machine's load.
func newBenchSyncCmd(g *globals) *cobra.Command {
	var rounds, docs, freshDocs, rate, chatDocs, clients, questions int
	var modes []string
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Compare the --sync modes: ingest and chat, alternating, in one run",
		Long: `Run twin bench ingest, then twin bench chat (no idle connections), once per --sync mode,
--rounds times, the modes alternating within each round, and print per mode the median and
the range of: the ingest rate, its CPU per document, the freshness p50 and p99, the chat's
first token p50 and p99 and its answers per second; and each median's cost against the
last mode given (interval by default), in percent of its throughput. The ingest runs also
report the two ceilings: the raw JetStream publish rate and the warehouse's bulk writes alone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ms := make([]syncMode, len(modes))
			for i, m := range modes {
				if err := ms[i].Set(m); err != nil {
					return err
				}
			}
			if len(ms) == 0 {
				return fmt.Errorf("no --modes")
			}
			got := make(map[syncMode]*syncSamples, len(ms))
			for _, m := range ms {
				got[m] = &syncSamples{}
			}
			for r := range rounds {
				// Each round starts with another mode, so that none always
				// runs first after the previous round's chat.
				for i := range ms {
					m := ms[(i+r)%len(ms)]
					fmt.Fprintf(g.stderr, "round %d of %d, --sync %s: ingest\n", r+1, rounds, m)
					in, err := benchIngest(cmd.Context(), g, benchDocs{}, docs, rate, freshDocs, m, "")
					if err != nil {
						return fmt.Errorf("ingest, --sync %s: %w", m, err)
					}
					fmt.Fprintf(g.stderr, "round %d of %d, --sync %s: chat\n", r+1, rounds, m)
					ch, err := benchChat(cmd.Context(), g, clients, questions, chatDocs, 0, 0, m)
					if err != nil {
						return fmt.Errorf("chat, --sync %s: %w", m, err)
					}
					got[m].add(in, ch)
				}
			}
			printSyncComparison(g, ms, got, rounds)
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

// syncSamples are one mode's results over the rounds.
type syncSamples struct {
	ingest, cpuMS, answers []float64
	publish, warehouse     []float64 // the ceilings of the ingest run
	freshP50, freshP99     []float64 // ms
	firstP50, firstP99     []float64 // ms
	chatErrors             int
}

func (s *syncSamples) add(in benchResult, ch chatBenchResult) {
	s.publish = append(s.publish, in.PublishRate)
	s.warehouse = append(s.warehouse, in.WarehouseRate)
	s.ingest = append(s.ingest, in.IngestRate)
	s.cpuMS = append(s.cpuMS, in.IngestCPUPerDoc*1000)
	s.freshP50 = append(s.freshP50, durMS(in.FreshnessP50))
	s.freshP99 = append(s.freshP99, durMS(in.FreshnessP99))
	s.firstP50 = append(s.firstP50, durMS(ch.FirstTokenP50))
	s.firstP99 = append(s.firstP99, durMS(ch.FirstTokenP99))
	s.answers = append(s.answers, ch.AnswersPerSec)
	s.chatErrors += ch.Errors
}

// durMS is a benchmark's printed duration in milliseconds.
func durMS(s string) float64 {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return float64(d) / float64(time.Millisecond)
}

// median and its range, as "m (lo–hi)".
func medianRange(xs []float64, format string) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return "-"
	}
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", m, s[0], s[len(s)-1])
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

func printSyncComparison(g *globals, ms []syncMode, got map[syncMode]*syncSamples, rounds int) {
	base := got[ms[len(ms)-1]]
	cost := func(xs, baseline []float64) string {
		b := median(baseline)
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%+.0f%%", (b-median(xs))/b*100)
	}
	fmt.Fprintf(g.stdout, "median (min–max) of %d runs each; cost: throughput lost against --sync %s\n\n", rounds, ms[len(ms)-1])
	w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(w, strings.Join(cells, "\t")) }
	head := []string{""}
	for _, m := range ms {
		head = append(head, "--sync "+string(m))
	}
	row(head...)
	line := func(name string, f func(*syncSamples) string) {
		cells := []string{name}
		for _, m := range ms {
			cells = append(cells, f(got[m]))
		}
		row(cells...)
	}
	line("raw JetStream publish, msg/s", func(s *syncSamples) string { return medianRange(s.publish, "%.0f") })
	line("warehouse bulk write alone, docs/s", func(s *syncSamples) string { return medianRange(s.warehouse, "%.0f") })
	line("ingest, docs/s", func(s *syncSamples) string { return medianRange(s.ingest, "%.0f") })
	line("  cost", func(s *syncSamples) string { return cost(s.ingest, base.ingest) })
	line("ingest CPU, ms/doc", func(s *syncSamples) string { return medianRange(s.cpuMS, "%.2f") })
	line("freshness p50, ms", func(s *syncSamples) string { return medianRange(s.freshP50, "%.1f") })
	line("freshness p99, ms", func(s *syncSamples) string { return medianRange(s.freshP99, "%.1f") })
	line("chat first token p50, ms", func(s *syncSamples) string { return medianRange(s.firstP50, "%.1f") })
	line("chat first token p99, ms", func(s *syncSamples) string { return medianRange(s.firstP99, "%.1f") })
	line("chat answers/s", func(s *syncSamples) string { return medianRange(s.answers, "%.0f") })
	line("  cost", func(s *syncSamples) string { return cost(s.answers, base.answers) })
	line("chat errors", func(s *syncSamples) string { return fmt.Sprint(s.chatErrors) })
	w.Flush()
}
