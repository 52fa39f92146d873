package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/bench"
	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/store/vectors/embedded"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/streams"
)

// crashDocs is the size of the crash test's import: large enough that a
// kill lands in the middle of the ingest, small enough for CI.
const crashDocs = 5000

// TestCrashDuringIngestLosesNothingDuplicatesNothingLeavesNothingStale kills `twin up`
// with SIGKILL in the middle of an import, restarts it on the same data dir,
// re-runs the import, changes and deletes some documents, and then compares
// every point of the vector store with the warehouse: every live document
// has its chunks at its current revision (nothing lost), no chunk is there
// twice and no older revision is left (nothing duplicated), and no deleted
// document or old content is searchable (nothing stale).
func TestCrashDuringIngestLosesNothingDuplicatesNothingLeavesNothingStale(t *testing.T) {
	up, v1 := startCrashUp(t)
	rec := crashAndRecover(t, up, v1)
	t.Logf("killed twin up with %d of %d documents indexed; after the restart: ready in %s, every document searchable after %s, the pipeline idle (converged) after %s",
		rec.indexedAtKill, crashDocs, rec.ready.Round(time.Millisecond), rec.searchable.Round(time.Millisecond), rec.converged.Round(time.Millisecond))

	// A tenth changes, a fiftieth is deleted: their old points must go.
	v2 := writeCrashDocs(t, crashDocs, func(i int) int { return 1 + min(1, i%10/9) })
	if out, err := up.client(t, "import", v2, "--wait"); err != nil {
		t.Fatalf("import the changed documents: %v\n%s", err, out)
	}
	var gone []string
	for i := 0; i < crashDocs; i += 50 {
		gone = append(gone, crashID(i))
	}
	changes := up.messages(t, streams.StreamCDC)
	if out, err := up.client(t, append([]string{"docs", "rm"}, gone...)...); err != nil {
		t.Fatalf("docs rm: %v\n%s", err, out)
	}
	testwait.Until(t, time.Minute, "the deletions to pass through the pipeline", func() bool {
		return up.messages(t, streams.StreamCDC) >= changes+uint64(len(gone)) && up.idle(t)
	})
	if n := up.messages(t, streams.StreamDLQ); n != 0 {
		t.Errorf("the DLQ holds %d messages, want 0", n)
	}
	up.terminate(t)

	checkIndexMatchesWarehouse(t, up.dir)
}

// BenchmarkConvergenceAfterKill measures how long the pipeline takes to
// converge after `twin up` is killed in the middle of a 5,000-document
// import and started again: from the restart until every document is
// searchable and no consumer has anything pending or unacknowledged
// (target: under 10 s).
func BenchmarkConvergenceAfterKill(b *testing.B) {
	bin := buildTwin(b)
	v1 := writeCrashDocs(b, crashDocs, func(int) int { return 1 })
	var ready, searchable, converged time.Duration
	for b.Loop() {
		up := &binUp{bin: bin, dir: b.TempDir(), http: freeAddr(b), nats: freeAddr(b)}
		up.start(b)
		rec := crashAndRecover(b, up, v1)
		up.terminate(b)
		ready, searchable, converged = ready+rec.ready, searchable+rec.searchable, converged+rec.converged
	}
	n := time.Duration(b.N)
	b.ReportMetric((ready / n).Seconds(), "s-to-ready")
	b.ReportMetric((searchable / n).Seconds(), "s-to-searchable")
	b.ReportMetric((converged / n).Seconds(), "s-to-converge")
}

// startCrashUp starts the built binary's `twin up` on a fresh data dir,
// for a test that ingests crashDocs documents (their file is returned) and
// stops it some hard way in the middle.
func startCrashUp(t *testing.T) (*binUp, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and ingests 5,000 documents; skipped with -short")
	}
	t.Parallel()
	up := &binUp{bin: buildTwin(t), dir: t.TempDir(), http: freeAddr(t), nats: freeAddr(t)}
	docs := writeCrashDocs(t, crashDocs, func(int) int { return 1 })
	up.start(t)
	return up, docs
}

// recovery is what crashAndRecover measured.
type recovery struct {
	indexedAtKill                int
	ready, searchable, converged time.Duration // from the restart
}

// crashAndRecover imports file into the running up, kills it with SIGKILL
// while the documents are on their way, starts it again, imports the file
// again with --wait and waits until the pipeline is idle.
func crashAndRecover(tb testing.TB, up *binUp, file string) recovery {
	tb.Helper()
	var rec recovery
	if out, err := up.client(tb, "import", file); err != nil {
		tb.Fatalf("import: %v\n%s", err, out)
	}
	// Kill while documents are on their way: some indexed, most not.
	testwait.Until(tb, 2*time.Minute, "the first documents indexed", func() bool {
		return up.indexed(tb) >= 200
	})
	rec.indexedAtKill = up.indexed(tb)
	up.kill(tb)
	if rec.indexedAtKill >= crashDocs {
		tb.Fatalf("the kill came after the ingest finished; nothing was tested")
	}

	restarted := time.Now()
	up.start(tb)
	rec.ready = time.Since(restarted)
	if out, err := up.client(tb, "import", file, "--wait"); err != nil {
		tb.Fatalf("import again after the restart: %v\n%s", err, out)
	}
	rec.searchable = time.Since(restarted)
	// Converged: nothing pending or unacknowledged anywhere, so no message
	// the killed process held is still locked.
	testwait.Until(tb, 2*time.Minute, "the pipeline to be idle after the restart", func() bool { return up.idle(tb) })
	rec.converged = time.Since(restarted)
	return rec
}

// checkIndexMatchesWarehouse compares every point of the data dir's vector
// store with its warehouse, twin being stopped.
func checkIndexMatchesWarehouse(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	wh, err := warehouse.OpenSQLite(ctx, filepath.Join(dir, "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	docs, err := wh.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := embedded.Open(filepath.Join(dir, "vectors"), embed.DefaultDim)
	if err != nil {
		t.Fatal(err)
	}
	defer vs.Close()

	live := map[string]warehouse.Document{}
	var deleted []string
	for _, d := range docs {
		if d.Deleted {
			deleted = append(deleted, d.ID)
		} else {
			live[d.ID] = d
		}
	}
	if len(live)+len(deleted) != crashDocs {
		t.Fatalf("the warehouse holds %d live and %d deleted documents, want %d in all", len(live), len(deleted), crashDocs)
	}
	problems := 0
	found, err := bench.CheckIndex(ctx, vs, live, deleted, func(format string, args ...any) {
		if problems++; problems <= 10 {
			t.Errorf(format, args...)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compared %d points with %d live and %d deleted documents: %d lost, %d duplicated, %d stale", found.Points, len(live), len(deleted), found.Lost, found.Duplicated, found.Stale)
}

func crashID(i int) string { return fmt.Sprintf("crash-%05d", i) }

// writeCrashDocs writes n small documents (one chunk each) in the import
// format, document i at version version(i), and returns the file.
func writeCrashDocs(t testing.TB, n int, version func(i int) int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "docs.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for i := range n {
		id := crashID(i)
		marker := fmt.Sprintf("%s-v%d", id, version(i))
		err := enc.Encode(map[string]string{
			"id": id, "title": "Note " + id, "author": "Crash Test",
			"content": fmt.Sprintf("%s is a short note about recovery after a crash, number %d, version %s. "+
				"It exists so that every chunk can be traced back to one version.", marker, i, marker),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// buildTwin builds the twin binary into a temporary directory.
func buildTwin(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "twin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr is a loopback address with a port free right now.
// freeAddr reserves a loopback address for a twin that may restart on it
// (bench.FreeAddrs says why its port is not an ephemeral one).
func freeAddr(t testing.TB) string {
	t.Helper()
	addrs, err := bench.FreeAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	return addrs[0]
}

// binUp is `twin up` running as a separate process of the built binary,
// on fixed ports so that a restart comes back where clients look.
type binUp struct {
	bin, dir, http, nats string
	cmd                  *exec.Cmd
	stderr               *testwait.Buffer
	exited               chan error
}

func (u *binUp) start(t testing.TB) {
	t.Helper()
	u.stderr = &testwait.Buffer{}
	stdout := &testwait.Buffer{}
	u.cmd = exec.Command(u.bin, "up", "--data", u.dir, "--http", u.http, "--nats-listen", u.nats, "--log-level", "warn")
	u.cmd.Stdout, u.cmd.Stderr = stdout, u.stderr
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	u.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan<- error) { exited <- cmd.Wait() }(u.cmd, u.exited)
	t.Cleanup(func() {
		if u.cmd != nil {
			_ = u.cmd.Process.Kill()
			<-u.exited
		}
	})
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(stdout.String(), "ready in") {
		select {
		case err := <-u.exited:
			u.cmd = nil
			t.Fatalf("twin up exited (%v) before it was ready:\n%s\n%s", err, stdout.String(), u.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("twin up not ready after a minute:\n%s\n%s", stdout.String(), u.stderr.String())
		}
	}
}

// kill ends twin up with SIGKILL, as a crash or the OOM killer does.
func (u *binUp) kill(t testing.TB) {
	t.Helper()
	if err := u.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-u.exited
	u.cmd = nil
}

// terminate stops twin up with SIGTERM and checks it exits cleanly.
func (u *binUp) terminate(t testing.TB) {
	t.Helper()
	if err := u.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-u.exited:
		if err != nil {
			t.Errorf("twin up: %v\n%s", err, u.stderr.String())
		}
	case <-time.After(time.Minute):
		t.Errorf("twin up did not stop within a minute")
		_ = u.cmd.Process.Kill()
		<-u.exited
	}
	u.cmd = nil
}

// client runs a client command of the binary against u.
func (u *binUp) client(t testing.TB, args ...string) (string, error) {
	t.Helper()
	args = append(args, "--data", u.dir, "--server", "http://"+u.http, "--nats", "nats://"+u.nats)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, u.bin, args...).CombinedOutput()
	return string(out), err
}

// status reads GET /v1/status: in process, so that a poll is quick
// enough to catch the ingest in the middle.
func (u *binUp) status(t testing.TB) streams.Status {
	t.Helper()
	resp, err := http.Get("http://" + u.http + "/v1/status")
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	defer resp.Body.Close()
	var st streams.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %s: %v", resp.Status, err)
	}
	return st
}

// messages is how many messages stream holds.
func (u *binUp) messages(t testing.TB, stream string) uint64 {
	t.Helper()
	for _, s := range u.status(t).Streams {
		if s.Name == stream {
			return s.Messages
		}
	}
	return 0
}

// indexed is how many documents the embedder has indexed: the entries of
// its revisions bucket.
func (u *binUp) indexed(t testing.TB) int {
	t.Helper()
	return int(u.messages(t, "KV_twin_index"))
}

// idle reports whether every consumer of the pipeline has nothing pending.
func (u *binUp) idle(t testing.TB) bool {
	t.Helper()
	for _, s := range u.status(t).Streams {
		for _, c := range s.Consumers {
			if c.Pending > 0 || c.AckPending > 0 {
				return false
			}
		}
	}
	return true
}
