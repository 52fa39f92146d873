package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twin-llm/twin/internal/store/warehouse"
)

// SyncConfig is a comparison of the --sync modes.
type SyncConfig struct {
	Start Starter
	// Modes are compared; the last one is the baseline.
	Modes []string
	// SQLite is the warehouse's option for a mode.
	SQLite func(mode string) warehouse.SQLiteOption
	Rounds int
	// Of each ingest run (see IngestConfig).
	Docs, FreshDocs, Rate int
	// Of each chat run (see ChatConfig); no idle connections.
	ChatDocs, Clients, Questions int
	ClientArgs                   []string
	Log                          io.Writer
}

// SyncComparison is what CompareSync measured.
type SyncComparison struct {
	modes  []string
	got    map[string]*syncSamples
	rounds int
}

// CompareSync runs Ingest, then Chat, once per mode, Rounds times, the
// modes alternating within each round so that they share the machine's
// load.
func CompareSync(ctx context.Context, cfg SyncConfig) (*SyncComparison, error) {
	ms := cfg.Modes
	if len(ms) == 0 {
		return nil, fmt.Errorf("no --modes")
	}
	c := &SyncComparison{modes: ms, got: make(map[string]*syncSamples, len(ms)), rounds: cfg.Rounds}
	for _, m := range ms {
		c.got[m] = &syncSamples{}
	}
	for r := range cfg.Rounds {
		// Each round starts with another mode, so that none always runs
		// first after the previous round's chat.
		for i := range ms {
			m := ms[(i+r)%len(ms)]
			fmt.Fprintf(cfg.Log, "round %d of %d, --sync %s: ingest\n", r+1, cfg.Rounds, m)
			in, err := Ingest(ctx, IngestConfig{Start: cfg.Start, Sync: m, SQLite: cfg.SQLite(m), N: cfg.Docs, Rate: cfg.Rate, FreshN: cfg.FreshDocs, Log: cfg.Log})
			if err != nil {
				return nil, fmt.Errorf("ingest, --sync %s: %w", m, err)
			}
			fmt.Fprintf(cfg.Log, "round %d of %d, --sync %s: chat\n", r+1, cfg.Rounds, m)
			ch, err := Chat(ctx, ChatConfig{Start: cfg.Start, Sync: m, Clients: cfg.Clients, Questions: cfg.Questions, Docs: cfg.ChatDocs,
				ClientArgs: cfg.ClientArgs, Log: cfg.Log})
			if err != nil {
				return nil, fmt.Errorf("chat, --sync %s: %w", m, err)
			}
			c.got[m].add(in, ch)
		}
	}
	return c, nil
}

// syncSamples are one mode's results over the rounds.
type syncSamples struct {
	ingest, cpuMS, answers []float64
	publish, warehouse     []float64 // the ceilings of the ingest run
	freshP50, freshP99     []float64 // ms
	firstP50, firstP99     []float64 // ms
	chatErrors             int
}

func (s *syncSamples) add(in IngestResult, ch ChatResult) {
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

// Print writes the comparison as a table, one column per mode.
func (c *SyncComparison) Print(out io.Writer) {
	ms, got, rounds := c.modes, c.got, c.rounds
	base := got[ms[len(ms)-1]]
	cost := func(xs, baseline []float64) string {
		b := median(baseline)
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%+.0f%%", (b-median(xs))/b*100)
	}
	fmt.Fprintf(out, "median (min–max) of %d runs each; cost: throughput lost against --sync %s\n\n", rounds, ms[len(ms)-1])
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(w, strings.Join(cells, "\t")) }
	head := []string{""}
	for _, m := range ms {
		head = append(head, "--sync "+m)
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
