package main

import (
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/bench"
)

func newBenchExtractCmd(g *globals) *cobra.Command {
	var workers, rounds int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "extract PATH...",
		Short: "Main-content extraction over HTML files on disk: pages/s, CPU per page, time per page",
		Long: `Extract the main text of every HTML page under the given files and directories (.html,
.htm, .xhtml, each maybe gzipped) the way the article crawler does, with nothing fetched or
stored, and print:

  - pages per second and MB per second, by the wall clock, with --workers at once;
  - the process's CPU time per page, and the pages per second two idle cores give at that
    cost (on a shared machine the wall clock measures the neighbours too);
  - the time per page: p50, p99 and the slowest page;
  - how many pages had no main content, and how many failed otherwise.

Pages are read into memory before the clock starts. --rounds extracts every page that many
times, for steadier figures on a small set. The extraction's quality on the development sets
is measured by go test (consumers/crawler/extract/QUALITY.md).`,
		Example: `  twin bench extract ./saved-pages
  twin bench extract ../shared/data/extraction-dev/html --rounds 3 --workers 2 --json`,
		Args: minArgs(1, "the HTML files or directories to extract, e.g. twin bench extract ./saved-pages"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var m *meter // made when the pages are read and their number known
			res, err := bench.Extract(cmd.Context(), bench.ExtractConfig{Paths: args, Workers: workers, Rounds: rounds,
				Progress: func(done, total int) {
					if m == nil {
						m = newMeter(g.stderr, "extracted", int64(total), false)
					}
					m.Set(int64(done), "")
				}})
			if m != nil {
				m.Done()
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, res)
			}
			res.Print(g.stdout)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&workers, "workers", 0, "pages extracted at once (0: one per core)")
	fl.IntVar(&rounds, "rounds", 1, "times every page is extracted")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
