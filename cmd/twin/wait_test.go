package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/streams"
)

// bareNATS starts the embedded NATS server alone on dir, with the topology
// applied and no component running: what a client sees when twin is not
// there behind it.
func bareNATS(t *testing.T, dir, listen string) *streams.Server {
	t.Helper()
	srv, err := streams.StartServer(streams.ServerConfig{DataDir: dir, Listen: listen, MaxMemory: 64 << 20, MaxStore: 10 << 30, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.DefaultTopology().Apply(ctx, js); err != nil {
		t.Fatal(err)
	}
	return srv
}

// runAsync runs a client command and returns a channel of its exit code.
func runAsync(args []string, stdout, stderr *testwait.Buffer) <-chan int {
	code := make(chan int, 1)
	go func() { code <- execute(context.Background(), args, stdout, stderr, noEnv) }()
	return code
}

func TestImportWaitSaysWhatIsNotConsumedAndGivesUpAtTimeout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	natsAddr := freeAddr(t)
	bareNATS(t, dir, natsAddr)
	file := writeCrashDocs(t, 3, func(int) int { return 1 })
	var stdout, stderr testwait.Buffer
	began := time.Now()
	code := <-runAsync([]string{"import", file, "--wait", "--timeout", "3s", "--warn-after", "500ms",
		"--data", dir, "--nats", "nats://" + natsAddr, "--server", "http://" + freeAddr(t)}, &stdout, &stderr)
	took := time.Since(began)
	t.Logf("import --wait said:\n%s", stderr.String())
	if code == 0 {
		t.Fatalf("import --wait with nothing consuming exited 0:\n%s\n%s", stdout.String(), stderr.String())
	}
	if took > 30*time.Second {
		t.Errorf("--timeout 3s ended the wait only after %s", took)
	}
	for _, want := range []string{
		"nothing is consuming twin.docs.crawled",
		"is twin up (or twin run warehouse) running?",
		"gave up waiting (--timeout 3s)",
		"the warehouse has stored the documents up to DOCS sequence 0 of 3",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the output does not say %q:\n%s", want, stderr.String())
		}
	}
}

func TestImportWaitRidesOutARestartOfNATSAndTwin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	natsAddr, httpAddr := freeAddr(t), freeAddr(t)
	srv := bareNATS(t, dir, natsAddr)
	const n = 20
	file := writeCrashDocs(t, n, func(int) int { return 1 })
	var stdout, stderr testwait.Buffer
	code := runAsync([]string{"import", file, "--wait",
		"--data", dir, "--nats", "nats://" + natsAddr, "--server", "http://" + httpAddr}, &stdout, &stderr)
	testwait.Until(t, 30*time.Second, "the import to publish", func() bool {
		return strings.Contains(stdout.String(), fmt.Sprintf("%d documents published", n))
	})

	// NATS goes away under the waiting client...
	srv.Shutdown()
	testwait.Until(t, 30*time.Second, "the wait to notice NATS is gone", func() bool {
		return strings.Contains(stderr.String(), "retrying until twin is back") || len(code) > 0
	})
	select {
	case c := <-code:
		t.Fatalf("import --wait exited %d when NATS went away:\n%s\n%s", c, stdout.String(), stderr.String())
	default:
	}
	// ...and comes back on the same store and port, this time with twin
	// behind it, which stores and indexes what waited.
	startUp(t, dir, "--http", httpAddr, "--nats-listen", natsAddr)
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("import --wait exited %d after the restart:\n%s\n%s", c, stdout.String(), stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("import --wait still waiting a minute after the restart:\n%s\n%s", stdout.String(), stderr.String())
	}
	if want := fmt.Sprintf("%d documents searchable", n); !strings.Contains(stdout.String(), want) {
		t.Errorf("the output does not say %q:\n%s", want, stdout.String())
	}
}

func TestCrawlWaitSaysTheCrawlerIsNotRunningAndGivesUpAtTimeout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	natsAddr, httpAddr := freeAddr(t), freeAddr(t)
	bareNATS(t, dir, natsAddr)
	// The gateway alone: it queues crawl requests, nothing crawls them.
	ctx, cancel := context.WithCancel(context.Background())
	var gwOut, gwErr testwait.Buffer
	gw := make(chan int, 1)
	go func() {
		gw <- execute(ctx, []string{"run", "gateway", "--data", dir, "--nats", "nats://" + natsAddr, "--http", httpAddr}, &gwOut, &gwErr, noEnv)
	}()
	t.Cleanup(func() { cancel(); <-gw })
	testwait.Until(t, 30*time.Second, "the gateway to answer", func() bool {
		if len(gw) > 0 {
			t.Fatalf("twin run gateway exited:\n%s\n%s", gwOut.String(), gwErr.String())
		}
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	var stdout, stderr testwait.Buffer
	code := <-runAsync([]string{"crawl", "https://example.com/post", "--wait", "--timeout", "3s", "--warn-after", "500ms",
		"--data", dir, "--nats", "nats://" + natsAddr, "--server", "http://" + httpAddr}, &stdout, &stderr)
	t.Logf("crawl --wait said:\n%s\n%s", stdout.String(), stderr.String())
	if code == 0 {
		t.Fatal("crawl --wait with no crawler running exited 0")
	}
	for _, want := range []string{
		"nothing is consuming twin.crawl.requests",
		"is twin up (or twin run crawler) running?",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the output does not say %q", want)
		}
	}
	for _, want := range []string{"gave up waiting (--timeout 3s)", "0 of 1 URLs crawled and stored or failed"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the error does not say %q", want)
		}
	}
}
