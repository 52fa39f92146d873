package importer

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/crawler"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

func TestDocumentMapsTheFieldsOfALine(t *testing.T) {
	t.Parallel()
	day := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, line string
		want       schemas.CrawledDocument
		bad        string // part of the reason, for a bad line
	}{
		{name: "own fields", line: `{"id":"a","title":"T","content":"words","author":"Ann","platform":"blog","kind":"post","published_at":"2024-05-01T12:00:00Z"}`,
			want: schemas.CrawledDocument{ID: "a", Kind: "post", Title: "T", Content: "words", Author: "Ann", Platform: "blog", PublishedAt: day}},
		{name: "BEIR fields and defaults", line: `{"_id":"b","title":"T","text":"words"}`,
			want: schemas.CrawledDocument{ID: "b", Kind: "article", Title: "T", Content: "words", Author: "Default", Platform: "import"}},
		{name: "url normalized", line: `{"url":"HTTPS://Example.com:443/p#frag","text":"words","created":"2024-05-01T14:00:00+02:00"}`,
			want: schemas.CrawledDocument{URL: "https://example.com/p", Kind: "article", Content: "words", Author: "Default", Platform: "import", PublishedAt: day}},
		{name: "first_author", line: `{"id":"e","text":"words","first_author":"Simon Willison"}`,
			want: schemas.CrawledDocument{ID: "e", Kind: "article", Content: "words", Author: "Simon Willison", Platform: "import"}},
		{name: "author wins over first_author", line: `{"id":"e","text":"words","author":"Ann","first_author":"Bob"}`,
			want: schemas.CrawledDocument{ID: "e", Kind: "article", Content: "words", Author: "Ann", Platform: "import"}},
		{name: "authors as a name", line: `{"id":"e","text":"words","authors":" Ada Lovelace "}`,
			want: schemas.CrawledDocument{ID: "e", Kind: "article", Content: "words", Author: "Ada Lovelace", Platform: "import"}},
		{name: "first of authors", line: `{"id":"e","text":"words","authors":["", "Ada", "Bob"]}`,
			want: schemas.CrawledDocument{ID: "e", Kind: "article", Content: "words", Author: "Ada", Platform: "import"}},
		{name: "first of authors as objects", line: `{"id":"e","text":"words","authors":[{"name":"Grace Hopper","email":"g@x"}]}`,
			want: schemas.CrawledDocument{ID: "e", Kind: "article", Content: "words", Author: "Grace Hopper", Platform: "import"}},
		{name: "authors of another shape name no one", line: `{"id":"e","text":"words","authors":{"lead":"Ann"}}`,
			want: schemas.CrawledDocument{ID: "e", Kind: "article", Content: "words", Author: "Default", Platform: "import"}},
		{name: "not JSON", line: `not json`, bad: "not a JSON object"},
		{name: "no content", line: `{"id":"c","title":"only a title"}`, bad: "no content"},
		{name: "no identity", line: `{"text":"words"}`, bad: "nothing to identify"},
		{name: "bad link", line: `{"link":"ftp://example.com/x","text":"words"}`, bad: "link"},
		{name: "bad kind", line: `{"id":"d","text":"words","kind":"tweet"}`, bad: "kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := Document([]byte(tc.line), "Default", schemas.KindArticle)
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("Document(%s) = %+v, %v; want an error saying %q", tc.line, d, err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatalf("Document(%s): %v", tc.line, err)
			}
			if d.Metadata["imported"] != "true" {
				t.Errorf("metadata %v lacks imported=true", d.Metadata)
			}
			d.Metadata = nil
			if !d.PublishedAt.Equal(tc.want.PublishedAt) {
				t.Errorf("published at %s, want %s", d.PublishedAt, tc.want.PublishedAt)
			}
			d.PublishedAt, tc.want.PublishedAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(*d, tc.want) {
				t.Errorf("Document(%s) =\n %+v\nwant\n %+v", tc.line, *d, tc.want)
			}
		})
	}
}

// docsOf reads every message of the DOCS stream.
func docsOf(t *testing.T, js jetstream.JetStream) []jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, streams.StreamDocs)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *m)
	}
	return out
}

func TestRunPublishesTheGoodLinesWithAMessageIDOfItsRun(t *testing.T) {
	t.Parallel()
	js := streamstest.Start(t)
	in := `{"id":"one","text":"first words"}

not json
{"link":"https://example.com/two","text":"second words","kind":"post"}
{"id":"empty"}
`
	sum, err := Run(context.Background(), strings.NewReader(in), streams.NewPublisher(js), Options{Author: "Ann", Kind: schemas.KindArticle})
	if err != nil {
		t.Fatal(err)
	}
	if sum.NoAuthor != 0 {
		t.Errorf("%d documents without an author, want none: Options.Author names them", sum.NoAuthor)
	}
	if sum.Lines != 5 || sum.Published != 2 || len(sum.Bad) != 2 || sum.Bad[0].Line != 3 || sum.Bad[1].Line != 5 {
		t.Fatalf("summary %+v: want 5 lines, 2 published, lines 3 and 5 bad", sum)
	}
	if sum.Bad[0].Kind != ErrNotJSON || sum.Bad[1].Kind != ErrNoContent {
		t.Errorf("kinds of the bad lines %v, %v: want not JSON, no content", sum.Bad[0].Kind, sum.Bad[1].Kind)
	}
	if want := []string{"one", warehouse.DocumentID("https://example.com/two")}; strings.Join(sum.IDs, ",") != strings.Join(want, ",") {
		t.Errorf("ids %v, want %v", sum.IDs, want)
	}
	msgs := docsOf(t, js)
	if len(msgs) != 2 || sum.LastSeq != msgs[1].Sequence {
		t.Fatalf("DOCS holds %d messages, last sequence reported %d", len(msgs), sum.LastSeq)
	}
	if msgs[0].Subject != schemas.DocsCrawled(schemas.KindArticle) || msgs[1].Subject != schemas.DocsCrawled(schemas.KindPost) {
		t.Errorf("subjects %s, %s: want the kind of each line", msgs[0].Subject, msgs[1].Subject)
	}
	id := regexp.MustCompile(`^import:([0-9a-f]{16}):1:one:([0-9a-f]{64})$`)
	got := msgs[0].Header.Get(jetstream.MsgIDHeader)
	m := id.FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("message id %q: want import:<run>:<line>:<key>:<hash>", got)
	}
	var d schemas.CrawledDocument
	if err := schemas.Decode(msgs[0].Data, &d); err != nil {
		t.Fatal(err)
	}
	if m[2] != crawler.CrawledDocumentHash(&d) {
		t.Errorf("message id hash %s is not the document's content hash", m[2])
	}
	if second := msgs[1].Header.Get(jetstream.MsgIDHeader); !strings.HasPrefix(second, "import:"+m[1]+":4:https://example.com/two:") {
		t.Errorf("second message id %q: want the same run, line 4 and the link as key", second)
	}
}

func TestRunAgainIsANewWriteNotADuplicate(t *testing.T) {
	t.Parallel()
	js := streamstest.Start(t)
	pub := streams.NewPublisher(js)
	in := `{"id":"a","text":"A"}` + "\n"
	for range 2 {
		sum, err := Run(context.Background(), strings.NewReader(in), pub, Options{Kind: schemas.KindPost})
		if err != nil || sum.Published != 1 {
			t.Fatalf("Run = %+v, %v", sum, err)
		}
	}
	// A later run that writes a content seen before (A, B, then A again)
	// must reach the writer: the dedup window drops retries of a run only.
	msgs := docsOf(t, js)
	if len(msgs) != 2 {
		t.Fatalf("two runs of the same file left %d messages in DOCS, want 2", len(msgs))
	}
	if msgs[0].Header.Get(jetstream.MsgIDHeader) == msgs[1].Header.Get(jetstream.MsgIDHeader) {
		t.Error("two runs used the same message id")
	}
}

func TestOpenReadsPlainAndGzippedFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const body = `{"id":"a","text":"A"}` + "\n" + `{"id":"b","text":"B"}` + "\n"
	plain := filepath.Join(dir, "docs.jsonl")
	if err := os.WriteFile(plain, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	zipped := filepath.Join(dir, "docs.jsonl.gz")
	f, err := os.Create(zipped)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write([]byte(body))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	js := streamstest.Start(t)
	for _, path := range []string{plain, zipped} {
		in, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Run(context.Background(), in, streams.NewPublisher(js), Options{Kind: schemas.KindPost})
		in.Close()
		if err != nil || sum.Published != 2 || len(sum.Bad) != 0 {
			t.Errorf("import of %s = %+v, %v; want 2 documents", path, sum, err)
		}
	}
	if _, err := Open(plain + ".missing.gz"); err == nil {
		t.Error("Open of a missing file succeeded")
	}
	if _, err := Open(plain + ".gz.bad"); err == nil {
		t.Error("Open of a missing file succeeded")
	}
	notGzip := filepath.Join(dir, "plain.gz")
	os.WriteFile(notGzip, []byte(body), 0o600)
	if _, err := Open(notGzip); err == nil {
		t.Error("Open of a .gz that is not gzip succeeded")
	}
}

func TestBadLinesHaveAKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		kind error
	}{
		{`not json`, ErrNotJSON},
		{`[1,2]`, ErrNotJSON},
		{`{"id":1,"text":"x"}`, ErrNotJSON},
		{`{"id":"a"}`, ErrNoContent},
		{`{"id":"a","text":"   "}`, ErrNoContent},
		{`{"text":"x"}`, ErrNoIdentity},
		{`{"link":"http://[::1","text":"x"}`, ErrBadLink},
		{`{"id":"a","text":"x","kind":"poem"}`, ErrInvalid},
	}
	for _, tt := range tests {
		_, err := Document([]byte(tt.line), "", schemas.KindPost)
		if !errors.Is(err, tt.kind) || kindOf(err) != tt.kind {
			t.Errorf("Document(%s) = %v, want a %q", tt.line, err, tt.kind)
		}
	}
}

func TestFailuresCountEachKindOnce(t *testing.T) {
	t.Parallel()
	var errs []error
	for i := range 300 {
		errs = append(errs, fmt.Errorf("message %d to twin.docs.crawled.post: %w", i, nats.ErrDisconnected))
	}
	errs = append(errs, fmt.Errorf("message 300 to twin.docs.crawled.post: %w", nats.ErrMaxPayload))
	got := Failures(errors.Join(errors.Join(errs[:100]...), errors.Join(errs[100:]...)))
	if want := "300 × nats: server is disconnected; nats: maximum payload exceeded"; got != want {
		t.Errorf("Failures = %q, want %q", got, want)
	}
	if !retryable(errors.Join(errs[:300]...)) || retryable(errors.Join(errs...)) {
		t.Error("a publish is retryable when all its failures are transient, and only then")
	}
}

// notices is told when NATS is away, and says so on a channel once.
type notices struct {
	testwait.Buffer
	away chan struct{}
	once sync.Once
}

func (n *notices) Write(p []byte) (int, error) {
	n.once.Do(func() { close(n.away) })
	return n.Buffer.Write(p)
}

func TestRunRidesOutARestartOfNATS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	listen := "127.0.0.1:" + freePort(t)
	start := func() *streams.Server {
		srv, err := streams.StartServer(streams.ServerConfig{DataDir: dir, Listen: listen, MaxMemory: 64 << 20, MaxStore: 1 << 30, Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	t.Cleanup(func() { srv.Shutdown() })
	creds, err := streams.CredentialsOption(streams.SeedFile(dir, streams.RoleAdmin))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("nats://"+listen, creds, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := streamstest.Topology().Apply(t.Context(), js); err != nil {
		t.Fatal(err)
	}
	const n = 3 * BatchSize
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, `{"id":"d%d","text":"words %d"}`+"\n", i, i)
	}
	say := &notices{away: make(chan struct{})}
	restarted := make(chan struct{})
	opts := Options{Kind: schemas.KindPost, Notices: say, OnProgress: func(s Summary) {
		if s.Published != BatchSize {
			return
		}
		// After the first batch, NATS goes away; it comes back once the
		// import has said so.
		srv.Shutdown()
		go func() {
			defer close(restarted)
			<-say.away
			srv = start()
		}()
	}}
	sum, err := Run(t.Context(), strings.NewReader(in.String()), streams.NewPublisher(js), opts)
	<-restarted
	if err != nil {
		t.Fatalf("Run across a restart: %v\n%s", err, say.String())
	}
	if sum.Published != n || len(sum.IDs) != n || len(sum.Seqs) != n {
		t.Fatalf("published %d (%d ids, %d seqs), want %d", sum.Published, len(sum.IDs), len(sum.Seqs), n)
	}
	if got := len(docsOf(t, js)); got != n {
		t.Errorf("DOCS holds %d messages, want %d: a retried publish was stored twice or lost", got, n)
	}
	said := say.String()
	if strings.Count(said, "NATS is away") != 1 || strings.Count(said, "NATS is back") != 1 || strings.Count(said, "\n") != 2 {
		t.Errorf("the notices should say once that NATS is away and once that it is back:\n%s", said)
	}
}

func TestRunCountsExactlyWhatWasAckedWhenInterrupted(t *testing.T) {
	t.Parallel()
	js := streamstest.Start(t)
	const n = 4 * BatchSize
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, `{"id":"d%d","text":"words %d"}`+"\n", i, i)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sum, err := Run(ctx, strings.NewReader(in.String()), streams.NewPublisher(js), Options{Kind: schemas.KindPost, OnProgress: func(s Summary) {
		if s.Published >= 2*BatchSize {
			cancel() // Ctrl-C
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run interrupted = %+v, %v; want context.Canceled", sum, err)
	}
	if stored := len(docsOf(t, js)); sum.Published != stored || len(sum.Seqs) != stored || sum.Published == 0 || sum.Published == n {
		t.Fatalf("interrupted: %d published, %d seqs; DOCS holds %d", sum.Published, len(sum.Seqs), stored)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func FuzzDocument(f *testing.F) {
	for _, s := range []string{`{"id":"a","text":"x"}`, `{"_id":"b","title":"t","text":"y","created":"2024-01-01T00:00:00Z"}`,
		`{"link":"https://example.com/a?utm_source=x","content":"z","kind":"repository"}`, `[]`, `{"id":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		d, err := Document(line, "Ann", schemas.KindPost)
		if err != nil {
			return
		}
		// Whatever it accepts, the writer accepts too.
		data, err := schemas.Encode(d)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", line, err)
		}
		if err := schemas.Decode(data, &schemas.CrawledDocument{}); err != nil {
			t.Fatalf("accepted %q but it does not decode: %v", line, err)
		}
		if d.ID == "" && d.URL == "" {
			t.Fatalf("accepted %q without an identity", line)
		}
	})
}

func TestRunCountsTheDocumentsWithoutAnAuthor(t *testing.T) {
	t.Parallel()
	js := streamstest.Start(t)
	in := `{"id":"a","text":"words","first_author":"Simon Willison"}
{"id":"b","text":"words"}
{"id":"c","text":"words","authors":[]}
`
	sum, err := Run(context.Background(), strings.NewReader(in), streams.NewPublisher(js), Options{Kind: schemas.KindArticle})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Published != 3 || sum.NoAuthor != 2 {
		t.Fatalf("summary %+v: want 3 published, 2 of them without an author", sum)
	}
}
