package progress

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/producers/crawl"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// State is where one URL submitted for crawling is.
type State string

// States of a URL, in the order it passes them.
const (
	Queued  State = "queued"  // in the CRAWL stream
	Crawled State = "crawled" // its documents are in the DOCS stream
	Stored  State = "stored"  // the warehouse writer acked every document
	Failed  State = "failed"  // dead-lettered, with the reason
)

// CrawlEvent is a URL changing state.
type CrawlEvent struct {
	URL         string // normalized
	State       State
	Documents   int      // documents crawled from it
	DocumentIDs []string // their warehouse ids, once stored
	Reason      string   // why it failed
}

// CrawlTracker follows submitted URLs from the CRAWL stream to the
// warehouse. It must be created before the submission, so that it sees
// every document and dead letter the submission causes.
type CrawlTracker struct {
	js                jetstream.JetStream
	docsFrom, dlqFrom uint64
}

// NewCrawlTracker marks where the DOCS and DLQ streams are now.
func NewCrawlTracker(ctx context.Context, js jetstream.JetStream) (*CrawlTracker, error) {
	t := &CrawlTracker{js: js}
	var err error
	if t.docsFrom, err = LastSeq(ctx, js, streams.StreamDocs); err != nil {
		return nil, err
	}
	if t.dlqFrom, err = LastSeq(ctx, js, streams.StreamDLQ); err != nil {
		return nil, err
	}
	return t, nil
}

// tracked is one URL's progress.
type tracked struct {
	seq      uint64 // its crawl request in CRAWL
	state    State
	docsSeqs []uint64 // its documents in DOCS
	docIDs   []string // and their warehouse ids
	crawled  bool     // the crawl request is gone from CRAWL
}

// Wait reports events on fn until every accepted URL is stored or failed,
// or ctx ends. It polls the server every interval, through r.
func (t *CrawlTracker) Wait(ctx context.Context, accepted []crawl.Accepted, interval time.Duration, fn func(CrawlEvent), r *Retrier) error {
	w := &wait{CrawlTracker: t, urls: map[string]*tracked{}, fn: fn}
	for _, a := range accepted {
		w.urls[a.Normalized] = &tracked{seq: a.Sequence, state: Queued}
	}
	w.pending = len(w.urls)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for w.pending > 0 {
		if err := r.Do(ctx, "follow the crawl", w.poll); err != nil {
			return err
		}
		if w.pending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// wait is the state of one Wait.
type wait struct {
	*CrawlTracker
	urls    map[string]*tracked
	fn      func(CrawlEvent)
	pending int

	// Opened by the first poll that gets through.
	docs, dlq   jetstream.Consumer
	crawlStream jetstream.Stream
	writer      jetstream.Consumer
}

func (w *wait) settle(tr *tracked, ev CrawlEvent) {
	tr.state = ev.State
	w.fn(ev)
	if ev.State == Stored || ev.State == Failed {
		w.pending--
	}
}

// open opens what a poll reads, the parts still missing.
func (w *wait) open(ctx context.Context) error {
	var err error
	if w.docs == nil {
		if w.docs, err = w.reader(ctx, streams.StreamDocs, schemas.SubjectDocsCrawledAll, w.docsFrom); err != nil {
			return err
		}
	}
	if w.dlq == nil {
		if w.dlq, err = w.reader(ctx, streams.StreamDLQ, schemas.SubjectDLQAll, w.dlqFrom); err != nil {
			return err
		}
	}
	if w.crawlStream == nil {
		if w.crawlStream, err = w.js.Stream(ctx, streams.StreamCrawl); err != nil {
			return err
		}
	}
	if w.writer == nil {
		if w.writer, err = w.js.Consumer(ctx, streams.StreamDocs, streams.ConsumerWriter); err != nil {
			return fmt.Errorf("the warehouse consumer: %w", err)
		}
	}
	return nil
}

// poll reads what happened since the last poll and reports it.
func (w *wait) poll(ctx context.Context) error {
	if err := w.open(ctx); err != nil {
		return err
	}
	// First the requests the crawler finished, gone from the work
	// queue: it publishes a request's documents before it acks the
	// request, so they are all in DOCS by now and read below.
	for _, tr := range w.urls {
		if tr.crawled || tr.state == Failed {
			continue
		}
		_, err := w.crawlStream.GetMsg(ctx, tr.seq)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			tr.crawled = true
		case err != nil:
			return fmt.Errorf("crawl request %d: %w", tr.seq, err)
		}
	}
	// Dead letters of the crawler (the request) or the writer (a document).
	for _, m := range drain(w.dlq) {
		var dl schemas.DeadLetter
		if schemas.Decode(m.Data(), &dl) != nil {
			continue
		}
		u := deadLetterURL(&dl)
		if tr, ok := w.urls[u]; ok && tr.state != Stored && tr.state != Failed {
			w.settle(tr, CrawlEvent{URL: u, State: Failed, Reason: dl.Error, Documents: len(tr.docsSeqs)})
		}
	}
	for _, m := range drain(w.docs) {
		md, err := m.Metadata()
		var d schemas.CrawledDocument
		if err != nil || schemas.Decode(m.Data(), &d) != nil {
			continue
		}
		if tr, ok := w.urls[d.Metadata["request_url"]]; ok {
			tr.docsSeqs = append(tr.docsSeqs, md.Sequence.Stream)
			id := d.ID
			if id == "" {
				id = warehouse.DocumentID(d.URL)
			}
			if !slices.Contains(tr.docIDs, id) {
				tr.docIDs = append(tr.docIDs, id)
			}
		}
	}
	info, err := w.writer.Info(ctx)
	if err != nil {
		return fmt.Errorf("the warehouse consumer: %w", err)
	}
	for u, tr := range w.urls {
		if tr.state == Stored || tr.state == Failed {
			continue
		}
		if tr.state == Queued && len(tr.docsSeqs) > 0 {
			w.settle(tr, CrawlEvent{URL: u, State: Crawled, Documents: len(tr.docsSeqs)})
		}
		if stored(tr, info.AckFloor.Stream) {
			w.settle(tr, CrawlEvent{URL: u, State: Stored, Documents: len(tr.docsSeqs), DocumentIDs: tr.docIDs})
		}
	}
	return nil
}

// stored reports whether the writer acked every document of tr. A crawl
// that produced no new message (the same content was published within
// the dedup window, so it is stored already) counts once the request is
// done and no dead letter came.
func stored(tr *tracked, floor uint64) bool {
	if !tr.crawled {
		return false
	}
	for _, s := range tr.docsSeqs {
		if s > floor {
			return false
		}
	}
	return true
}

// deadLetterURL is the crawl URL a dead letter is about: the request's, or
// the document's request_url.
func deadLetterURL(dl *schemas.DeadLetter) string {
	var req schemas.CrawlRequest
	if schemas.Decode(dl.Body, &req) == nil {
		return req.URL
	}
	var d schemas.CrawledDocument
	if schemas.Decode(dl.Body, &d) == nil {
		return d.Metadata["request_url"]
	}
	return ""
}

// reader is an ordered consumer of stream from sequence after+1.
func (t *CrawlTracker) reader(ctx context.Context, stream, subject string, after uint64) (jetstream.Consumer, error) {
	s, err := t.js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	return s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    after + 1,
		// Read every poll; the server drops it soon after the wait ends.
		InactiveThreshold: 10 * time.Second,
	})
}

// drain returns what c has now, without waiting.
func drain(c jetstream.Consumer) []jetstream.Msg {
	var out []jetstream.Msg
	for {
		batch, err := c.FetchNoWait(256)
		if err != nil {
			return out
		}
		n := 0
		for m := range batch.Messages() {
			out = append(out, m)
			n++
		}
		if n == 0 {
			return out
		}
	}
}
