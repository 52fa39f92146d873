package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/metrics"
)

func newVersionCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the build's module version, VCS revision and Go version",
		Example: `  twin version
  twin version --json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := metrics.ReadVersion()
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(v)
			}
			note := ""
			switch {
			case v.Modified:
				note = " (modified)"
			case v.Revision == "unknown":
				note = " (built without VCS information: go build or go install in a git clone records it)"
			}
			fmt.Fprintf(g.stdout, "twin %s, revision %s%s, %s\n", v.Version, v.Revision, note, v.Go)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
