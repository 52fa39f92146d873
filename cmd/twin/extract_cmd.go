package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/consumers/crawler/extract"
)

func newExtractCmd(g *globals) *cobra.Command {
	var asJSON bool
	var c crawlFlags
	cmd := &cobra.Command{
		Use:   "extract FILE.html|URL",
		Short: "Print what the crawler would store for a page",
		Long: `Extract the main content and metadata of a page the way the article crawler does: from a
local HTML file, or from a URL fetched with the crawler's own client (robots.txt, size cap,
timeouts and the private-address guard included).`,
		Example: `  twin extract page.html
  twin extract https://example.com/post --json`,
		Args: exactArgs(1, "the HTML file or URL to extract, e.g. twin extract page.html"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			page, pageURL, contentType, err := readPage(ctx, args[0], c)
			if err != nil {
				return err
			}
			res, err := extract.Extract(ctx, page, extract.Options{URL: pageURL, ContentType: contentType})
			if err != nil {
				return err
			}
			if asJSON {
				out := struct {
					Title    string `json:"title"`
					Author   string `json:"author"`
					Date     string `json:"date"`
					Language string `json:"language"`
					Text     string `json:"text"`
				}{res.Title, res.Author, "", res.Language, res.Text}
				if !res.Date.IsZero() {
					out.Date = res.Date.Format(time.DateOnly)
				}
				return printJSON(g, out)
			}
			fmt.Fprintf(g.stdout, "title     %s\nauthor    %s\n", res.Title, res.Author)
			if !res.Date.IsZero() {
				fmt.Fprintf(g.stdout, "date      %s\n", res.Date.Format(time.DateOnly))
			}
			fmt.Fprintf(g.stdout, "language  %s\nsite      %s\n\n%s\n", res.Language, res.SiteName, res.Text)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"title","author","date","language","text"}`)
	cmd.Flags().BoolVar(&c.allowPrivate, "crawl-allow-private", false, "allow loopback, private and link-local addresses")
	return cmd
}

// readPage reads a local file, or fetches a URL with the crawler's client.
func readPage(ctx context.Context, arg string, c crawlFlags) (page []byte, pageURL, contentType string, err error) {
	if !strings.HasPrefix(arg, "http://") && !strings.HasPrefix(arg, "https://") {
		page, err = os.ReadFile(arg)
		return page, "", "", err
	}
	c.timeout = 30 * time.Second
	c.maxBody = 10 << 20
	c.rate = 1
	resp, err := newFetcher(c).Get(ctx, arg)
	if err != nil {
		return nil, "", "", err
	}
	return resp.Body, resp.URL, resp.ContentType, nil
}
