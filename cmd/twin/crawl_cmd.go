package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/producers/crawl"
	"github.com/twin-llm/twin/producers/progress"
)

func newCrawlCmd(g *globals) *cobra.Command {
	var author string
	var wait, refresh bool
	var wo waitOptions
	cmd := &cobra.Command{
		Use:   "crawl URL...",
		Short: "Queue URLs for crawling, optionally waiting until they are stored",
		Long: `Queue URLs on twin.crawl.requests through the gateway (--server). Each URL is
normalized (scheme and host case, default ports, fragments, tracking parameters) and
validated; the accepted and rejected ones are printed, each rejection with its reason. The
same URL queued again within 10 minutes is crawled once.

Articles and blog pages, Medium articles and profiles, Substack posts and archives, GitHub
repositories and (with --crawl-local on the server) local files are crawled; login-walled
sites such as LinkedIn are refused at once, before anything is queued.

With --wait it follows every URL (through --nats) until its documents are searchable, or it
failed, printing each step, and exits non-zero if any failed. It rides out a restart of NATS
or twin (reconnecting as long as it takes), says which component is not consuming when nothing
moves for --warn-after, and gives up after --timeout, saying what is still pending.`,
		Example: `  twin crawl https://simonwillison.net/2024/Dec/31/llms-in-2024/ --author "Simon Willison" --wait
  twin crawl https://github.com/simonw/llm https://ann.substack.com/archive`,
		Args: minArgs(1, "the URL of a page to crawl, e.g. twin crawl https://simonwillison.net/"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var tracker *progress.CrawlTracker
			var js jetstream.JetStream
			if wait {
				nc, jsc, err := g.connectNATS()
				if err != nil {
					return err
				}
				defer nc.Close()
				js = jsc
				if tracker, err = progress.NewCrawlTracker(ctx, js); err != nil {
					return err
				}
			}
			var res crawl.Result
			err := g.postJSON(ctx, "/v1/crawl", gateway.CrawlRequest{URLs: args, Author: author, Refresh: refresh}, &res)
			var herr *httpError
			if errors.As(err, &herr) && herr.status == http.StatusBadRequest && len(res.Rejected) > 0 {
				err = nil // every URL was rejected: say why, one by one
			}
			if err != nil {
				return err
			}
			for _, a := range res.Accepted {
				note := ""
				if a.Duplicate {
					note = " (already queued in the last 10 minutes)"
				}
				fmt.Fprintf(g.stdout, "queued    %s%s\n", a.Normalized, note)
			}
			for _, r := range res.Rejected {
				fmt.Fprintf(g.stdout, "rejected  %s: %s\n", r.URL, r.Reason)
			}
			if !wait || len(res.Accepted) == 0 {
				if len(res.Accepted) == 0 {
					return errSilent
				}
				return nil
			}
			wctx, cancel := wo.bound(ctx)
			defer cancel()
			m := newMeter(g.stderr, "crawled", int64(len(res.Accepted)), false)
			defer m.Done()
			out := lineWriter{m: m, w: g.stdout}
			watchCtx, stopWatch := context.WithCancel(wctx)
			defer stopWatch()
			go progress.Watch(watchCtx, js, progress.CrawlWatches(), wo.warnAfter, out)
			r := &progress.Retrier{Out: out}
			failed, done := 0, 0
			var stored []string
			err = tracker.Wait(wctx, res.Accepted, 200*time.Millisecond, func(ev progress.CrawlEvent) {
				switch ev.State {
				case progress.Crawled:
					fmt.Fprintf(out, "crawled   %s (%s)\n", ev.URL, plural(ev.Documents, "document"))
				case progress.Stored:
					done++
					stored = append(stored, ev.DocumentIDs...)
					fmt.Fprintf(out, "stored    %s (%s)  %s\n", ev.URL, plural(ev.Documents, "document"), crawlTally(done, failed, len(res.Accepted)))
				case progress.Failed:
					failed++
					fmt.Fprintf(out, "failed    %s: %s  %s\n", ev.URL, ev.Reason, crawlTally(done, failed, len(res.Accepted)))
				}
				m.Set(int64(done+failed), "")
			}, r)
			if errors.Is(err, context.DeadlineExceeded) {
				return progress.GaveUp(wctx, fmt.Errorf("%d of %d URLs crawled and stored or failed: %w", done+failed, len(res.Accepted), err))
			}
			if err != nil {
				return err
			}
			m.Done()
			if len(stored) > 0 {
				last := -1
				sm := newMeter(g.stderr, "searchable", int64(len(stored)), false)
				defer sm.Done()
				out := lineWriter{m: sm, w: g.stdout}
				err := progress.Searchable(wctx, js, stored, g.docRevision, func(n, total int) {
					sm.Set(int64(n), "")
					if n != last {
						last = n
						fmt.Fprintf(out, "searchable %d/%d documents\n", n, total)
					}
				}, &progress.Retrier{Out: out})
				if err != nil {
					return progress.GaveUp(wctx, fmt.Errorf("waiting until searchable: %w", err))
				}
			}
			if failed > 0 || len(res.Rejected) > 0 {
				return fmt.Errorf("%d of %d URLs failed", failed+len(res.Rejected), len(args))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "the author the pages are by (the twin's person)")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "crawl again even if queued within the last 10 minutes (a page that just changed)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until every URL is searchable or failed; exit non-zero if any failed")
	wo.flags(cmd, 10*time.Minute)
	return cmd
}

// crawlTally says where a --wait stands after a URL is stored or failed,
// in words: a bare [2/3] after a failure read as "2 of 3 failed".
func crawlTally(stored, failed, total int) string {
	t := fmt.Sprintf("[%d of %d URLs done", stored+failed, total)
	if failed > 0 {
		t += fmt.Sprintf(": %d stored, %d failed", stored, failed)
	}
	return t + "]"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
