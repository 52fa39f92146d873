package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/ops"
	"github.com/twin-llm/twin/streams"
)

func newStatusCmd(g *globals) *cobra.Command {
	var (
		asJSON   bool
		watch    bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what a running twin holds and does: documents, points, lag, freshness, training",
		Long: `Show how many documents the warehouse holds and how many points (chunks) the vector
store, then every stream (messages, bytes) and its consumers: pending (not yet delivered),
ack pending (delivered, not yet acked), redelivered and last activity; then the dead
letters, how fresh the index is (the last 256 indexed documents) and the newest training job
(--json has the 10 newest; twin train ls lists them all).

With --watch it redraws every --interval and adds each stream's and consumer's rate
(messages a second since the last draw), until Ctrl-C.

It asks the gateway (--server); when the gateway cannot be reached it reads the rest from
NATS (--nats) directly, and the counts are unknown.`,
		Example: `  twin status
  twin status --watch
  twin status --json | jq '.streams[] | select(.name=="CRAWL")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON && watch {
				return fmt.Errorf("--json and --watch do not go together: use one")
			}
			if watch && interval < 100*time.Millisecond {
				return fmt.Errorf("--interval %v is too short: want at least 100ms", interval)
			}
			read := func(ctx context.Context) (gateway.Status, error) { return g.readStatus(ctx) }
			if watch {
				return watchStatus(cmd.Context(), g.stdout, read, interval, -1)
			}
			st, err := read(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printStatus(g.stdout, st, nil, time.Now())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "redraw until Ctrl-C, with rates")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "time between redraws with --watch")
	return cmd
}

// readStatus asks the gateway, else NATS (which cannot count documents
// and points).
func (g *globals) readStatus(ctx context.Context) (gateway.Status, error) {
	var st gateway.Status
	httpErr := g.getJSON(ctx, "/v1/status", &st)
	if httpErr == nil {
		return st, nil
	}
	nc, js, err := g.connectNATS()
	if err != nil {
		return gateway.Status{}, fmt.Errorf("%w; and %w", httpErr, err)
	}
	defer nc.Close()
	st.Status, err = ops.Read(ctx, js)
	return st, err
}

// frame is one reading, kept to compute the rates of the next.
type frame struct {
	at time.Time
	st gateway.Status
}

// watchStatus draws the status every interval until ctx ends (or frames
// have been drawn, when frames >= 0). On a terminal each draw replaces the
// last; elsewhere draws follow each other, separated by a blank line.
func watchStatus(ctx context.Context, w io.Writer, read func(context.Context) (gateway.Status, error), interval time.Duration, frames int) error {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd())
	}
	var prev *frame
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 0; frames < 0 || n < frames; n++ {
		if n > 0 {
			select {
			case <-ctx.Done():
				return nil // Ctrl-C ends a watch; it is not a failure
			case <-tick.C:
			}
		}
		st, err := read(ctx)
		now := time.Now()
		var b strings.Builder
		if err != nil {
			// A watch outlives a restart of what it watches: say so and
			// keep the last figures' rates for when it is back.
			fmt.Fprintf(&b, "%s  cannot read the status: %v\n", now.Format(time.TimeOnly), err)
		} else {
			fmt.Fprintf(&b, "%s  every %v, Ctrl-C to stop\n\n", now.Format(time.TimeOnly), interval)
			printStatus(&b, st, prev, now)
			prev = &frame{at: now, st: st}
		}
		if tty {
			fmt.Fprint(w, "\x1b[H\x1b[2J") // home, clear
		} else if n > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprint(w, b.String())
	}
	return nil
}

// printStatus writes the counts and the table; with prev, each row gets
// its rate since.
func printStatus(w io.Writer, st gateway.Status, prev *frame, now time.Time) {
	fmt.Fprintf(w, "documents  %s\npoints     %s\n\n", count(st.Documents), count(st.Points))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rates := prev != nil && now.After(prev.at)
	header := "STREAM\tCONSUMER\tMESSAGES\tBYTES\tPENDING\tACK PENDING\tREDELIVERED\tLAST ACTIVE"
	if rates {
		header += "\tRATE"
	}
	fmt.Fprintln(tw, header)
	var dlq uint64
	for _, s := range st.Streams {
		if s.Name == streams.StreamDLQ {
			dlq = s.Messages
		}
		fmt.Fprintf(tw, "%s\t\t%d\t%s\t\t\t\t", s.Name, s.Messages, humanBytes(s.Bytes))
		if rates {
			fmt.Fprintf(tw, "\t%s", rate(s.LastSeq, prevStream(prev, s.Name).LastSeq, now.Sub(prev.at)))
		}
		fmt.Fprintln(tw)
		for _, c := range s.Consumers {
			last := "never"
			if c.LastActive != nil {
				last = now.Sub(*c.LastActive).Round(time.Second).String() + " ago"
			}
			fmt.Fprintf(tw, "\t%s\t\t\t%d\t%d\t%d\t%s", c.Name, c.Pending, c.AckPending, c.Redelivered, last)
			if rates {
				fmt.Fprintf(tw, "\t%s", rate(c.Acked, prevConsumer(prev, s.Name, c.Name).Acked, now.Sub(prev.at)))
			}
			fmt.Fprintln(tw)
		}
	}
	tw.Flush()

	fmt.Fprintln(w)
	if dlq > 0 {
		fmt.Fprintf(w, "dead letters: %d (twin dlq ls)\n", dlq)
	} else {
		fmt.Fprintln(w, "dead letters: none")
	}
	if f := st.Freshness; f != nil {
		fmt.Fprintf(w, "freshness:    p50 %s, p99 %s over the last %d indexed documents; last indexed %s ago\n",
			seconds(f.P50Seconds), seconds(f.P99Seconds), f.Samples, now.Sub(f.LastIndexed).Round(time.Second))
	} else {
		fmt.Fprintln(w, "freshness:    nothing indexed yet")
	}
	if len(st.Training) == 0 {
		fmt.Fprintln(w, "training:     no jobs yet")
		return
	}
	j := st.Training[0]
	fmt.Fprintf(w, "training:     newest job %s (%s, %s) %s, triggered %s ago\n", orDash(j.Status.JobID), j.Trigger.Kind,
		orDash(j.Trigger.Cause), orDash(j.Status.State), now.Sub(j.Trigger.CreatedAt).Round(time.Second))
}

func count(n *int64) string {
	if n == nil {
		return "unknown (the gateway did not say)"
	}
	return fmt.Sprint(*n)
}

func prevStream(prev *frame, name string) streams.StreamStatus {
	for _, s := range prev.st.Streams {
		if s.Name == name {
			return s
		}
	}
	return streams.StreamStatus{}
}

func prevConsumer(prev *frame, stream, name string) streams.ConsumerStatus {
	for _, c := range prevStream(prev, stream).Consumers {
		if c.Name == name {
			return c
		}
	}
	return streams.ConsumerStatus{}
}

// rate is the change from before to now over d, per second; a counter
// that went back (a recreated stream or consumer) has no rate.
func rate(now, before uint64, d time.Duration) string {
	if now < before || d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f/s", float64(now-before)/d.Seconds())
}

func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
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
