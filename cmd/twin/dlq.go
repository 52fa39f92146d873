package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/streams"
)

func newDLQCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, retry or purge dead letters",
		Example: `  twin dlq ls
  twin dlq retry --all`,
		Long: `A consumer dead-letters a message it gave up on (a body that does not decode or
validate, a permanent error, or too many failed deliveries) to twin.dlq.<consumer>, with
the reason, the original subject, headers, stream and sequence. These commands manage
them through NATS (--nats).`,
	}
	var consumer string
	var asJSON bool
	ls := &cobra.Command{
		Use:     "ls",
		Short:   "List dead letters with their reasons",
		Example: `  twin dlq ls --consumer warehouse`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, err := g.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			entries, err := streams.NewDLQ(js).List(cmd.Context(), consumer)
			if err != nil {
				return err
			}
			if asJSON {
				if entries == nil {
					entries = []streams.DeadLetterEntry{}
				}
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			}
			if len(entries) == 0 {
				fmt.Fprintln(g.stdout, "no dead letters")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tCONSUMER\tREASON\tSUBJECT\tFROM\tDELIVERIES\tFAILED\tERROR")
			for _, e := range entries {
				l := e.Letter
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s:%d\t%d\t%s\t%s\n", e.Seq, l.Consumer, l.Reason, l.Subject,
					l.Stream, l.Sequence, l.Deliveries, l.FailedAt.Format(time.DateTime), oneLine(l.Error, 100))
			}
			return tw.Flush()
		},
	}
	ls.Flags().StringVar(&consumer, "consumer", "", "only this consumer's dead letters")
	ls.Flags().BoolVar(&asJSON, "json", false, "print JSON (bodies base64)")

	var all bool
	retry := &cobra.Command{
		Use:   "retry [SEQ...]",
		Short: "Republish dead letters to their original subjects",
		Long: `Republish dead letters, with their original headers, to the subjects they came from,
and remove each from the DLQ once the republish is stored. Name them by their DLQ
sequence (see "twin dlq ls"), or take every letter of --consumer, or --all.`,
		Example: `  twin dlq retry 12 13
  twin dlq retry --consumer crawler
  twin dlq retry --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			seqs, err := parseSeqs(args)
			if err != nil {
				return err
			}
			if len(seqs) == 0 && consumer == "" && !all {
				return errors.New("name the dead letters to retry: SEQ..., --consumer NAME or --all")
			}
			nc, js, err := g.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			n, err := streams.NewDLQ(js).Retry(cmd.Context(), consumer, seqs...)
			fmt.Fprintf(g.stdout, "retried %d dead letters\n", n)
			return err
		},
	}
	retry.Flags().StringVar(&consumer, "consumer", "", "retry this consumer's dead letters")
	retry.Flags().BoolVar(&all, "all", false, "retry every dead letter")

	purge := &cobra.Command{
		Use:     "purge",
		Short:   "Drop dead letters for good",
		Example: "  twin dlq purge --consumer crawler\n  twin dlq purge --all",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if consumer == "" && !all {
				return errors.New("name the dead letters to drop: --consumer NAME or --all")
			}
			nc, js, err := g.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			n, err := streams.NewDLQ(js).Purge(cmd.Context(), consumer)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "purged %d dead letters\n", n)
			return nil
		},
	}
	purge.Flags().StringVar(&consumer, "consumer", "", "drop this consumer's dead letters")
	purge.Flags().BoolVar(&all, "all", false, "drop every dead letter")

	cmd.AddCommand(ls, retry, purge)
	return cmd
}

func parseSeqs(args []string) ([]uint64, error) {
	seqs := make([]uint64, 0, len(args))
	for _, a := range args {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%q is not a DLQ sequence number", a)
		}
		seqs = append(seqs, n)
	}
	return seqs, nil
}

// oneLine shortens s to its first line, at most n runes.
func oneLine(s string, n int) string {
	r := []rune(s)
	for i, c := range r {
		if c == '\n' {
			r = r[:i]
			break
		}
	}
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}
