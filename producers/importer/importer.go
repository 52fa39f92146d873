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

// Publisher publishes a batch and returns once every message is acked.
type Publisher interface {
	PublishBatch(ctx context.Context, outs []streams.Out) ([]*jetstream.PubAck, error)
}

// Options are the defaults of an import.
type Options struct {
	Author string // of lines that name none
	Kind   string // of lines that name none: article, post or repository
	// Progress, when set, is told the count and rate about twice a second,
	// on one terminal line.
	Progress io.Writer
}

// BadLine is a line that was skipped, and why.
type BadLine struct {
	Line   int
	Reason string
}

// Summary is what one import did.
type Summary struct {
	Lines, Published int
	Bad              []BadLine
	// NoAuthor counts the documents published without an author: the
	// line names none (in author, first_author or authors) and
	// Options.Author is empty. No search or chat for an author finds them.
	NoAuthor int
	IDs      []string // warehouse ids of the published documents
	LastSeq  uint64   // the highest DOCS sequence they were stored at
	Took     time.Duration
}

// Open opens a plain or, for a name ending in .gz, gzipped file.
func Open(path string) (io.ReadCloser, error) {
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

// Run publishes the documents of r in batches of BatchSize. A line that
// is not a valid document is counted in Summary.Bad and skipped; an error
// is a failure to read or to publish.
func Run(ctx context.Context, r io.Reader, pub Publisher, opts Options) (Summary, error) {
	var sum Summary
	// Each run is a new write of its documents: its message ids are its own,
	// so the DOCS dedup window drops a retried publish of this run, never a
	// later run that writes a content seen before (A, B, then A again).
	run, err := runID()
	if err != nil {
		return sum, err
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	start, lastReport := time.Now(), time.Now()
	batch := make([]streams.Out, 0, BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		acks, err := pub.PublishBatch(ctx, batch)
		if err != nil {
			return err
		}
		for _, a := range acks {
			sum.LastSeq = max(sum.LastSeq, a.Sequence)
		}
		sum.Published += len(batch)
		batch = batch[:0]
		if time.Since(lastReport) > 500*time.Millisecond {
			lastReport = time.Now()
			fmt.Fprintf(progress, "\rimported %d documents (%.0f/s)", sum.Published, float64(sum.Published)/time.Since(start).Seconds())
		}
		return nil
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
			sum.Bad = append(sum.Bad, BadLine{sum.Lines, err.Error()})
			continue
		}
		if doc.Author == "" {
			sum.NoAuthor++
		}
		id := doc.ID
		if id == "" {
			id = warehouse.DocumentID(doc.URL)
		}
		sum.IDs = append(sum.IDs, id)
		batch = append(batch, streams.Out{Subject: schemas.DocsCrawled(doc.Kind), MsgID: MsgID(run, sum.Lines, doc), Body: doc})
		if len(batch) == BatchSize {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return sum, fmt.Errorf("read line %d: %w", sum.Lines+1, err)
	}
	err = flush()
	if sum.Published > 0 {
		fmt.Fprintln(progress)
	}
	sum.Took = time.Since(start)
	return sum, err
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
		return nil, fmt.Errorf("not a JSON object: %v", err)
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
	enc, err := schemas.Encode(d)
	if err == nil {
		err = schemas.Decode(enc, &schemas.CrawledDocument{})
	}
	if err != nil {
		return nil, err
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
