// Package crawler is the crawler consumer: it takes crawl requests from
// twin.crawl.requests, picks a source by URL, fetches and extracts the
// documents politely and safely, and publishes them to
// twin.docs.crawled.<kind>, where the warehouse writer takes them.
package crawler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/crawler/fetch"
	"github.com/twin-llm/twin/internal/urlnorm"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Source crawls the URLs it matches into documents. Each platform is one.
type Source interface {
	Name() string
	// Match reports whether the source handles u (already normalized).
	Match(u *url.URL) bool
	// Crawl returns the documents at rawURL; one for a page, several for an
	// archive or a feed. A failure no retry can fix is a
	// streams.Permanent one (errors.Is streams.ErrPermanent).
	Crawl(ctx context.Context, rawURL, author string) ([]schemas.CrawledDocument, error)
}

// Crawler is the consumer.
type Crawler struct {
	sources    []Source
	pub        *streams.Publisher
	allowLocal bool
	log        zerolog.Logger
	metrics    *Metrics
}

// Config assembles a crawler.
type Config struct {
	// Sources in order of preference: the first that matches crawls. The
	// last is usually the generic web article source, matching any URL.
	Sources    []Source
	Publisher  *streams.Publisher
	AllowLocal bool
	Log        zerolog.Logger
	Metrics    *Metrics
}

// New returns a crawler.
func New(cfg Config) *Crawler {
	m := cfg.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Crawler{sources: cfg.Sources, pub: cfg.Publisher, allowLocal: cfg.AllowLocal,
		log: cfg.Log, metrics: m}
}

// Metrics are the crawler's Prometheus metrics.
type Metrics struct {
	crawls *prometheus.CounterVec // source, outcome
	docs   *prometheus.CounterVec // source, kind
	took   *prometheus.HistogramVec
}

// NewMetrics registers the crawler metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		crawls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twin_crawl_requests_total",
			Help: "Crawl requests handled, by source and outcome (ok, refused, retry).",
		}, []string{"source", "outcome"}),
		docs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twin_crawl_documents_total",
			Help: "Documents crawled and published, by source and kind.",
		}, []string{"source", "kind"}),
		took: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "twin_crawl_seconds",
			Help:    "Time to crawl one request (fetch, extract, publish), by source.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}, []string{"source"}),
	}
	if reg != nil {
		reg.MustRegister(m.crawls, m.docs, m.took)
	}
	return m
}

// Handler is the crawler as a streams handler.
func (c *Crawler) Handler() streams.Handler {
	return streams.Decoded(func(ctx context.Context, m *streams.Msg, req *schemas.CrawlRequest) error {
		return c.crawl(ctx, req, m.Sequence)
	})
}

// Crawl crawls one request and publishes its documents. It returns nil
// only once every document is stored in the DOCS stream.
func (c *Crawler) Crawl(ctx context.Context, req *schemas.CrawlRequest) error {
	return c.crawl(ctx, req, 0)
}

// crawl is Crawl for the request stored at sequence seq of the CRAWL
// stream (0 when unknown).
func (c *Crawler) crawl(ctx context.Context, req *schemas.CrawlRequest, seq uint64) error {
	norm, err := urlnorm.Normalize(req.URL, urlnorm.Options{AllowLocal: c.allowLocal})
	if err != nil {
		return streams.Permanent(err)
	}
	u, err := url.Parse(norm)
	if err != nil {
		return streams.Permanent(err)
	}
	src := c.pick(u)
	if src == nil {
		return streams.Permanent(fmt.Errorf("no crawler handles %s", norm))
	}
	log := c.log.With().Str("url", norm).Str("source", src.Name()).Logger()
	start := time.Now()
	docs, err := src.Crawl(ctx, norm, req.Author)
	c.metrics.took.WithLabelValues(src.Name()).Observe(time.Since(start).Seconds())
	if err != nil {
		return c.failure(log, src.Name(), err)
	}
	if len(docs) == 0 {
		c.metrics.crawls.WithLabelValues(src.Name(), "refused").Inc()
		return streams.Permanent(fmt.Errorf("%s: nothing to store", norm))
	}
	now := time.Now().UTC()
	outs := make([]streams.Out, len(docs))
	for i := range docs {
		d := &docs[i]
		finish(d, norm, req.Author, now)
		outs[i] = streams.Out{
			Subject: schemas.DocsCrawled(d.Kind),
			// The same content of the same page in the same request is one
			// message, so a crash between publishing and acking the request
			// (a redelivery keeps its sequence) stores it once; a later
			// request is a new write even when the page is back to a text
			// crawled before.
			MsgID: "doc:" + strconv.FormatUint(seq, 10) + ":" + d.URL + ":" + d.ContentHash,
			Body:  d,
		}
	}
	if _, err := c.pub.PublishBatch(ctx, outs); err != nil {
		c.metrics.crawls.WithLabelValues(src.Name(), "retry").Inc()
		return fmt.Errorf("publish %d documents of %s: %w", len(outs), norm, err)
	}
	for _, d := range docs {
		c.metrics.docs.WithLabelValues(src.Name(), d.Kind).Inc()
	}
	c.metrics.crawls.WithLabelValues(src.Name(), "ok").Inc()
	log.Info().Int("documents", len(docs)).Dur("took", time.Since(start)).Msg("crawled")
	return nil
}

func (c *Crawler) pick(u *url.URL) Source {
	for _, s := range c.sources {
		if s.Match(u) {
			return s
		}
	}
	return nil
}

// failure sorts a crawl error into retry or dead letter.
func (c *Crawler) failure(log zerolog.Logger, source string, err error) error {
	var status *fetch.StatusError
	switch {
	case fetch.IsPermanent(err):
		c.metrics.crawls.WithLabelValues(source, "refused").Inc()
		log.Info().Err(err).Msg("refused")
		return streams.Permanent(err)
	case errors.As(err, &status) && status.RetryAfter > 0:
		c.metrics.crawls.WithLabelValues(source, "retry").Inc()
		return streams.RetryAfter(err, status.RetryAfter)
	default:
		c.metrics.crawls.WithLabelValues(source, "retry").Inc()
		log.Warn().Err(err).Msg("crawl failed; will retry")
		return err
	}
}

// finish fills what every crawled document carries, whatever its source.
func finish(d *schemas.CrawledDocument, requestURL, author string, now time.Time) {
	if d.URL == "" {
		d.URL = requestURL
	}
	if author != "" {
		if d.Author != "" && !strings.EqualFold(d.Author, author) {
			setMeta(d, "byline", d.Author)
		}
		d.Author = author
	}
	if d.CrawledAt.IsZero() {
		d.CrawledAt = now
	}
	if d.ContentHash == "" {
		d.ContentHash = CrawledDocumentHash(d)
	}
	setMeta(d, "request_url", requestURL)
	// A repository's files are in its Content already; carrying them twice
	// would halve the repository that fits in one message.
	d.Files = nil
}

func setMeta(d *schemas.CrawledDocument, k, v string) {
	if d.Metadata == nil {
		d.Metadata = map[string]string{}
	}
	d.Metadata[k] = v
}

// CrawledDocumentHash is the sha256 of what makes a crawled document's
// content (kind, URL, title, author, text, files): a page crawled again with
// the same content hashes the same. It keys the DOCS message; the warehouse
// has its own hash of the stored document (warehouse.DocumentHash).
func CrawledDocumentHash(d *schemas.CrawledDocument) string {
	h := sha256.New()
	for _, s := range []string{d.Kind, d.URL, d.Title, d.Author, d.Content} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, f := range d.Files {
		h.Write([]byte(f.Path))
		h.Write([]byte{0})
		h.Write([]byte(f.Content))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
