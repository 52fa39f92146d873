package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/crawler"
	"github.com/twin-llm/twin/consumers/crawler/fetch"
	"github.com/twin-llm/twin/consumers/crawler/github"
	"github.com/twin-llm/twin/consumers/crawler/local"
	"github.com/twin-llm/twin/consumers/crawler/web"
	"github.com/twin-llm/twin/consumers/writer"
	"github.com/twin-llm/twin/streams"
)

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

func runWarehouse(ctx context.Context, s *system, log zerolog.Logger, ready func()) error {
	store, err := s.warehouse(ctx)
	if err != nil {
		return err
	}
	ready()
	return s.runtime.RunBatch(ctx, streams.ConsumerWriter, writer.New(store), streams.Workers(1), streams.PullBatch(512))
}
