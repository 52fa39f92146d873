package main

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/models/registry"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

func newModelsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List, promote and roll back the model versions the trainer registered",
		Example: `  twin models ls
  twin models rollback --name reranker`,
		Long: `The model registry of a running twin, through its gateway (--server).

Every training job that succeeds registers a version (reranker or llm) as a
candidate; the evaluation gate promotes it when it beats the version in
service. "promote" serves a version by hand, "rollback" returns to the
version that served before (or to the built-in model). Serving processes
pick the change up while they run, without a restart.`,
	}
	var asJSON bool
	ls := &cobra.Command{
		Use:     "ls [NAME]",
		Short:   "List model versions, newest first: name, version, kind, state, metrics",
		Example: `  twin models ls reranker`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/v1/models"
			if len(args) == 1 {
				path += "?name=" + url.QueryEscape(args[0])
			}
			var res struct {
				Models []warehouse.ModelRecord `json:"models"`
			}
			if err := g.getJSON(cmd.Context(), path, &res); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, res)
			}
			if len(res.Models) == 0 {
				fmt.Fprintln(g.stdout, "no model versions yet: the built-in models serve")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tKIND\tSTATE\tPARENT\tREGISTERED\tMETRICS")
			for _, m := range res.Models {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Version, m.Kind, m.State, orDash(m.Parent),
					m.RegisteredAt.Local().Format("2006-01-02 15:04"), metricsLine(m.Metrics))
			}
			return tw.Flush()
		},
	}
	ls.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var name string
	promote := &cobra.Command{
		Use:     "promote VERSION",
		Short:   "Serve VERSION of the model (--name, default reranker)",
		Example: "  twin models promote 3\n  twin models promote 2 --name llm",
		Args:    exactArgs(1, "the version to serve (twin models ls lists them), e.g. twin models promote 3"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return changeModel(cmd, g, "/v1/models/promote", gateway.ModelRequest{Name: name, Version: args[0]}, asJSON)
		},
	}
	rollback := &cobra.Command{
		Use:     "rollback",
		Short:   "Return the model (--name, default reranker) to the version that served before",
		Example: `  twin models rollback --name reranker`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return changeModel(cmd, g, "/v1/models/rollback", gateway.ModelRequest{Name: name}, asJSON)
		},
	}
	for _, c := range []*cobra.Command{promote, rollback} {
		c.Flags().StringVar(&name, "name", registry.Reranker, "the model: reranker or llm")
		c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	}
	cmd.AddCommand(ls, promote, rollback)
	return cmd
}

func changeModel(cmd *cobra.Command, g *globals, path string, req gateway.ModelRequest, asJSON bool) error {
	var res struct {
		Serving warehouse.ModelRecord `json:"serving"`
	}
	if err := g.postJSON(cmd.Context(), path, req, &res); err != nil {
		return err
	}
	if asJSON {
		return printJSON(g, res)
	}
	if res.Serving.Version == "" {
		fmt.Fprintf(g.stdout, "%s: the built-in model serves\n", req.Name)
		return nil
	}
	fmt.Fprintf(g.stdout, "%s: version %s serves (%s)\n", res.Serving.Name, res.Serving.Version, metricsLine(res.Serving.Metrics))
	return nil
}

// metricsLine prints metrics sorted by name.
func metricsLine(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%.4g", k, m[k])
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
