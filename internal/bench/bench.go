// Package bench is the harness of `twin bench`: it measures the pipeline
// on this machine against a twin started for the run in a temporary data
// dir — the ingest rate from write to searchable and its ceilings, the
// freshness of one write, chat latency and the memory of an idle chat
// connection (asked from a client process of its own, see Clients), a
// comparison of the --sync modes, and the crawler's extraction over pages
// on disk (Extract, which needs no twin). Figures come from here, never
// from timed unit tests.
package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/twin-llm/twin/internal/store/warehouse"
)

// System is a twin started for one run, with no component running yet.
type System interface {
	JetStream() jetstream.JetStream
	Warehouse(ctx context.Context) (warehouse.Store, error)
	Metrics() prometheus.Gatherer
	// HTTPAddr is where the HTTP server listens (Spec.HTTP).
	HTTPAddr() string
	// DataDir is the run's temporary data dir, removed by Close.
	DataDir() string
	// Run starts the named components (as twin run names them) and returns
	// once each is ready; they run until Close.
	Run(ctx context.Context, components ...string) error
	// ChatConnections is the number of open chat WebSockets of the gateway.
	ChatConnections() int
	Close()
}

// Spec is what a run asks of its system.
type Spec struct {
	Sync       string // the --sync mode
	MaxStore   int64  // most disk JetStream may use
	HTTP       bool   // serve HTTP on a loopback port (the chat)
	RagWorkers int    // questions answered at once (the chat)
}

// Starter starts a System; the command that wires twin provides it.
type Starter func(ctx context.Context, spec Spec) (System, error)

// StartCPUProfile profiles the process into path until stop; an empty
// path profiles nothing.
func StartCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// WriteAllocProfile writes the allocation profile of the process to path.
func WriteAllocProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

var words = strings.Fields(`stream consumer message queue durable replica cluster shard index vector
embedding chunk token search query answer author article post repository crawl fetch extract page text
latency throughput freshness revision checkpoint snapshot change event feature pipeline model server
client request response retry backoff delivery acknowledge redelivery dead letter window dedup time`)

// generated is a generated document of about 4 KB.
func generated(rng *rand.Rand, prefix string, i int) warehouse.Document {
	var b strings.Builder
	for b.Len() < docSize {
		for w := 0; w < 12 && b.Len() < docSize; w++ {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		b.WriteString(". ")
		if rng.IntN(6) == 0 {
			b.WriteString("\n\n")
		}
	}
	return document(prefix, i, "Generated", b.String())
}

// document is the benchmark's document i under prefix.
func document(prefix string, i int, kind, content string) warehouse.Document {
	return warehouse.Document{ID: fmt.Sprintf("%s-%d", prefix, i), Collection: warehouse.Articles, Author: "Bench Author",
		Platform: "bench", Title: fmt.Sprintf("%s %s %d", kind, prefix, i), Content: content}
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitFor polls an in-process condition, finely: the benchmark's clock
// runs until it holds.
func waitFor(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return context.DeadlineExceeded
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// Percentile is the p-quantile (0..1) of ds by the nearest rank; 0 for
// none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(int(p*float64(len(s))), len(s)-1)]
}
