package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/consumers/crawler"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/urlnorm"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// importLine is one line of an import file. "_id" (the BEIR corpus
// format) stands for "id", "text" for "content", "url" for "link", and
// "created" or "date" for "published_at".
type importLine struct {
	ID          string    `json:"id"`
	BEIRID      string    `json:"_id"`
	Title       string    `json:"title"`
	Content     string    `json:"content"`
	Text        string    `json:"text"`
	Author      string    `json:"author"`
	Platform    string    `json:"platform"`
	Link        string    `json:"link"`
	URL         string    `json:"url"`
	Kind        string    `json:"kind"`
	PublishedAt time.Time `json:"published_at"`
	Created     time.Time `json:"created"`
	Date        time.Time `json:"date"`
}

func newImportCmd(g *globals) *cobra.Command {
	var author, kind string
	var wait bool
	var wo waitOptions
	cmd := &cobra.Command{
		Use:   "import FILE.jsonl[.gz]",
		Short: "Write documents from a JSON-lines file into the warehouse",
		Long: `Write documents straight into the warehouse, without crawling: one JSON object a line with
id (or _id, as in BEIR corpora), title, content (or text), author, platform and link. An
imported document keeps its id as its warehouse id; a line with a link and no id gets the
id of its normalized link. From the warehouse, changes flow on like any other.

The documents are published to twin.docs.crawled.<kind> (through --nats), where the
warehouse writer stores them in bulk. Bad lines are reported with their line numbers and
skipped. Importing the same file twice stores nothing new.

With --wait it follows the documents until each is searchable. It rides out a restart of
NATS or twin (reconnecting as long as it takes), says which component is not consuming when
nothing moves for --warn-after, and with --timeout gives up, exiting non-zero with what is
still pending.`,
		Example: `  twin import til.jsonl --author "Simon Willison"
  twin import corpus.jsonl.gz --kind post`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind != schemas.KindArticle && kind != schemas.KindPost && kind != schemas.KindRepository {
				return fmt.Errorf("--kind %q: want article, post or repository", kind)
			}
			nc, js, err := g.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			in, err := openImport(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			sum, err := importDocs(cmd.Context(), in, streams.NewPublisher(js), author, kind, g.stderr)
			fmt.Fprintf(g.stdout, "read %d lines: %d documents published, %d bad lines skipped, in %s\n",
				sum.lines, sum.published, len(sum.bad), sum.took.Round(time.Millisecond))
			for _, b := range sum.bad {
				fmt.Fprintf(g.stdout, "  line %d: %s\n", b.line, b.reason)
			}
			if err != nil || !wait {
				return err
			}
			took, err := g.waitImported(cmd.Context(), js, sum, wo)
			if err == nil {
				fmt.Fprintf(g.stdout, "%d documents searchable in %s\n", len(sum.ids), took.Round(time.Millisecond))
			}
			return err
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "author of lines that name none")
	cmd.Flags().StringVar(&kind, "kind", schemas.KindArticle, "kind of the documents: article, post or repository")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until every imported document is searchable")
	wo.flags(cmd, 0)
	return cmd
}

// waitOptions are the flags of a command's --wait.
type waitOptions struct {
	timeout   time.Duration // 0: no limit
	warnAfter time.Duration // 0: no warning
}

func (wo *waitOptions) flags(cmd *cobra.Command, timeout time.Duration) {
	cmd.Flags().DurationVar(&wo.timeout, "timeout", timeout, "with --wait: give up after this long, exiting non-zero with what is still pending (0: never)")
	cmd.Flags().DurationVar(&wo.warnAfter, "warn-after", defaultWarnAfter, "with --wait: say which component is not consuming after this long without progress (0: never)")
}

// bound is ctx ended by --timeout, with the flag as its cause, so that the
// message of a wait that gave up names it.
func (wo *waitOptions) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if wo.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, wo.timeout, fmt.Errorf("--timeout %s", wo.timeout))
}

// waitImported waits until the documents of an import are stored and then
// searchable, showing progress on stderr, and returns how long it took.
func (g *globals) waitImported(ctx context.Context, js jetstream.JetStream, sum importSummary, wo waitOptions) (time.Duration, error) {
	began, last := time.Now(), time.Time{}
	ctx, cancel := wo.bound(ctx)
	defer cancel()
	out := &syncWriter{w: g.stderr}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go watchConsumers(wctx, js, pipelineWatches(), wo.warnAfter, out)
	r := &retrier{out: out}
	if err := waitStored(ctx, js, sum.lastSeq, r); err != nil {
		return 0, gaveUp(ctx, err)
	}
	err := g.waitSearchable(ctx, js, sum.ids, func(n, total int) {
		if n == total || time.Since(last) > time.Second {
			last = time.Now()
			fmt.Fprintf(out, "\rsearchable %d/%d", n, total)
		}
	}, r)
	fmt.Fprintln(out)
	return time.Since(began), gaveUp(ctx, err)
}

// gaveUp names the --timeout that ended a wait in its error.
func gaveUp(ctx context.Context, err error) error {
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
			return fmt.Errorf("gave up waiting (%v): %w", cause, err)
		}
	}
	return err
}

// openImport opens a plain or gzipped file.
func openImport(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, nil
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, nil
}

type badLine struct {
	line   int
	reason string
}

type importSummary struct {
	lines, published int
	bad              []badLine
	ids              []string // warehouse ids of the published documents
	lastSeq          uint64   // the highest DOCS sequence they were stored at
	took             time.Duration
}

// importDocs publishes the documents of r in batches, reporting progress
// on progress about twice a second.
func importDocs(ctx context.Context, r io.Reader, pub *streams.Publisher, author, kind string, progress io.Writer) (importSummary, error) {
	const batchSize = 512
	var sum importSummary
	// Each run is a new write of its documents: its message ids are its own,
	// so the DOCS dedup window drops a retried publish of this run, never a
	// later run that writes a content seen before (A, B, then A again).
	nonce, err := importNonce()
	if err != nil {
		return sum, err
	}
	start, lastReport := time.Now(), time.Now()
	batch := make([]streams.Out, 0, batchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		acks, err := pub.PublishBatch(ctx, batch)
		if err != nil {
			return err
		}
		for _, a := range acks {
			sum.lastSeq = max(sum.lastSeq, a.Sequence)
		}
		sum.published += len(batch)
		batch = batch[:0]
		if time.Since(lastReport) > 500*time.Millisecond {
			lastReport = time.Now()
			fmt.Fprintf(progress, "\rimported %d documents (%.0f/s)", sum.published, float64(sum.published)/time.Since(start).Seconds())
		}
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		sum.lines++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		doc, err := importDocument([]byte(line), author, kind)
		if err != nil {
			sum.bad = append(sum.bad, badLine{sum.lines, err.Error()})
			continue
		}
		key := doc.ID
		if key == "" {
			key = doc.URL
		}
		if doc.ID != "" {
			sum.ids = append(sum.ids, doc.ID)
		} else {
			sum.ids = append(sum.ids, warehouse.DocumentID(doc.URL))
		}
		batch = append(batch, streams.Out{
			Subject: schemas.DocsCrawled(doc.Kind),
			MsgID:   "import:" + nonce + ":" + strconv.Itoa(sum.lines) + ":" + key + ":" + crawler.CrawledDocumentHash(doc),
			Body:    doc,
		})
		if len(batch) == batchSize {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return sum, fmt.Errorf("read line %d: %w", sum.lines+1, err)
	}
	err = flush()
	if sum.published > 0 {
		fmt.Fprintln(progress)
	}
	sum.took = time.Since(start)
	return sum, err
}

// importNonce names one import run.
func importNonce() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("import run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// importDocument turns one line into a valid crawled document.
func importDocument(line []byte, author, kind string) (*schemas.CrawledDocument, error) {
	var l importLine
	if err := json.Unmarshal(line, &l); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	d := &schemas.CrawledDocument{
		ID: firstOf(l.ID, l.BEIRID), Kind: firstOf(l.Kind, kind), Title: l.Title,
		Content: firstOf(l.Content, l.Text), Author: firstOf(l.Author, author), Platform: firstOf(l.Platform, "import"),
		Metadata: map[string]string{"imported": "true"},
	}
	for _, t := range []time.Time{l.PublishedAt, l.Created, l.Date} {
		if !t.IsZero() {
			d.PublishedAt = t.UTC()
			break
		}
	}
	if link := firstOf(l.Link, l.URL); link != "" {
		norm, err := urlnorm.Normalize(link, urlnorm.Options{})
		if err != nil {
			return nil, fmt.Errorf("link: %v", err)
		}
		d.URL = norm
	}
	if strings.TrimSpace(d.Content) == "" {
		return nil, fmt.Errorf("no content (or text)")
	}
	if d.ID == "" && d.URL == "" {
		return nil, fmt.Errorf("no id (or _id) and no link: nothing to identify the document by")
	}
	// Validate exactly as the writer will, so a bad line is reported here
	// with its number instead of landing in the DLQ.
	data, err := schemas.Encode(d)
	if err == nil {
		err = schemas.Decode(data, &schemas.CrawledDocument{})
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
