package main

import (
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/streams"
)

// TestGracefulStopUnderLoadLosesNothing stops `twin up` with SIGTERM, the
// way Kubernetes does, while an import is flowing through the pipeline
// and clients search: it must exit cleanly (status 0, within a minute),
// and after a restart and a second run of the import every document must
// be indexed once at its revision, with nothing dead-lettered. A stop that
// dropped in-flight messages, acked before writing, or hung on a busy
// consumer fails here.
func TestGracefulStopUnderLoadLosesNothing(t *testing.T) {
	up, docs := startCrashUp(t)

	// Searches hit the gateway the whole time, also while it stops.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var searched atomic.Int64
	for range 4 {
		wg.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			q := "http://" + up.http + "/v1/search?q=" + url.QueryEscape("crash document text")
			for {
				select {
				case <-stop:
					return
				default:
				}
				if resp, err := client.Get(q); err == nil {
					resp.Body.Close()
					searched.Add(1)
				}
			}
		})
	}

	if out, err := up.client(t, "import", docs); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	testwait.Until(t, 2*time.Minute, "the first documents indexed", func() bool { return up.indexed(t) >= 200 })
	atStop := up.indexed(t)
	began := time.Now()
	up.terminate(t) // fails the test unless it exits 0 within a minute
	took := time.Since(began)
	close(stop)
	wg.Wait()
	if atStop >= crashDocs {
		t.Fatalf("the stop came after the ingest finished; nothing was tested")
	}
	t.Logf("stopped with %d of %d documents indexed and %d searches served, in %s", atStop, crashDocs, searched.Load(), took.Round(time.Millisecond))

	up.start(t)
	if out, err := up.client(t, "import", docs, "--wait"); err != nil {
		t.Fatalf("import again after the restart: %v\n%s", err, out)
	}
	testwait.Until(t, 2*time.Minute, "the pipeline to be idle after the restart", func() bool { return up.idle(t) })
	if n := up.messages(t, streams.StreamDLQ); n != 0 {
		t.Errorf("the DLQ holds %d messages, want 0", n)
	}
	up.terminate(t)
	checkIndexMatchesWarehouse(t, up.dir)
}
