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
		Short: "Print the build's version, revision and Go version",
		Example: `  twin version
  twin version --json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := metrics.ReadVersion()
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(v)
			}
			dirty := ""
			if v.Modified {
				dirty = " (modified)"
			}
			fmt.Fprintf(g.stdout, "twin %s, revision %s%s, %s\n", v.Version, v.Revision, dirty, v.Go)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
