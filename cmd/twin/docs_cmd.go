package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

func newDocsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "docs",
		Short: "Look at what the warehouse holds",
		Long:  `List and show the documents in the warehouse of a running twin, through its gateway (--server).`,
		Example: `  twin docs ls
  twin docs get ab/apache-bench-length-errors`,
	}
	var author, collection, after string
	var limit int
	var asJSON bool
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List documents, newest first: id, author, collection, link, title, revision, size",
		Long: `List documents, newest first, a page of --limit at a time: it says how many of how many
it shows and the command that shows the next page (--after the cursor it prints).`,
		Example: `  twin docs ls --author "Simon Willison" --limit 20
  twin docs ls --after r1234
  twin docs ls --json | jq -r '.documents[].id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if author != "" {
				q.Set("author", author)
			}
			if collection != "" {
				q.Set("collection", collection)
			}
			if after != "" {
				q.Set("after", after)
			}
			q.Set("limit", strconv.Itoa(limit))
			var res gateway.DocList
			if err := g.getJSON(cmd.Context(), "/v1/docs?"+q.Encode(), &res); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, res)
			}
			if len(res.Documents) == 0 {
				if after != "" {
					fmt.Fprintf(g.stdout, "no documents after %s (of %d)\n", after, res.Total)
				} else {
					fmt.Fprintln(g.stdout, "no documents")
				}
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tAUTHOR\tCOLLECTION\tREV\tSIZE\tTITLE\tLINK")
			for _, d := range res.Documents {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.Author, d.Collection, d.Revision,
					humanBytes(uint64(d.Size)), oneLine(d.Title, 60), d.Link)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "\nshowing %d of %d", len(res.Documents), res.Total)
			if res.Next != "" {
				next := "twin docs ls"
				for _, f := range []struct{ name, value string }{{"author", author}, {"collection", collection}, {"limit", strconv.Itoa(limit)}} {
					if cmd.Flags().Changed(f.name) {
						next += " --" + f.name + " " + shellQuote(f.value)
					}
				}
				fmt.Fprintf(g.stdout, "; next page: %s --after %s", next, res.Next)
			}
			fmt.Fprintln(g.stdout)
			return nil
		},
	}
	ls.Flags().StringVar(&author, "author", "", "only this author's documents")
	ls.Flags().StringVar(&collection, "collection", "", "only articles, posts or repositories")
	ls.Flags().IntVar(&limit, "limit", 100, "documents a page (1 to 10000)")
	ls.Flags().StringVar(&after, "after", "", "show the page after this cursor (printed with the page before)")
	ls.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	get := &cobra.Command{
		Use:     "get ID",
		Short:   "Show one document with its content",
		Example: `  twin docs get ab/apache-bench-length-errors`,
		Args:    exactArgs(1, "the id of the document (twin docs ls lists them)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var d warehouse.Document
			if err := g.getJSON(cmd.Context(), "/v1/docs/"+url.PathEscape(args[0]), &d); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, d)
			}
			fmt.Fprintf(g.stdout, "id          %s\ncollection  %s\nauthor      %s (%s)\nplatform    %s\nlink        %s\ntitle       %s\nrevision    %d\nsize        %s\nupdated     %s\n",
				d.ID, d.Collection, d.Author, d.AuthorID, d.Platform, d.Link, d.Title, d.Revision,
				humanBytes(uint64(len(d.Content))), d.UpdatedAt.Format("2006-01-02 15:04:05"))
			if d.Deleted {
				fmt.Fprintln(g.stdout, "deleted     yes")
			}
			fmt.Fprintf(g.stdout, "\n%s\n", d.Content)
			return nil
		},
	}
	get.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	rm := &cobra.Command{
		Use:     "rm ID...",
		Short:   "Delete documents: they become tombstones and leave the search index",
		Example: `  twin docs rm ab/apache-bench-length-errors`,
		Args:    minArgs(1, "the id of a document to delete (twin docs ls lists them)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, id := range args {
				var res struct {
					Revision int64 `json:"revision"`
				}
				if err := g.deleteJSON(cmd.Context(), "/v1/docs/"+url.PathEscape(id), &res); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "deleted %s (revision %d)\n", id, res.Revision)
			}
			return nil
		},
	}
	cmd.AddCommand(ls, get, rm)
	return cmd
}

// shellQuote quotes s for a shell when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?;&|<>()[]{}#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func printJSON(g *globals, v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
