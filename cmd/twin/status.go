package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/streams"
)

func newStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what a running twin holds: documents, points, streams and consumer lag",
		Long: `Show how many documents the warehouse holds and how many points (chunks) the vector
store, then every stream (messages, bytes) and its consumers: pending (not yet delivered),
ack pending (delivered, not yet acked), redelivered and last activity.

It asks the gateway (--server); when the gateway cannot be reached it reads the streams
from NATS (--nats) directly, and the counts are unknown.`,
		Example: `  twin status
  twin status --json | jq '.streams[] | select(.name=="CRAWL")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st gateway.Status
			httpErr := g.getJSON(cmd.Context(), "/v1/status", &st)
			if httpErr != nil {
				nc, js, err := g.connectNATS()
				if err != nil {
					return fmt.Errorf("%w; and %w", httpErr, err)
				}
				defer nc.Close()
				if st.Status, err = streams.ReadStatus(cmd.Context(), js); err != nil {
					return err
				}
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			fmt.Fprintf(g.stdout, "documents  %s\npoints     %s\n\n", count(st.Documents), count(st.Points))
			printStatus(g.stdout, st.Status, time.Now())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

// count is n, or why it is unknown.
func count(n *int64) string {
	if n == nil {
		return "unknown (the gateway did not say)"
	}
	return fmt.Sprint(*n)
}

func printStatus(w io.Writer, st streams.Status, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tCONSUMER\tMESSAGES\tBYTES\tPENDING\tACK PENDING\tREDELIVERED\tLAST ACTIVE")
	for _, s := range st.Streams {
		fmt.Fprintf(tw, "%s\t\t%d\t%s\t\t\t\t\n", s.Name, s.Messages, humanBytes(s.Bytes))
		for _, c := range s.Consumers {
			last := "never"
			if c.LastActive != nil {
				last = now.Sub(*c.LastActive).Round(time.Second).String() + " ago"
			}
			fmt.Fprintf(tw, "\t%s\t\t\t%d\t%d\t%d\t%s\n", c.Name, c.Pending, c.AckPending, c.Redelivered, last)
		}
	}
	tw.Flush()
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
