// Package importer puts documents from a JSON-lines file into twin without
// crawling them: it maps each line to a crawled_document/v1, validates it
// as the warehouse writer will, and publishes it to twin.docs.crawled.<kind>
// with a message id of its own run, waiting for every ack.
package importer

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

	"github.com/twin-llm/twin/consumers/crawler"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/urlnorm"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// BatchSize is how many documents are published before their acks are
// awaited together.
const BatchSize = 512

// line is one line of an import file. "_id" (the BEIR corpus format)
// stands for "id", "text" for "content", "url" for "link", and "created"
// or "date" for "published_at".
type line struct {
	ID      string `json:"id"`
	BEIRID  string `json:"_id"`
	Title   string `json:"title"`
	Content string `json:"content"`
	Text    string `json:"text"`
	Author  string `json:"author"`
	// first_author and authors: where other exports put the author (see
	// lineAuthor).
	FirstAuthor string          `json:"first_author"`
	Authors     json.RawMessage `json:"authors"`
	Platform    string          `json:"platform"`
	Link        string          `json:"link"`
	URL         string          `json:"url"`
	Kind        string          `json:"kind"`
	PublishedAt time.Time       `json:"published_at"`
	Created     time.Time       `json:"created"`
	Date        time.Time       `json:"date"`
}

// Publisher publishes a batch and returns once every message is acked, or
// with the failures joined; the acks of the stored ones are set either way.
type Publisher interface {
	PublishBatch(ctx context.Context, outs []streams.Out) ([]*jetstream.PubAck, error)
}

// Options are the defaults of an import.
type Options struct {
	Author string // of lines that name none
	Kind   string // of lines that name none: article, post or repository
	// OnProgress, when set, is called after each batch is acked.
	OnProgress func(Summary)
	// Notices, when set, is told once per outage that NATS is away (and
	// the batch is published again when it is back), and once that it is
	// back.
	Notices io.Writer
}

// The kinds of bad line, which Document's errors wrap.
var (
	ErrNotJSON    = errors.New("not a JSON object")
	ErrNoContent  = errors.New("no content (or text)")
	ErrNoIdentity = errors.New("no id (or _id) and no link: nothing to identify the document by")
	ErrBadLink    = errors.New("a link that is not a URL")
	ErrInvalid    = errors.New("not a valid document")
)

// BadLine is a line that was skipped, and why.
type BadLine struct {
	Line   int
	Kind   error // one of the Err kinds above
	Reason string
}

// Summary is what one import did.
type Summary struct {
	Lines     int // read
	Published int // acked by the DOCS stream
	Bad       []BadLine
	// NoAuthor counts the documents published without an author: the
	// line names none (in author, first_author or authors) and
	// Options.Author is empty. No search or chat for an author finds them.
	NoAuthor int
	IDs      []string // warehouse ids of the published documents
	Seqs     []uint64 // the DOCS sequence each of IDs was stored at
	LastSeq  uint64   // the highest of Seqs
	Took     time.Duration
}

// Open opens a plain or, for a name ending in .gz, gzipped file.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	in := &File{f: f, counted: &counter{r: f}}
	if st, err := f.Stat(); err == nil {
		in.size = st.Size()
	}
	in.r = in.counted
	if !strings.HasSuffix(path, ".gz") {
		return in, nil
	}
	zr, err := gzip.NewReader(in.counted)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	in.r = zr
	return in, nil
}

// File is an import file being read.
type File struct {
	f       *os.File
	counted *counter
	r       io.Reader
	size    int64
}

func (f *File) Read(p []byte) (int, error) { return f.r.Read(p) }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Size is the size of the file on disk (compressed, for a .gz).
func (f *File) Size() int64 { return f.size }

// Offset is how many bytes of the file on disk were read so far: with Size,
// how far an import is.
func (f *File) Offset() int64 { return f.counted.n }

type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// retryDelay is the longest wait between two publishes of a batch while
// NATS is away.
const retryDelay = 2 * time.Second

// attemptTimeout bounds one publish of a batch (a few milliseconds when
// all is well): an ack lost in a reconnect would otherwise be awaited
// forever.
const attemptTimeout = 5 * time.Second

// ackGrace is how long the acks of a batch already sent are awaited after
// the import is interrupted.
const ackGrace = 5 * time.Second

// Run publishes the documents of r in batches of BatchSize. A line that
// is not a valid document is counted in Summary.Bad and skipped. While
// NATS is away (a restart), the messages of a batch not yet acked are
// published again, with the same message ids, until it is back. An error
// is a failure to read, a publish NATS refused, or the end of ctx; the
// summary then counts exactly what was acked.
func Run(ctx context.Context, r io.Reader, pub Publisher, opts Options) (Summary, error) {
	var sum Summary
	// Each run is a new write of its documents: its message ids are its own,
	// so the DOCS dedup window drops a retried publish of this run, never a
	// later run that writes a content seen before (A, B, then A again).
	run, err := runID()
	if err != nil {
		return sum, err
	}
	notices := opts.Notices
	if notices == nil {
		notices = io.Discard
	}
	start := time.Now()
	var batch []streams.Out
	var ids []string
	flush := func() error {
		err := publish(ctx, pub, batch, ids, &sum, notices)
		batch, ids = batch[:0], ids[:0]
		if err == nil && opts.OnProgress != nil {
			opts.OnProgress(sum)
		}
		return err
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		sum.Lines++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		doc, err := Document([]byte(text), opts.Author, opts.Kind)
		if err != nil {
			sum.Bad = append(sum.Bad, BadLine{Line: sum.Lines, Kind: kindOf(err), Reason: err.Error()})
			continue
		}
		if doc.Author == "" {
			sum.NoAuthor++
		}
		id := doc.ID
		if id == "" {
			id = warehouse.DocumentID(doc.URL)
		}
		ids = append(ids, id)
		batch = append(batch, streams.Out{Subject: schemas.DocsCrawled(doc.Kind), MsgID: MsgID(run, sum.Lines, doc), Body: doc})
		if len(batch) == BatchSize {
			if err := flush(); err != nil {
				sum.Took = time.Since(start)
				return sum, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		sum.Took = time.Since(start)
		return sum, fmt.Errorf("read line %d: %w", sum.Lines+1, err)
	}
	err = flush()
	sum.Took = time.Since(start)
	return sum, err
}

// publish publishes batch (the documents of ids) until every message is
// acked, counting each ack in sum. Only the unacked messages go again.
func publish(ctx context.Context, pub Publisher, batch []streams.Out, ids []string, sum *Summary, notices io.Writer) error {
	delay, away := 100*time.Millisecond, false
	for len(batch) > 0 {
		if ctx.Err() != nil {
			return fmt.Errorf("publish: %w", ctx.Err())
		}
		// Once sent, a batch is stored whether or not its acks are read:
		// after an interrupt they are still awaited a moment, so that the
		// count is what the stream holds.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), attemptTimeout)
		stop := context.AfterFunc(ctx, func() { time.AfterFunc(ackGrace, cancel) })
		acks, err := pub.PublishBatch(actx, batch)
		stop()
		cancel()
		var leftOuts []streams.Out
		var leftIDs []string
		for i, a := range acks {
			if a == nil {
				leftOuts, leftIDs = append(leftOuts, batch[i]), append(leftIDs, ids[i])
				continue
			}
			sum.Published++
			sum.IDs = append(sum.IDs, ids[i])
			sum.Seqs = append(sum.Seqs, a.Sequence)
			sum.LastSeq = max(sum.LastSeq, a.Sequence)
		}
		if len(acks) == 0 && err != nil {
			leftOuts, leftIDs = batch, ids
		}
		batch, ids = leftOuts, leftIDs
		if len(batch) == 0 {
			break
		}
		if err == nil {
			err = errors.New("no ack")
		}
		if ctx.Err() != nil {
			return fmt.Errorf("publish: %w", ctx.Err())
		}
		if !retryable(err) {
			return fmt.Errorf("publish: %d messages refused: %s", len(batch), Failures(err))
		}
		if !away {
			away = true
			fmt.Fprintf(notices, "NATS is away (%s); publishing again when it is back\n", Failures(err))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("publish: %w", ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, retryDelay)
	}
	if away {
		fmt.Fprintln(notices, "NATS is back; publishing on")
	}
	return nil
}

// retryable reports whether every failure of a publish is what a client
// sees while NATS restarts or reconnects.
func retryable(err error) bool {
	for _, leaf := range leaves(err) {
		if !streams.Transient(leaf) && !errors.Is(leaf, context.DeadlineExceeded) {
			return false
		}
	}
	return true
}

// Failures says what failed in err, one kind of failure each with its
// count ("512 × nats: server is disconnected"), instead of one line per
// message of a batch.
func Failures(err error) string {
	counts := map[string]int{}
	var order []string
	for _, leaf := range leaves(err) {
		// A batch wraps each message's error once ("message 3 to
		// subject: ..."): the kind is what it wraps.
		what := leaf.Error()
		if inner := errors.Unwrap(leaf); inner != nil {
			what = inner.Error()
		}
		if counts[what] == 0 {
			order = append(order, what)
		}
		counts[what]++
	}
	parts := make([]string, len(order))
	for i, what := range order {
		parts[i] = what
		if counts[what] > 1 {
			parts[i] = fmt.Sprintf("%d × %s", counts[what], what)
		}
	}
	return strings.Join(parts, "; ")
}

// leaves are the errors joined in err (errors.Join, nested), or err.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	if inner := errors.Unwrap(err); inner != nil {
		if _, ok := inner.(interface{ Unwrap() []error }); ok {
			return leaves(inner)
		}
	}
	return []error{err}
}

// kindOf is the kind of a bad line's error.
func kindOf(err error) error {
	for _, k := range []error{ErrNotJSON, ErrNoContent, ErrNoIdentity, ErrBadLink} {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrInvalid
}

// MsgID is the message id (the DOCS dedup key) of doc, read from line n of
// the import run: import:<run>:<line>:<id or link>:<content hash>.
func MsgID(run string, n int, doc *schemas.CrawledDocument) string {
	key := doc.ID
	if key == "" {
		key = doc.URL
	}
	return "import:" + run + ":" + strconv.Itoa(n) + ":" + key + ":" + crawler.CrawledDocumentHash(doc)
}

// runID names one import run.
func runID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("import run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Document turns one line into a valid crawled document, with author and
// kind for a line that names none.
func Document(data []byte, author, kind string) (*schemas.CrawledDocument, error) {
	var l line
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	d := &schemas.CrawledDocument{
		ID: firstOf(l.ID, l.BEIRID), Kind: firstOf(l.Kind, kind), Title: l.Title,
		Content: firstOf(l.Content, l.Text), Author: firstOf(lineAuthor(l), author), Platform: firstOf(l.Platform, "import"),
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
			return nil, fmt.Errorf("%w: %v", ErrBadLink, err)
		}
		d.URL = norm
	}
	if strings.TrimSpace(d.Content) == "" {
		return nil, ErrNoContent
	}
	if d.ID == "" && d.URL == "" {
		return nil, ErrNoIdentity
	}
	// Validate exactly as the writer will, so a bad line is reported here
	// with its number instead of landing in the DLQ.
	enc, err := schemas.Encode(d)
	if err == nil {
		err = schemas.Decode(enc, &schemas.CrawledDocument{})
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return d, nil
}

// lineAuthor is the author a line names: "author", else "first_author",
// else the first of "authors" (a name, a list of names, or a list of
// objects with a "name", as common exports write it). A value of another
// shape names no one.
func lineAuthor(l line) string {
	if a := strings.TrimSpace(firstOf(l.Author, l.FirstAuthor)); a != "" {
		return a
	}
	if len(l.Authors) == 0 {
		return ""
	}
	var one string
	if json.Unmarshal(l.Authors, &one) == nil {
		return strings.TrimSpace(one)
	}
	var many []json.RawMessage
	if json.Unmarshal(l.Authors, &many) != nil {
		return ""
	}
	for _, raw := range many {
		var named struct{ Name string }
		if json.Unmarshal(raw, &one) != nil && json.Unmarshal(raw, &named) == nil {
			one = named.Name
		}
		if one = strings.TrimSpace(one); one != "" {
			return one
		}
	}
	return ""
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
