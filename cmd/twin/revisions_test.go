package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/consumers/embedder"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// forgedRevision is the highest integer a JSON number carries exactly: what
// a forger picks to freeze a document.
const forgedRevision int64 = 9007199254740991

// connectJS connects to p's NATS as a client that bypasses the gateway,
// which is what a forger does: one holding leaked credentials, since NATS
// refuses anyone else.
func connectJS(t *testing.T, p *upProcess) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(p.connect(t))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// hasText reports whether a search for q finds a chunk of doc holding text.
func hasText(t *testing.T, p *upProcess, q, doc, text string) bool {
	t.Helper()
	for _, h := range search(t, p, q, "") {
		if h.DocumentID == doc && strings.Contains(h.Text, text) {
			return true
		}
	}
	return false
}

// hasDoc reports whether a search for q finds any chunk of doc.
func hasDoc(t *testing.T, p *upProcess, q, doc string) bool {
	t.Helper()
	for _, h := range search(t, p, q, "") {
		if h.DocumentID == doc {
			return true
		}
	}
	return false
}

// importText imports one post of id with text, without waiting.
func importText(t *testing.T, p *upProcess, id, text string) {
	t.Helper()
	line, _ := json.Marshal(map[string]string{"id": id, "title": "A post", "text": text})
	if out, err := p.twin(t, "import", writeTemp(t, string(line)+"\n"), "--author", "Ada", "--kind", "post"); err != nil {
		t.Fatalf("twin import: %q %v", out, err)
	}
}

// deadLetters waits for a dead letter of consumer whose error mentions
// what, and returns it.
func deadLetter(t *testing.T, js jetstream.JetStream, consumer, what string) schemas.DeadLetter {
	t.Helper()
	var found schemas.DeadLetter
	testwait.Until(t, 15*time.Second, "a dead letter of "+consumer+" about "+what, func() bool {
		letters, err := streams.NewDLQ(js).List(context.Background(), consumer)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range letters {
			if strings.Contains(l.Letter.Error, what) {
				found = l.Letter
				return true
			}
		}
		return false
	})
	return found
}

// forgeChunk gets text indexed for doc at its current revision with a
// forged embed job (a revision the warehouse did issue, so nothing can
// tell it apart), then poisons the bucket of indexed revisions: the state
// a forged job left behind before the embedder checked revisions.
func forgeChunk(t *testing.T, p *upProcess, js jetstream.JetStream, doc string, rev int64, text string) {
	t.Helper()
	ctx := context.Background()
	job := &schemas.EmbedJob{DocumentID: doc, Op: schemas.OpUpsert, Revision: rev, Author: "Ada", Category: "posts",
		Chunks: []schemas.Chunk{{Index: 0, Text: text, Tokens: 3}}}
	if _, err := streams.NewPublisher(js).Publish(ctx, streams.Out{Subject: schemas.SubjectEmbedJobs, Body: job}); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 15*time.Second, "the forged chunk indexed", func() bool { return hasText(t, p, text, doc, text) })
	revs, err := embedder.OpenKVRevisions(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if err := revs.Put(ctx, map[string]int64{doc: forgedRevision}); err != nil {
		t.Fatal(err)
	}
}

// revisionOf is doc's revision in the warehouse, through the gateway.
func revisionOf(t *testing.T, p *upProcess, doc string) int64 {
	t.Helper()
	code, body := get(t, p.http+"/v1/docs/"+doc)
	if code != 200 {
		t.Fatalf("GET /v1/docs/%s = %d %s", doc, code, body)
	}
	var d struct{ Revision int64 }
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	return d.Revision
}

func TestForgedRevisionsAreDeadLetteredAndRealWritesStaySearchable(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	js := connectJS(t, p)
	ctx := context.Background()
	const doc = "forged-target"
	importText(t, p, doc, "Original words about pelicans riding bicycles.")
	testwait.Until(t, 15*time.Second, "the original searchable", func() bool { return hasText(t, p, "pelicans bicycles", doc, "pelicans") })

	pub := streams.NewPublisher(js)
	job := &schemas.EmbedJob{DocumentID: doc, Op: schemas.OpUpsert, Revision: forgedRevision, Category: "posts",
		Chunks: []schemas.Chunk{{Index: 0, Text: "forged walrus propaganda", Tokens: 3}}}
	if _, err := pub.Publish(ctx, streams.Out{Subject: schemas.SubjectEmbedJobs, Body: job}); err != nil {
		t.Fatal(err)
	}
	l := deadLetter(t, js, streams.ConsumerEmbedder, "never issued")
	if l.Reason != schemas.ReasonPermanent {
		t.Fatalf("forged embed job dead-lettered with reason %q, want %q", l.Reason, schemas.ReasonPermanent)
	}
	body := &schemas.Document{ID: doc, Collection: "posts", Content: "forged narwhal manifesto", ContentHash: "forged",
		Revision: forgedRevision, UpdatedAt: time.Now().UTC()}
	ev := &schemas.CDCEvent{Collection: "posts", Op: schemas.OpReplace, DocumentID: doc, Revision: forgedRevision, Document: body}
	if _, err := pub.Publish(ctx, streams.Out{Subject: schemas.CDC("posts", schemas.OpReplace), Body: ev}); err != nil {
		t.Fatal(err)
	}
	deadLetter(t, js, streams.ConsumerFeaturizer, "never issued")

	// A real write after them is indexed; neither forgery ever was.
	importText(t, p, doc, "Rewritten words about flamingos playing chess.")
	// The embedder upserts the new version before it prunes the old, so
	// the original may be found for a moment after the rewrite is.
	testwait.Until(t, 15*time.Second, "the real rewrite searchable and the original gone", func() bool {
		return hasText(t, p, "flamingos chess", doc, "flamingos") && !hasText(t, p, "pelicans bicycles", doc, "pelicans")
	})
	for _, q := range []string{"forged walrus propaganda", "forged narwhal manifesto"} {
		if hasDoc(t, p, q, doc) && !hasText(t, p, q, doc, "flamingos") {
			t.Fatalf("search for %q finds a forged chunk", q)
		}
	}
}

func TestPoisonedIndexBucketBlocksNeitherWritesNorReindexNorDelete(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	js := connectJS(t, p)
	const doc = "poisoned-target"
	importText(t, p, doc, "Original words about pelicans riding bicycles.")
	testwait.Until(t, 15*time.Second, "the original searchable", func() bool { return hasText(t, p, "pelicans bicycles", doc, "pelicans") })

	// A real write.
	forgeChunk(t, p, js, doc, revisionOf(t, p, doc), "forged walrus propaganda")
	importText(t, p, doc, "Rewritten words about flamingos playing chess.")
	testwait.Until(t, 15*time.Second, "a real write searchable despite the bucket", func() bool {
		return hasText(t, p, "flamingos chess", doc, "flamingos") && !hasDoc(t, p, "forged walrus propaganda", doc)
	})

	// Reindex.
	forgeChunk(t, p, js, doc, revisionOf(t, p, doc), "forged walrus propaganda")
	if out, err := p.twin(t, "reindex"); err != nil {
		t.Fatalf("twin reindex: %q %v", out, err)
	}
	testwait.Until(t, 15*time.Second, "reindex to bring the warehouse's text back", func() bool {
		return hasText(t, p, "flamingos chess", doc, "flamingos") && !hasDoc(t, p, "forged walrus propaganda", doc)
	})

	// Delete, of a live document then of one already deleted.
	for range 2 {
		forgeChunk(t, p, js, doc, revisionOf(t, p, doc), "forged walrus propaganda")
		if out, err := p.twin(t, "docs", "rm", doc); err != nil {
			t.Fatalf("twin docs rm: %q %v", out, err)
		}
		testwait.Until(t, 15*time.Second, "docs rm to leave no chunk of the document", func() bool {
			return !hasDoc(t, p, "forged walrus propaganda", doc) && !hasDoc(t, p, "flamingos chess", doc)
		})
	}
}

// importWait imports one post of id with text and waits until it is
// searchable.
func importWait(t *testing.T, p *upProcess, id, text string) {
	t.Helper()
	line, _ := json.Marshal(map[string]string{"id": id, "title": "A post", "text": text})
	out, err := p.twin(t, "import", writeTemp(t, string(line)+"\n"), "--author", "Ada", "--kind", "post", "--wait")
	if err != nil || !strings.Contains(out, "1 documents searchable") {
		t.Fatalf("twin import --wait = %q, %v", out, err)
	}
}

// content is doc's content and revision in the warehouse, through the
// gateway.
func content(t *testing.T, p *upProcess, doc string) (string, int64, bool) {
	t.Helper()
	code, body := get(t, p.http+"/v1/docs/"+doc)
	if code != 200 {
		t.Fatalf("GET /v1/docs/%s = %d %s", doc, code, body)
	}
	var d struct {
		Content  string
		Revision int64
		Deleted  bool
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	return d.Content, d.Revision, d.Deleted
}

func TestReimportingAnEarlierVersionIsAWriteNotADuplicate(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	const doc = "back-and-forth"
	const a, b = "Version A speaks of pelicans riding bicycles.", "Version B speaks of flamingos playing chess."
	importWait(t, p, doc, a)
	importWait(t, p, doc, b)
	_, revB, _ := content(t, p, doc)
	importWait(t, p, doc, a)
	got, revA2, _ := content(t, p, doc)
	if got != a || revA2 <= revB {
		t.Fatalf("after A, B, A the warehouse holds %q at revision %d (B was %d), want A at a new revision", got, revA2, revB)
	}
	if !hasText(t, p, "pelicans bicycles", doc, "pelicans") || hasDoc(t, p, "flamingos chess", doc) {
		t.Fatalf("after A, B, A --wait, search does not find A alone")
	}

	// A deleted document imported again is live again.
	if out, err := p.twin(t, "docs", "rm", doc); err != nil {
		t.Fatalf("twin docs rm: %q %v", out, err)
	}
	testwait.Until(t, 15*time.Second, "the deleted document gone from search", func() bool { return !hasDoc(t, p, "pelicans bicycles", doc) })
	importWait(t, p, doc, a)
	if got, _, deleted := content(t, p, doc); deleted || got != a {
		t.Fatalf("a deleted document imported again is %q (deleted %v), want A, live", got, deleted)
	}
	if !hasText(t, p, "pelicans bicycles", doc, "pelicans") {
		t.Fatalf("a deleted document imported again is not searchable after --wait")
	}
}

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestWarehouseRestoredBehindTheCheckpointLosesNoLaterWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "warehouse.db")
	backup := filepath.Join(t.TempDir(), "warehouse.db")

	// The copy that will be restored: "kept" at its first text.
	p := startUp(t, dir)
	importText(t, p, "kept", "Kept words about pelicans riding bicycles.")
	testwait.Until(t, 15*time.Second, "kept searchable", func() bool { return hasText(t, p, "pelicans bicycles", "kept", "pelicans") })
	p.stop(t) // closing the store folds its WAL into the file
	copyFile(t, db, backup)

	// Writes the restore loses: "kept" rewritten, "lost" created.
	p = startUp(t, dir)
	importText(t, p, "kept", "Rewritten words about flamingos playing chess.")
	importText(t, p, "lost", "Lost words about walruses singing opera.")
	testwait.Until(t, 15*time.Second, "the later writes searchable", func() bool {
		return hasText(t, p, "flamingos chess", "kept", "flamingos") && hasDoc(t, p, "walruses opera", "lost")
	})
	kv, err := connectJS(t, p).KeyValue(context.Background(), "twin_cdc")
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 15*time.Second, "the CDC checkpoint past the later writes", func() bool {
		e, err := kv.Get(context.Background(), "tail")
		return err == nil && string(e.Value()) == "3"
	})
	p.stop(t)
	copyFile(t, backup, db)

	p = startUp(t, dir)
	importText(t, p, "fresh", "Fresh words about otters juggling stones.")
	importText(t, p, "kept", "Third words about herons reading maps.")
	testwait.Until(t, 15*time.Second, "new writes after the restore searchable", func() bool {
		return hasDoc(t, p, "otters juggling", "fresh") && hasText(t, p, "herons maps", "kept", "herons")
	})
	// The index follows the restored warehouse: the document it lost is
	// gone from search.
	testwait.Until(t, 15*time.Second, "the document the warehouse lost gone from search", func() bool {
		return !hasDoc(t, p, "walruses opera", "lost")
	})
	if !strings.Contains(p.stderr.String(), "behind the CDC checkpoint") {
		t.Errorf("no warning about the warehouse behind the checkpoint in the log:\n%s", p.stderr.String())
	}
}
