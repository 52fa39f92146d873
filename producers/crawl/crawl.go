// Package crawl publishes crawl requests: the way every URL enters twin,
// whether from `twin crawl`, POST /v1/crawl or the gateway. Any other NATS
// client may publish a crawl_request/v1 to twin.crawl.requests directly;
// the crawler normalizes and validates again, so nothing depends on this
// package having been used.
package crawl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twin-llm/twin/internal/loginwall"
	"github.com/twin-llm/twin/internal/urlnorm"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// MaxURLs is the most URLs one submission may carry.
const MaxURLs = 1000

// Accepted is a URL that is now queued for crawling.
type Accepted struct {
	URL        string `json:"url"`        // as given
	Normalized string `json:"normalized"` // the key it is crawled and stored under
	Sequence   uint64 `json:"sequence"`   // its place in the CRAWL stream
	// Duplicate says the same URL was queued within the dedup window
	// (10 minutes) and this request was folded into that one.
	Duplicate bool `json:"duplicate,omitempty"`
}

// Rejected is a URL that was not queued, with the reason.
type Rejected struct {
	URL    string `json:"url"`
	Reason string `json:"reason"`
}

// Result is the outcome of one submission.
type Result struct {
	Accepted []Accepted `json:"accepted"`
	Rejected []Rejected `json:"rejected"`
}

// Publisher queues URLs on twin.crawl.requests.
type Publisher struct {
	pub  *streams.Publisher
	opts urlnorm.Options
}

// NewPublisher returns a publisher; allowLocal accepts file:// URLs and
// local paths (--crawl-local).
func NewPublisher(pub *streams.Publisher, allowLocal bool) *Publisher {
	return &Publisher{pub: pub, opts: urlnorm.Options{AllowLocal: allowLocal}}
}

// MsgID is the dedup key of a crawl request: the normalized URL, so the
// same page asked for twice within the window is crawled once.
func MsgID(normalized string) string { return "crawl:" + normalized }

// Options change how a submission is queued.
type Options struct {
	Author string
	Source string // who submits: "cli", "http", ...
	// Refresh crawls again even if the same URL was queued within the
	// dedup window, to pick up a page that just changed.
	Refresh bool
}

// Submit normalizes, validates and publishes urls. Invalid URLs are
// rejected one by one with their reasons; the others are published in one
// batch. An error means the batch could not be stored: nothing that was
// not reported as accepted is queued, and submitting again is safe.
func (p *Publisher) Submit(ctx context.Context, urls []string, opts Options) (Result, error) {
	res := Result{Accepted: []Accepted{}, Rejected: []Rejected{}}
	if len(urls) > MaxURLs {
		return res, fmt.Errorf("%w in one request: %d (at most %d)", ErrTooMany, len(urls), MaxURLs)
	}
	author := strings.TrimSpace(opts.Author)
	now := time.Now().UTC()
	var outs []streams.Out
	seen := map[string]bool{}
	for _, raw := range urls {
		norm, err := urlnorm.Normalize(raw, p.opts)
		if err != nil {
			res.Rejected = append(res.Rejected, Rejected{URL: raw, Reason: err.Error()})
			continue
		}
		// Refused now rather than queued to fail later: the caller
		// learns it at once, with the reason.
		if d := loginwall.Domain(urlnorm.Host(norm)); d != "" {
			res.Rejected = append(res.Rejected, Rejected{URL: raw, Reason: loginwall.Reason(d)})
			continue
		}
		if seen[norm] {
			res.Rejected = append(res.Rejected, Rejected{URL: raw, Reason: "the same URL is already in this request"})
			continue
		}
		seen[norm] = true
		res.Accepted = append(res.Accepted, Accepted{URL: raw, Normalized: norm})
		id := MsgID(norm)
		if opts.Refresh {
			id += "@" + now.Format(time.RFC3339Nano)
		}
		outs = append(outs, streams.Out{
			Subject: schemas.SubjectCrawlRequests,
			MsgID:   id,
			Body:    &schemas.CrawlRequest{URL: norm, Author: author, Source: opts.Source, RequestedAt: now},
		})
	}
	if len(outs) == 0 {
		return res, nil
	}
	acks, err := p.pub.PublishBatch(ctx, outs)
	if err != nil {
		return Result{Accepted: []Accepted{}, Rejected: res.Rejected}, err
	}
	for i, ack := range acks {
		res.Accepted[i].Sequence = ack.Sequence
		res.Accepted[i].Duplicate = ack.Duplicate
	}
	return res, nil
}

// ErrTooMany refuses a submission of more than MaxURLs.
var ErrTooMany = errors.New("too many URLs")
