package progress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// ConsumerWatch is a durable consumer a wait depends on, and the component
// that runs it.
type ConsumerWatch struct {
	Stream, Consumer, Subject, Component string

	progress  uint64    // delivered + acked, the last time it changed
	since     time.Time // when it last changed, or had nothing to do
	neglected bool      // said so, not yet said it is consumed again
}

// PipelineWatches are the consumers between a document published to DOCS
// and a searchable one.
func PipelineWatches() []*ConsumerWatch {
	return []*ConsumerWatch{
		{Stream: streams.StreamDocs, Consumer: streams.ConsumerWriter, Subject: schemas.SubjectDocsCrawledAll, Component: "warehouse"},
		{Stream: streams.StreamCDC, Consumer: streams.ConsumerFeaturizer, Subject: schemas.SubjectCDCAll, Component: "featurizer"},
		{Stream: streams.StreamEmbed, Consumer: streams.ConsumerEmbedder, Subject: schemas.SubjectEmbedJobs, Component: "embedder"},
	}
}

// CrawlWatches are the consumers between a crawl request and a searchable
// document.
func CrawlWatches() []*ConsumerWatch {
	return append([]*ConsumerWatch{{Stream: streams.StreamCrawl, Consumer: streams.ConsumerCrawler, Subject: schemas.SubjectCrawlRequests, Component: "crawler"}},
		PipelineWatches()...)
}

// Watch says, on out, when one of watches has messages waiting, no pull
// request of any process, and no progress for warnAfter: nothing is
// consuming it, so a wait on it would go on forever. It says so once, and
// again when consuming resumes; it keeps watching until ctx ends. A
// warnAfter of 0 or less watches nothing.
func Watch(ctx context.Context, js jetstream.JetStream, watches []*ConsumerWatch, warnAfter time.Duration, out io.Writer) {
	if warnAfter <= 0 {
		return
	}
	tick := time.NewTicker(min(warnAfter/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, w := range watches {
				w.check(ctx, js, now, warnAfter, out)
			}
		}
	}
}

func (w *ConsumerWatch) check(ctx context.Context, js jetstream.JetStream, now time.Time, warnAfter time.Duration, out io.Writer) {
	cctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	if w.since.IsZero() {
		w.since = now
	}
	cons, err := js.Consumer(cctx, w.Stream, w.Consumer)
	if err != nil {
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			w.warn(now, warnAfter, out, fmt.Sprintf("the consumer %s on %s does not exist", w.Consumer, w.Stream))
		}
		return // NATS away: the retrier of the wait says so
	}
	info, err := cons.Info(cctx)
	if err != nil {
		return
	}
	progress := info.Delivered.Stream + info.AckFloor.Stream
	idle := info.NumPending == 0 && info.NumAckPending == 0
	if idle || progress != w.progress || info.NumWaiting > 0 {
		w.progress, w.since = progress, now
		if w.neglected && !idle {
			w.neglected = false
			fmt.Fprintf(out, "\n%s is being consumed again\n", strings.TrimSuffix(w.Subject, ".>"))
		}
		return
	}
	w.warn(now, warnAfter, out, fmt.Sprintf("%d messages wait on %s/%s and no process asks for them",
		info.NumPending+uint64(info.NumAckPending), w.Stream, w.Consumer))
}

func (w *ConsumerWatch) warn(now time.Time, warnAfter time.Duration, out io.Writer, why string) {
	if w.neglected || now.Sub(w.since) < warnAfter {
		return
	}
	w.neglected = true
	fmt.Fprintf(out, "\nnothing is consuming %s (%s for %s): is twin up (or twin run %s) running? still waiting\n",
		strings.TrimSuffix(w.Subject, ".>"), why, warnAfter, w.Component)
}
