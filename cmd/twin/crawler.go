package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/twin-llm/twin/consumers/crawler"
	"github.com/twin-llm/twin/consumers/crawler/fetch"
	"github.com/twin-llm/twin/consumers/crawler/github"
	"github.com/twin-llm/twin/consumers/crawler/local"
	"github.com/twin-llm/twin/consumers/crawler/web"
	"github.com/twin-llm/twin/internal/config"
	"github.com/twin-llm/twin/streams"
)

// crawlFlags configure the crawler and what the gateway accepts.
type crawlFlags struct {
	allowPrivate bool
	local        bool
	localRoots   []string
	workers      int
	rate         float64
	maxBody      config.Bytes
	timeout      time.Duration
	userAgent    string
}

func addCrawlFlags(fl *pflag.FlagSet, c *crawlFlags) {
	fl.BoolVar(&c.allowPrivate, "crawl-allow-private", false, "let the crawler reach loopback, private and link-local addresses (tests, intranets)")
	fl.BoolVar(&c.local, "crawl-local", false, "accept file:// URLs and local paths")
	fl.StringSliceVar(&c.localRoots, "crawl-local-root", nil, "with --crawl-local: only files under these directories")
	fl.IntVar(&c.workers, "crawl-workers", 4, "pages crawled at once by this process")
	fl.Float64Var(&c.rate, "crawl-rate", 1, "requests per second to one host")
	c.maxBody = 10 << 20
	fl.Var(&c.maxBody, "crawl-max-body", "largest page the crawler reads")
	fl.DurationVar(&c.timeout, "crawl-timeout", 30*time.Second, "total time for one HTTP request of the crawler")
	fl.StringVar(&c.userAgent, "crawl-user-agent", "", "User-Agent of the crawler (default names twin and its version)")

}

// newFetcher is the crawler's HTTP client from the crawl flags.
func newFetcher(c crawlFlags) *fetch.Fetcher {
	return fetch.New(fetch.Config{
		UserAgent:    c.userAgent,
		AllowPrivate: c.allowPrivate,
		Timeout:      c.timeout,
		MaxBodyBytes: int64(c.maxBody),
		PerHostRate:  c.rate,
	})
}

// newCrawler assembles the crawler with every source, most specific first.
func newCrawler(s *system, log zerolog.Logger) *crawler.Crawler {
	f := newFetcher(s.flags.crawl)
	return crawler.New(crawler.Config{
		Sources: []crawler.Source{
			web.Walled{},
			// A repository is one message: its text must fit DOCS's 4 MiB.
			github.New(github.Config{MaxRepoBytes: 3 << 20}),
			local.New(local.Config{Enabled: s.flags.crawl.local, Roots: s.flags.crawl.localRoots}),
			web.NewMedium(f),
			web.NewSubstack(f, 0),
			web.NewPage(f),
		},
		Publisher:  s.pub,
		AllowLocal: s.flags.crawl.local,
		Log:        log,
		Metrics:    crawler.NewMetrics(s.reg),
	})
}

func runCrawler(ctx context.Context, s *system, log zerolog.Logger, ready func()) error {
	c := newCrawler(s, log)
	ready()
	workers := max(s.flags.crawl.workers, 1)
	// A page takes a while: ask for no more than the workers can start soon.
	return s.runtime.Run(ctx, streams.ConsumerCrawler, c.Handler(), streams.Workers(workers), streams.PullBatch(workers))
}
