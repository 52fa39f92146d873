package crawl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/internal/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// State is where one submitted URL is.
type State string

// States of a URL, in the order it passes them.
const (
	Queued  State = "queued"  // in the CRAWL stream
	Crawled State = "crawled" // its documents are in the DOCS stream
	Stored  State = "stored"  // the warehouse writer acked every document
	Failed  State = "failed"  // dead-lettered, with the reason
)

// Event is a URL changing state.
type Event struct {
	URL         string // normalized
	State       State
	Documents   int      // documents crawled from it
	DocumentIDs []string // their warehouse ids, once stored
	Reason      string   // why it failed
}

// Tracker follows submitted URLs from the CRAWL stream to the warehouse.
// It must be created before the submission, so that it sees every
// document and dead letter the submission causes.
type Tracker struct {
	js                jetstream.JetStream
	docsFrom, dlqFrom uint64
}

// NewTracker marks where the DOCS and DLQ streams are now.
func NewTracker(ctx context.Context, js jetstream.JetStream) (*Tracker, error) {
	t := &Tracker{js: js}
	var err error
	if t.docsFrom, err = lastSeq(ctx, js, streams.StreamDocs); err != nil {
		return nil, err
	}
	if t.dlqFrom, err = lastSeq(ctx, js, streams.StreamDLQ); err != nil {
		return nil, err
	}
	return t, nil
}

func lastSeq(ctx context.Context, js jetstream.JetStream, name string) (uint64, error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", name, err)
	}
	return info.State.LastSeq, nil
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
// or ctx ends. It polls the server every interval.
func (t *Tracker) Wait(ctx context.Context, accepted []Accepted, interval time.Duration, fn func(Event)) error {
	urls := map[string]*tracked{}
	for _, a := range accepted {
		urls[a.Normalized] = &tracked{seq: a.Sequence, state: Queued}
	}
	docs, err := t.reader(ctx, streams.StreamDocs, schemas.SubjectDocsCrawledAll, t.docsFrom)
	if err != nil {
		return err
	}
	dlq, err := t.reader(ctx, streams.StreamDLQ, schemas.SubjectDLQAll, t.dlqFrom)
	if err != nil {
		return err
	}
	crawlStream, err := t.js.Stream(ctx, streams.StreamCrawl)
	if err != nil {
		return err
	}
	writer, err := t.js.Consumer(ctx, streams.StreamDocs, "warehouse")
	if err != nil {
		return fmt.Errorf("the warehouse consumer: %w", err)
	}
	pending := len(urls)
	settle := func(tr *tracked, ev Event) {
		tr.state = ev.State
		fn(ev)
		if ev.State == Stored || ev.State == Failed {
			pending--
		}
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for pending > 0 {
		// First the requests the crawler finished, gone from the work
		// queue: it publishes a request's documents before it acks the
		// request, so they are all in DOCS by now and read below.
		for _, tr := range urls {
			if tr.crawled || tr.state == Failed {
				continue
			}
			_, err := crawlStream.GetMsg(ctx, tr.seq)
			switch {
			case errors.Is(err, jetstream.ErrMsgNotFound):
				tr.crawled = true
			case err != nil:
				return fmt.Errorf("crawl request %d: %w", tr.seq, err)
			}
		}
		// Dead letters of the crawler (the request) or the writer (a document).
		for _, m := range drain(dlq) {
			var dl schemas.DeadLetter
			if schemas.Decode(m.Data(), &dl) != nil {
				continue
			}
			u := deadLetterURL(&dl)
			if tr, ok := urls[u]; ok && tr.state != Stored && tr.state != Failed {
				settle(tr, Event{URL: u, State: Failed, Reason: dl.Error, Documents: len(tr.docsSeqs)})
			}
		}
		for _, m := range drain(docs) {
			md, err := m.Metadata()
			var d schemas.CrawledDocument
			if err != nil || schemas.Decode(m.Data(), &d) != nil {
				continue
			}
			if tr, ok := urls[d.Metadata["request_url"]]; ok {
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
		info, err := writer.Info(ctx)
		if err != nil {
			return fmt.Errorf("the warehouse consumer: %w", err)
		}
		for u, tr := range urls {
			if tr.state == Stored || tr.state == Failed {
				continue
			}
			if tr.state == Queued && len(tr.docsSeqs) > 0 {
				settle(tr, Event{URL: u, State: Crawled, Documents: len(tr.docsSeqs)})
			}
			if stored(tr, info.AckFloor.Stream) {
				settle(tr, Event{URL: u, State: Stored, Documents: len(tr.docsSeqs), DocumentIDs: tr.docIDs})
			}
		}
		if pending == 0 {
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
func (t *Tracker) reader(ctx context.Context, stream, subject string, after uint64) (jetstream.Consumer, error) {
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
