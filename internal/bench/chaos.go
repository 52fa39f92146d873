package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/internal/store/vectors/embedded"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/producers/cdc"
	"github.com/twin-llm/twin/streams"
)

// ChaosConfig is what `twin bench chaos` runs.
type ChaosConfig struct {
	Bin   string // the twin binary every process runs
	Dir   string // the data dir, fresh
	Docs  int    // documents ingested; a tenth are then updated, a tenth deleted
	Kills int    // processes killed with SIGKILL (and started again) during the ingest
	Seed  uint64 // picks the victims and the timing
	Dim   int    // dense dimension of the embedded store (the hashed model's)
	// Pause is the time between one victim being back and the next kill
	// (default 1s).
	Pause time.Duration
	// Victims are the processes that may be killed (default: all of them:
	// nats-1..3, writer, cdc, featurizer-1, featurizer-2, embedder).
	Victims []string
	Log     io.Writer
}

// ChaosResult is what it reports. Lost, Duplicated and Stale count
// documents and chunks: a document the warehouse lacks or holds at an
// older version, or a live document without its chunks, is lost; a chunk
// stored twice is duplicated; a chunk of an older revision or of a deleted
// document still in the index, or a document the warehouse holds at an
// older version than was ingested last, is stale.
type ChaosResult struct {
	Docs       int            `json:"docs"`
	Kills      int            `json:"kills"`
	Lost       int            `json:"lost"`
	Duplicated int            `json:"duplicated"`
	Stale      int            `json:"stale"`
	ConvergeS  float64        `json:"converge_s"`
	IngestS    float64        `json:"ingest_s"`
	Updated    int            `json:"updated"`
	Deleted    int            `json:"deleted"`
	Points     int            `json:"points"`
	DLQ        uint64         `json:"dlq"`
	Killed     map[string]int `json:"killed"`
	Problems   []string       `json:"problems,omitempty"`
}

// OK reports whether nothing was lost, duplicated or stale.
func (r ChaosResult) OK() bool { return r.Lost == 0 && r.Duplicated == 0 && r.Stale == 0 && r.DLQ == 0 }

// chaosPipeline are the consumers the pipeline of the chaos run holds.
var chaosPipeline = []string{streams.ConsumerWriter, streams.ConsumerFeaturizer, streams.ConsumerEmbedder}

// Chaos starts the multi-process system (three NATS members with R3
// streams, the warehouse writer, the CDC producer, two featurizers and the
// embedder, each its own process), ingests the documents and changes a
// tenth and deletes a tenth of them while it SIGKILLs random processes and
// starts them again, waits until the pipeline is idle and compares the
// vector store with the warehouse, and both with what was ingested.
func Chaos(ctx context.Context, cfg ChaosConfig) (ChaosResult, error) {
	res := ChaosResult{Docs: cfg.Docs, Killed: map[string]int{}}
	if cfg.Pause <= 0 {
		cfg.Pause = time.Second
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	procs, nc, js, err := startCluster(ctx, cfg.Bin, cfg.Dir, []run{
		{name: "writer", comps: []string{"warehouse"}},
		{name: "cdc", comps: []string{"cdc"}},
		{name: "featurizer-1", comps: []string{"featurizer"}},
		{name: "featurizer-2", comps: []string{"featurizer"}},
		{name: "embedder", comps: []string{"embedder"}},
	}, log)
	if err != nil {
		return res, err
	}
	defer procs.Close()
	defer nc.Close()

	plan := newChaosPlan(cfg.Docs)
	res.Updated, res.Deleted = len(plan.updated), len(plan.deleted)
	files, err := plan.write(cfg.Dir)
	if err != nil {
		return res, err
	}

	ictx, stopIngest := context.WithCancel(ctx)
	defer stopIngest()
	ingested := make(chan error, 1)
	began := time.Now()
	go func() { ingested <- plan.ingest(ictx, procs, files, log) }()

	rng := rand.New(rand.NewPCG(cfg.Seed, 14))
	victims := procs.Names("")
	if len(cfg.Victims) > 0 {
		for _, v := range cfg.Victims {
			if procs.Proc(v) == nil {
				return res, fmt.Errorf("no process %q to kill; the processes are %s", v, strings.Join(victims, ", "))
			}
		}
		victims = cfg.Victims
	}
	var ingestErr error
	ingestDone := false
	for k := 0; k < cfg.Kills; k++ {
		select {
		case ingestErr = <-ingested:
			ingestDone = true
		default:
		}
		if ingestErr != nil {
			return res, fmt.Errorf("ingest: %w", ingestErr)
		}
		v := victims[rng.IntN(len(victims))]
		if err := procs.Kill(v); err != nil {
			return res, err
		}
		res.Kills++
		res.Killed[v]++
		fmt.Fprintf(log, "kill %d/%d: %s (after %s)\n", k+1, cfg.Kills, v, time.Since(began).Round(time.Millisecond))
		sleep(ctx, time.Duration(rng.IntN(500))*time.Millisecond)
		if err := procs.Start(ctx, v); err != nil {
			return res, fmt.Errorf("restart %s after kill %d: %w", v, k+1, err)
		}
		sleep(ctx, cfg.Pause)
	}
	if !ingestDone {
		fmt.Fprintln(log, "kills done; waiting for the ingest...")
		if ingestErr = <-ingested; ingestErr != nil {
			return res, fmt.Errorf("ingest: %w", ingestErr)
		}
	}
	res.IngestS = time.Since(began).Seconds()

	// Converged: every consumer of the pipeline has had nothing pending
	// and nothing unacknowledged for longer than the CDC tail's poll, so
	// no change is still on its way.
	fmt.Fprintln(log, "waiting until the pipeline is idle...")
	settled := time.Now()
	since, err := waitConsumersIdle(ctx, js, cfg.Dir, chaosPipeline, 3*time.Second, 10*time.Minute)
	if err != nil {
		return res, err
	}
	res.ConvergeS = since.Sub(settled).Seconds()
	if res.DLQ, err = streams.NewDLQ(js).Count(ctx, ""); err != nil {
		return res, err
	}

	// The embedded vector store has one owner: stop it to read the store.
	if err := procs.Stop("embedder"); err != nil {
		return res, err
	}
	if err := plan.check(ctx, cfg.Dir, cfg.Dim, &res); err != nil {
		return res, err
	}
	return res, nil
}

// waitConsumersIdle waits until the CDC producer has published every
// change of the warehouse of the data dir and the consumers names have had
// nothing pending or unacknowledged since, for hold; it returns when that
// began.
func waitConsumersIdle(ctx context.Context, js jetstream.JetStream, dir string, names []string, hold, limit time.Duration) (time.Time, error) {
	wh, err := warehouse.OpenSQLite(ctx, filepath.Join(dir, "warehouse.db"))
	if err != nil {
		return time.Time{}, err
	}
	defer wh.Close()
	began := time.Now()
	var since time.Time
	var lastErr error
	for {
		// An error (a member restarting, a leader being elected) is no
		// verdict: the pipeline is not known idle, and the limit bounds
		// the wait.
		up, err := cdcCaughtUp(ctx, js, wh)
		idle := false
		if err == nil && up {
			idle, err = Idle(ctx, js, names...)
		}
		if err != nil {
			idle, lastErr = false, err
		}
		switch {
		case !idle:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= hold:
			return since, nil
		}
		if time.Since(began) > limit {
			return since, fmt.Errorf("the pipeline did not become idle within %s (last error: %v)", limit, lastErr)
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return since, ctx.Err()
		}
	}
}

// cdcCaughtUp reports whether the revision tail's checkpoint has reached
// the warehouse's last revision: every change is published.
func cdcCaughtUp(ctx context.Context, js jetstream.JetStream, wh warehouse.Store) (bool, error) {
	last, err := wh.LastRevision(ctx)
	if err != nil {
		return false, err
	}
	kv, err := js.KeyValue(ctx, cdc.Bucket)
	if err != nil {
		return false, fmt.Errorf("the CDC checkpoint: %w", err)
	}
	e, err := kv.Get(ctx, string(cdc.ModeTail))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return last == 0, nil
	}
	if err != nil {
		return false, fmt.Errorf("the CDC checkpoint: %w", err)
	}
	cp, err := strconv.ParseInt(string(e.Value()), 10, 64)
	if err != nil {
		return false, fmt.Errorf("the CDC checkpoint %q: %w", e.Value(), err)
	}
	return cp >= last, nil
}

// chaosPlan is what the run ingests: document i at version 1, then a
// tenth at version 2 and a tenth deleted.
type chaosPlan struct {
	n       int
	updated map[int]bool
	deleted map[int]bool
}

func newChaosPlan(n int) chaosPlan {
	p := chaosPlan{n: n, updated: map[int]bool{}, deleted: map[int]bool{}}
	for i := range n {
		switch i % 10 {
		case 3:
			p.updated[i] = true
		case 7:
			p.deleted[i] = true
		}
	}
	return p
}

func chaosID(i int) string { return fmt.Sprintf("chaos-%06d", i) }

// chaosContent is document i at version v. Every sentence carries the
// version marker, so that every chunk of it can be told from another
// version's. Some documents of version 1 are long (several chunks) and
// short at version 2, so an update must remove chunks.
func chaosContent(i, v int) string {
	marker := fmt.Sprintf("%s-v%d", chaosID(i), v)
	sentences := 2
	if v == 1 && i%20 == 3 {
		sentences = 120
	}
	var b strings.Builder
	for s := range sentences {
		fmt.Fprintf(&b, "Note %s sentence %d tells about %s and %s under failure. ", marker, s,
			words[(i+s)%len(words)], words[(i*7+s)%len(words)])
		if s%10 == 9 {
			b.WriteString("\n\n")
		}
	}
	return b.String()
}

// write writes the import files: version 1 in ten parts, then version 2
// of the updated documents.
func (p chaosPlan) write(dir string) ([]string, error) {
	var files []string
	parts := 10
	for part := range parts + 1 {
		path := filepath.Join(dir, fmt.Sprintf("chaos-%02d.jsonl", part))
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		enc := json.NewEncoder(f)
		for i := range p.n {
			v := 1
			if part == parts {
				if !p.updated[i] {
					continue
				}
				v = 2
			} else if i/10%parts != part {
				continue
			}
			if err := enc.Encode(map[string]string{"id": chaosID(i), "title": "Chaos " + chaosID(i),
				"author": "Chaos Monkey", "content": chaosContent(i, v)}); err != nil {
				f.Close()
				return nil, err
			}
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		files = append(files, path)
	}
	return files, nil
}

// ingest imports every file (again until it succeeds: a NATS member may
// die under it, and imports are idempotent), the updates right behind
// the first versions, waits until the warehouse holds every last version,
// then deletes a tenth straight in the warehouse, as `twin docs rm` does.
func (p chaosPlan) ingest(ctx context.Context, procs *Procs, files []string, log io.Writer) error {
	for _, f := range files {
		for try := 1; ; try++ {
			ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			_, err := procs.Client(ictx, "import", f)
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil || try == 20 {
				return err
			}
			fmt.Fprintf(log, "import %s failed (try %d), again: %v\n", filepath.Base(f), try, err)
			sleep(ctx, 200*time.Millisecond)
		}
	}
	wh, err := warehouse.OpenSQLite(ctx, filepath.Join(procs.Dir(), "warehouse.db"))
	if err != nil {
		return err
	}
	defer wh.Close()
	// A warehouse that never gets there is the check's to count, as stale.
	if err := p.waitWarehouseIn(ctx, wh, true); err != nil {
		fmt.Fprintf(log, "ingest: %v; deleting anyway\n", err)
	}
	for _, i := range slices.Sorted(maps.Keys(p.deleted)) {
		if _, err := wh.Delete(ctx, warehouse.Articles, chaosID(i)); err != nil {
			return fmt.Errorf("delete %s: %w", chaosID(i), err)
		}
	}
	return nil
}

// waitWarehouseIn waits until wh holds every document, and with updates
// every update at version 2.
func (p chaosPlan) waitWarehouseIn(ctx context.Context, wh warehouse.Store, updates bool) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		docs, err := wh.Changes(ctx, 0, 0)
		if err != nil {
			return err
		}
		have := 0
		for _, d := range docs {
			i := chaosIndex(d.ID)
			if i < 0 {
				continue
			}
			if !updates || !p.updated[i] || strings.Contains(d.Content, chaosID(i)+"-v2") {
				have++
			}
		}
		if have >= p.n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the warehouse holds %d of %d documents at their last version after 2 minutes", have, p.n)
		}
		if !sleep(ctx, 250*time.Millisecond) {
			return ctx.Err()
		}
	}
}

func chaosIndex(id string) int {
	var i int
	if _, err := fmt.Sscanf(id, "chaos-%06d", &i); err != nil {
		return -1
	}
	return i
}

// check compares the warehouse with the plan and the vector store with the
// warehouse.
func (p chaosPlan) check(ctx context.Context, dir string, dim int, res *ChaosResult) error {
	wh, err := warehouse.OpenSQLite(ctx, filepath.Join(dir, "warehouse.db"))
	if err != nil {
		return err
	}
	defer wh.Close()
	docs, err := wh.Changes(ctx, 0, 0)
	if err != nil {
		return err
	}
	vs, err := embedded.Open(filepath.Join(dir, "vectors"), dim)
	if err != nil {
		return err
	}
	defer vs.Close()

	problem := func(format string, args ...any) {
		if len(res.Problems) < 20 {
			res.Problems = append(res.Problems, fmt.Sprintf(format, args...))
		}
	}
	byID := map[string]warehouse.Document{}
	for _, d := range docs {
		byID[d.ID] = d
	}
	live := map[string]warehouse.Document{}
	var deleted []string
	for i := range p.n {
		id := chaosID(i)
		d, ok := byID[id]
		want := 1
		if p.updated[i] {
			want = 2
		}
		switch {
		case !ok:
			res.Lost++
			problem("%s: not in the warehouse", id)
		case p.deleted[i]:
			if !d.Deleted {
				res.Stale++
				problem("%s: deleted, but the warehouse holds it live at revision %d", id, d.Revision)
			}
			deleted = append(deleted, id)
		case d.Deleted:
			res.Lost++
			problem("%s: a tombstone in the warehouse, never deleted", id)
		case !strings.Contains(d.Content, fmt.Sprintf("%s-v%d", id, want)):
			res.Stale++
			problem("%s: the warehouse holds another version than v%d (revision %d)", id, want, d.Revision)
			live[id] = d
		default:
			live[id] = d
		}
	}

	found, err := CheckIndex(ctx, vs, live, deleted, problem)
	if err != nil {
		return err
	}
	res.Points = found.Points
	res.Lost, res.Duplicated, res.Stale = res.Lost+found.Lost, res.Duplicated+found.Duplicated, res.Stale+found.Stale
	return nil
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
