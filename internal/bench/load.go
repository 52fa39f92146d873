package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// LoadConfig is what `twin bench load` runs.
type LoadConfig struct {
	Bin      string
	Dir      string        // the data dir, fresh
	Preload  int           // documents indexed before the load starts
	Rate     int           // documents ingested per second during the load
	Clients  int           // chat connections asking one question after another
	Duration time.Duration // how long the load lasts
	Log      io.Writer
}

// LoadResult is what it reports.
type LoadResult struct {
	Duration      string             `json:"duration"`
	Ingested      int                `json:"ingested"`
	IngestPerS    float64            `json:"ingested_per_s"`
	Searchable    int                `json:"searchable"`
	FreshnessP50  string             `json:"freshness_p50"`
	FreshnessP99  string             `json:"freshness_p99"`
	Clients       int                `json:"clients"`
	Answers       int                `json:"answers"`
	AnswersPerS   float64            `json:"answers_per_s"`
	ChatErrors    int                `json:"chat_errors"`
	FirstError    string             `json:"first_error,omitempty"`
	FirstTokenP50 string             `json:"first_token_p50"`
	FirstTokenP99 string             `json:"first_token_p99"`
	TotalP50      string             `json:"total_p50"`
	TotalP99      string             `json:"total_p99"`
	PeakRSSMB     map[string]float64 `json:"peak_rss_mb"`
	DrainS        float64            `json:"drain_s"` // from the end of the load until no consumer lags
}

// loadPipeline are the consumers that must drain after the load.
var loadPipeline = []string{streams.ConsumerWriter, streams.ConsumerFeaturizer, streams.ConsumerEmbedder, streams.ConsumerRag}

// Load starts the multi-process system (three NATS members, R3; the
// warehouse writer and CDC; two featurizers; the embedder with the rag
// worker and the gateway beside it on the embedded vector store), indexes
// Preload documents, then for Duration ingests Rate documents a second
// while Clients chat connections ask question after question, and reports
// throughput, freshness and latency percentiles, each process's peak
// memory, and how long the lag took to return to zero after the load.
func Load(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	res := LoadResult{Clients: cfg.Clients, PeakRSSMB: map[string]float64{}}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	procs, nc, js, err := startCluster(ctx, cfg.Bin, cfg.Dir, []run{
		{name: "store", comps: []string{"warehouse", "cdc"}},
		{name: "featurizer-1", comps: []string{"featurizer"}},
		{name: "featurizer-2", comps: []string{"featurizer"}},
		// The clients are the load, not abusers: no per-connection limit.
		{name: "serve", comps: []string{"embedder", "rag", "gateway"}, http: true, extra: []string{"--chat-ask-rate", "-1"}},
	}, log)
	if err != nil {
		return res, err
	}
	defer procs.Close()
	defer nc.Close()

	perSecond := max(cfg.Rate, 1)
	seconds := max(int(cfg.Duration/time.Second), 1)
	rng := rand.New(rand.NewPCG(3, 14))
	preload, err := writeLoadFile(cfg.Dir, "preload", 0, cfg.Preload, rng)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(log, "indexing %d documents first...\n", cfg.Preload)
	if out, err := procs.Client(ctx, "import", preload, "--wait", "--server", "http://"+procs.Proc("serve").HTTP); err != nil {
		return res, fmt.Errorf("preload: %w: %s", err, out)
	}
	var files []string
	for s := range seconds {
		f, err := writeLoadFile(cfg.Dir, "load", s*perSecond, perSecond, rng)
		if err != nil {
			return res, err
		}
		files = append(files, f)
	}

	// Freshness: from each change's origin to its index event.
	index, err := js.Stream(ctx, streams.StreamIndex)
	if err != nil {
		return res, err
	}
	events, err := index.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return res, err
	}
	var mu sync.Mutex // guards fresh
	fresh := map[string]time.Duration{}
	cc, err := events.Consume(func(m jetstream.Msg) {
		var ev schemas.IndexEvent
		if schemas.Decode(m.Data(), &ev) != nil || ev.Op != schemas.OpUpsert || !strings.HasPrefix(ev.DocumentID, "load-") {
			return
		}
		mu.Lock()
		if _, ok := fresh[ev.DocumentID]; !ok {
			fresh[ev.DocumentID] = time.Since(ev.OriginTime)
		}
		mu.Unlock()
	})
	if err != nil {
		return res, err
	}
	defer cc.Stop()

	fmt.Fprintf(log, "load: %d documents/s and %d chat connections for %s...\n", perSecond, cfg.Clients, cfg.Duration)
	lctx, stop := context.WithTimeout(ctx, cfg.Duration)
	defer stop()
	began := time.Now()
	var wg sync.WaitGroup
	var ingestErr error
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for _, f := range files {
			if _, err := procs.Client(ctx, "import", f); err != nil {
				ingestErr = err
				return
			}
			res.Ingested += perSecond
			select {
			case <-lctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	var rep ClientReport
	url := "ws://" + procs.Proc("serve").HTTP + "/v1/chat"
	for c := range cfg.Clients {
		wg.Go(func() {
			conn, _, err := websocket.Dial(lctx, url, nil)
			if err != nil {
				mu.Lock()
				rep.Errors++
				rep.FirstError = cmpOr(rep.FirstError, err.Error())
				mu.Unlock()
				return
			}
			defer conn.CloseNow()
			conn.SetReadLimit(8 << 20)
			r := rand.New(rand.NewPCG(uint64(c), 9))
			for i := 0; lctx.Err() == nil; i++ {
				q := fmt.Sprintf("What do you say about %s and %s?", words[r.IntN(len(words))], words[r.IntN(len(words))])
				first, total, err := timeAnswer(ctx, conn, "load"+strconv.Itoa(c)+"-"+strconv.Itoa(i), q)
				mu.Lock()
				if err != nil && lctx.Err() == nil {
					rep.Errors++
					rep.FirstError = cmpOr(rep.FirstError, err.Error())
				} else if err == nil {
					rep.FirstToken = append(rep.FirstToken, first)
					rep.Total = append(rep.Total, total)
				}
				mu.Unlock()
				if err != nil {
					sleep(lctx, 100*time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(began)
	if ingestErr != nil {
		return res, fmt.Errorf("ingest during the load: %w", ingestErr)
	}
	for _, n := range procs.Names("") {
		if mb, err := peakRSSMB(procs.PID(n)); err == nil {
			res.PeakRSSMB[n] = mb
		}
	}

	// The lag returns to zero once the load stops.
	ended := time.Now()
	since, err := waitConsumersIdle(ctx, js, cfg.Dir, loadPipeline, time.Second, 10*time.Minute)
	if err != nil {
		return res, err
	}
	res.DrainS = since.Sub(ended).Seconds()
	if err := waitFor(ctx, time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(fresh) >= res.Ingested
	}); err != nil {
		fmt.Fprintf(log, "only %d of %d documents announced as indexed\n", len(fresh), res.Ingested)
	}

	res.Duration = took.Round(time.Millisecond).String()
	res.IngestPerS = float64(res.Ingested) / took.Seconds()
	mu.Lock()
	var lat []time.Duration
	for _, d := range fresh {
		lat = append(lat, d)
	}
	res.Searchable = len(fresh)
	mu.Unlock()
	res.FreshnessP50, res.FreshnessP99 = round(Percentile(lat, .5)), round(Percentile(lat, .99))
	res.Answers, res.ChatErrors, res.FirstError = len(rep.Total), rep.Errors, rep.FirstError
	res.AnswersPerS = float64(len(rep.Total)) / took.Seconds()
	res.FirstTokenP50, res.FirstTokenP99 = round(Percentile(rep.FirstToken, .5)), round(Percentile(rep.FirstToken, .99))
	res.TotalP50, res.TotalP99 = round(Percentile(rep.Total, .5)), round(Percentile(rep.Total, .99))
	return res, nil
}

func round(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// writeLoadFile writes documents first..first+n-1 of prefix in the import
// format.
func writeLoadFile(dir, prefix string, first, n int, rng *rand.Rand) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("%s-%06d.jsonl", prefix, first))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	enc := json.NewEncoder(f)
	var src Docs
	for i := first; i < first+n; i++ {
		d := src.doc(rng, prefix, i)
		if err := enc.Encode(map[string]string{"id": d.ID, "title": d.Title, "author": d.Author, "content": d.Content}); err != nil {
			f.Close()
			return "", err
		}
	}
	return path, f.Close()
}

// peakRSSMB is the peak resident memory (VmHWM) of process pid, in MiB.
func peakRSSMB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM for pid %d", pid)
}
