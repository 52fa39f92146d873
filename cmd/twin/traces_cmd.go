package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/schemas"
)

func newTracesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "traces",
		Short: "Read the prompt traces: how each chat answer was made",
		Example: `  twin traces ls --limit 20
  twin traces show TRACE-ID`,
		Long: `Read the traces the monitor stores, through the gateway (--server): every chat request's
steps (input guard, self-query, expansion, search, rerank, prompt, generation, output guard)
with their latency, inputs, outputs and token counts, and the ratings the answer got.`,
	}
	cmd.AddCommand(newTracesLsCmd(g), newTracesShowCmd(g))
	return cmd
}

func newTracesLsCmd(g *globals) *cobra.Command {
	var author, before string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List traces, newest first",
		Example: `  twin traces ls --author "Simon Willison" --limit 10
  twin traces ls --before 1733527201123:0f3c...   # the next page, as the last line says`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			if author != "" {
				q.Set("author", author)
			}
			if before != "" {
				q.Set("before", before)
			}
			var list gateway.TraceList
			if err := g.getJSON(cmd.Context(), "/v1/traces?"+q.Encode(), &list); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, list)
			}
			printTraceList(g.stdout, list)
			return nil
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "only this author's traces")
	cmd.Flags().IntVar(&limit, "limit", gateway.DefaultTraceListLimit, fmt.Sprintf("traces per page (at most %d)", gateway.MaxTraceListLimit))
	cmd.Flags().StringVar(&before, "before", "", "the page after this cursor (printed at the end of a full page)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"traces":[...],"next":"..."}`)
	return cmd
}

func newTracesShowCmd(g *globals) *cobra.Command {
	var asJSON, full bool
	cmd := &cobra.Command{
		Use:     "show ID",
		Short:   "Show one trace (by trace id or chat request id), step by step",
		Example: `  twin traces show 0f3c2a...`,
		Args:    exactArgs(1, "the trace or chat request id (twin traces ls lists them)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rec gateway.TraceDetail
			if err := g.getJSON(cmd.Context(), "/v1/traces/"+url.PathEscape(args[0]), &rec); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, rec)
			}
			width := 300
			if full {
				width = 0
			}
			printTrace(g.stdout, rec, width)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the stored trace as JSON, with its ratings")
	cmd.Flags().BoolVar(&full, "full", false, "print inputs and outputs whole (by default each is cut at 300 characters)")
	return cmd
}

func printTraceList(w io.Writer, list gateway.TraceList) {
	if len(list.Traces) == 0 {
		fmt.Fprintln(w, "no traces")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tAUTHOR\tSTEPS\tTOTAL\tRATING\tTRACE\tQUESTION")
	for _, s := range list.Traces {
		steps := strconv.Itoa(s.Steps)
		if s.Errors > 0 {
			steps += fmt.Sprintf(" (%d failed)", s.Errors)
		}
		rating := ratingWord(s.Rating)
		if len(s.Events) > 0 {
			rating = strings.TrimSpace(rating + " " + strings.Join(s.Events, ","))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.CreatedAt.Local().Format(time.DateTime), orDash(safeText(s.Author, 30)),
			steps, millis(s.TotalMS), orDash(rating), s.TraceID, safeText(s.Query, 80))
	}
	tw.Flush()
	if list.Next != "" {
		fmt.Fprintf(w, "more: twin traces ls --before %s\n", list.Next)
	}
}

// printTrace writes a trace for a person: the request, a table of the
// steps, then each step's input and output (cut at width runes; 0: whole),
// the events, the ratings and the judgments of its sources.
func printTrace(w io.Writer, rec gateway.TraceDetail, width int) {
	var t schemas.Trace
	parsed := json.Unmarshal(rec.Trace, &t) == nil
	fmt.Fprintf(w, "trace %s  request %s  author %s  %s\n", rec.TraceID, orDash(rec.RequestID), orDash(safeText(rec.Author, 80)),
		rec.CreatedAt.Local().Format(time.RFC3339))
	if !parsed {
		fmt.Fprintf(w, "(the stored trace is not a trace/v1 body)\n%s\n", safeText(string(rec.Trace), width))
		return
	}
	fmt.Fprintf(w, "question: %s\n", safeText(t.Query, width))
	fmt.Fprintf(w, "total %s, first token %s\n\n", millis(t.TotalMS), millis(t.FirstTokenMS))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSTEP\tLATENCY\tTOKENS IN/OUT\tMODEL\tERROR")
	for i, s := range t.Steps {
		tokens := ""
		if s.TokensIn > 0 || s.TokensOut > 0 {
			tokens = fmt.Sprintf("%d/%d", s.TokensIn, s.TokensOut)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", i+1, safeText(s.Name, 40), millis(s.LatencyMS), tokens, safeText(s.Model, 40), safeText(s.Error, 60))
	}
	tw.Flush()
	for i, s := range t.Steps {
		fmt.Fprintf(w, "\n%d. %s (%s)\n", i+1, safeText(s.Name, 40), millis(s.LatencyMS))
		if s.Input != "" {
			fmt.Fprintf(w, "   input:  %s\n", indent(safeText(s.Input, width)))
		}
		if len(s.Output) > 0 {
			fmt.Fprintf(w, "   output: %s\n", indent(safeText(outputText(s.Output, width == 0), width)))
		}
		if s.Error != "" {
			fmt.Fprintf(w, "   error:  %s\n", indent(safeText(s.Error, width)))
		}
	}
	if len(t.Events) > 0 {
		fmt.Fprintln(w, "\nevents:")
		for _, e := range t.Events {
			fmt.Fprintf(w, "  %s  %s  %s\n", safeText(e.Kind, 40), orDash(safeText(e.Step, 40)), safeText(e.Detail, width))
		}
	}
	fmt.Fprintln(w, "\nfeedback:")
	if len(rec.Feedback) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, fb := range rec.Feedback {
		when := "-"
		if !fb.CreatedAt.IsZero() {
			when = fb.CreatedAt.Local().Format(time.DateTime)
		}
		line := fmt.Sprintf("  %s  %s", when, ratingWord(fb.Rating))
		if fb.Comment != "" {
			line += "  " + strconv.Quote(safeText(fb.Comment, width))
		}
		fmt.Fprintln(w, line)
	}
	if len(rec.Judgments) > 0 {
		fmt.Fprintln(w, "\nsources judged:")
		for _, j := range rec.Judgments {
			verdict := "not helpful"
			if j.Grade > 0 {
				verdict = "helpful"
			}
			fmt.Fprintf(w, "  %s  %s  %s\n", j.CreatedAt.Local().Format(time.DateTime), safeText(j.DocumentID, 80), verdict)
		}
	}
}

// outputText is a step's output as a person reads it: a JSON string as its
// text, anything else as JSON, compact or (pretty) indented.
func outputText(raw json.RawMessage, pretty bool) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	var err error
	if pretty {
		err = json.Indent(&b, raw, "", "  ")
	} else {
		err = json.Compact(&b, raw)
	}
	if err != nil {
		return string(raw)
	}
	return b.String()
}

// safeText cuts s at width runes (0: no cut) and replaces the control
// characters a trace may carry from crawled text or a model (an escape
// sequence would drive the terminal) with U+FFFD; line breaks and tabs
// stay.
func safeText(s string, width int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return '\uFFFD'
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if r := []rune(s); width > 0 && len(r) > width {
		return string(r[:width-1]) + "…"
	}
	return s
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n           ") }

func millis(ms float64) string {
	switch {
	case ms <= 0:
		return "-"
	case ms < 1:
		return strconv.FormatFloat(ms, 'f', 3, 64) + " ms"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
}

func ratingWord(r int) string {
	switch r {
	case schemas.RatingUp:
		return "up"
	case schemas.RatingDown:
		return "down"
	}
	return ""
}
