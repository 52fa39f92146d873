package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/streams"
)

func newStreamsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "streams",
		Short: "Apply or list the JetStream topology",
		Example: `  twin streams ls
  twin streams apply --stream-replicas 3`,
		Long: `The topology (eleven streams and the durable consumers of the components) is code in
package streams. "twin up" and "twin run" apply it at start; these commands do it against
the NATS server given by --nats.`,
	}
	var replicas int
	apply := &cobra.Command{
		Use:     "apply",
		Short:   "Create or update every stream and durable consumer (idempotent)",
		Example: `  twin streams apply --nats nats://nats:4222 --stream-replicas 3`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, err := g.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			topo := streams.DefaultTopology()
			topo.Replicas = replicas
			if err := topo.Apply(cmd.Context(), js); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "applied %d streams and %d consumers to %s\n", len(topo.Streams), len(topo.Consumers), nc.ConnectedUrlRedacted())
			return nil
		},
	}
	apply.Flags().IntVar(&replicas, "stream-replicas", 1, "replicas of every stream (3 on a NATS cluster)")

	var asJSON bool
	ls := &cobra.Command{
		Use:     "ls",
		Short:   "List the streams on the server with their limits and contents",
		Example: `  twin streams ls --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, err := g.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			var infos []*jetstream.StreamInfo
			list := js.ListStreams(cmd.Context())
			for info := range list.Info() {
				infos = append(infos, info)
			}
			if err := list.Err(); err != nil {
				return fmt.Errorf("list streams: %w", err)
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(infos)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STREAM\tSUBJECTS\tRETENTION\tMAX AGE\tMAX BYTES\tMAX MSG\tDEDUP\tREPLICAS\tMESSAGES\tBYTES")
			for _, i := range infos {
				c := i.Config
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", c.Name, strings.Join(c.Subjects, ","),
					c.Retention, age(c.MaxAge), humanBytes(uint64(max(c.MaxBytes, 0))), humanBytes(uint64(max(c.MaxMsgSize, 0))),
					c.Duplicates, c.Replicas, i.State.Msgs, humanBytes(i.State.Bytes))
			}
			return tw.Flush()
		},
	}
	ls.Flags().BoolVar(&asJSON, "json", false, "print the server's stream info as JSON")
	cmd.AddCommand(apply, ls)
	return cmd
}

func age(d time.Duration) string {
	switch {
	case d == 0:
		return "unlimited"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
