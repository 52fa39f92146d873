package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/bench"
	"github.com/twin-llm/twin/internal/store/vectors/qdrant/qdranttest"
	"github.com/twin-llm/twin/streams"
)

// TestSeparateProcessesOnANATSClusterIngestAndChat runs twin as docs/
// scale-out.md deploys it on one machine: three twin nats members with R3
// streams, and as separate twin run processes the store owners (warehouse
// writer and CDC on the SQLite warehouse, the embedder), two featurizers,
// two rag workers and two gateways. It checks that the store owners refuse
// a second start, ingests through one gateway and searches and chats
// through both, and that each process of a stateless component takes work
// from the durable it shares with its twin.
//
// Qdrant cannot run here: the vector store is qdranttest, a fake that
// serves Qdrant's gRPC API through the real client on top of twin's
// embedded store (see internal/store/vectors/qdrant/README.md for what it
// does not prove). With the embedded vector store, rag and gateway would
// have to run in the embedder's process.
func TestSeparateProcessesOnANATSClusterIngestAndChat(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts eleven processes; skipped with -short")
	}
	t.Parallel()
	bin := buildTwin(t)
	q := qdranttest.Start(t)
	dir := t.TempDir()
	procs, err := bench.NewProcs(bin, dir, 3, 3, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	qf := []string{"--qdrant", q.Addr()}
	for _, r := range []struct {
		name  string
		comps []string
		extra []string
	}{
		{"store", []string{"warehouse", "cdc"}, nil},
		{"embedder", []string{"embedder"}, qf},
		{"featurizer-1", []string{"featurizer"}, nil},
		{"featurizer-2", []string{"featurizer"}, nil},
		{"rag-1", []string{"rag"}, qf},
		{"rag-2", []string{"rag"}, qf},
		{"gateway-1", []string{"gateway"}, qf},
		{"gateway-2", []string{"gateway"}, qf},
	} {
		if _, err := procs.AddRun(r.name, r.comps, true, r.extra...); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		if err := procs.Close(); err != nil {
			t.Errorf("a process did not stop cleanly: %v", err)
		}
	})
	if err := procs.StartAll(ctx); err != nil {
		t.Fatal(err)
	}
	gw1 := "http://" + procs.Proc("gateway-1").HTTP
	gw2 := "http://" + procs.Proc("gateway-2").HTTP

	// The store owners run once per data dir; the refusal names the holder.
	for _, comp := range []string{"warehouse", "cdc"} {
		out, err := procs.Client(ctx, "run", comp, "--http", "off")
		pid := "pid " + strconv.Itoa(procs.PID("store"))
		if err == nil || !strings.Contains(out, "runs once per data dir") || !strings.Contains(out, pid) {
			t.Errorf("a second twin run %s: %v\n%s\nwant a refusal naming %s", comp, err, out, pid)
		}
	}

	// Each featurizer alone takes the work of the shared durable.
	docs := writeClusterDocs(t, 40)
	for i, alone := range []string{"featurizer-1", "featurizer-2"} {
		other := "featurizer-" + strconv.Itoa(2-i)
		if err := procs.Stop(other); err != nil {
			t.Fatal(err)
		}
		if out, err := procs.Client(ctx, "import", docs[i], "--wait", "--server", gw1); err != nil {
			t.Fatalf("import with only %s running: %v\n%s", alone, err, out)
		}
		// Read before the next round restarts it: counters start at 0.
		if n := acked(t, procs.Proc(alone).HTTP, streams.ConsumerFeaturizer); n == 0 {
			t.Errorf("%s acked no message of the featurizer durable", alone)
		}
		if err := procs.Start(ctx, other); err != nil {
			t.Fatal(err)
		}
	}

	// Searchable through the other gateway.
	var hits struct {
		Hits []struct {
			Payload struct {
				DocumentID string `json:"document_id"`
			} `json:"payload"`
		} `json:"hits"`
	}
	getJSON(t, gw2+"/v1/search?q=lighthouse+keeper+cluster-00007&k=3", &hits)
	if len(hits.Hits) == 0 {
		t.Fatalf("search through gateway-2 found nothing")
	}

	// Chat through both gateways, each rag worker answering alone once.
	for i, alone := range []string{"rag-1", "rag-2"} {
		other := "rag-" + strconv.Itoa(2-i)
		if err := procs.Stop(other); err != nil {
			t.Fatal(err)
		}
		gw := []string{gw1, gw2}[i]
		out, err := procs.Client(ctx, "chat", "What did the lighthouse keeper of note cluster-00012 see?", "--server", gw, "--json")
		if err != nil {
			t.Fatalf("chat through %s with only %s: %v\n%s", gw, alone, err, out)
		}
		var done struct {
			Answer  string `json:"answer"`
			Sources []struct {
				DocumentID string `json:"document_id"`
			} `json:"sources"`
		}
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &done); err != nil || done.Answer == "" || len(done.Sources) == 0 {
			t.Fatalf("chat through %s: %v, answer %q with %d sources:\n%s", gw, err, done.Answer, len(done.Sources), out)
		}
		if n := acked(t, procs.Proc(alone).HTTP, streams.ConsumerRag); n == 0 {
			t.Errorf("%s answered no question", alone)
		}
		if err := procs.Start(ctx, other); err != nil {
			t.Fatal(err)
		}
	}
}

// writeClusterDocs writes two import files of n documents each.
func writeClusterDocs(t *testing.T, n int) [2]string {
	t.Helper()
	var files [2]string
	for part := range files {
		files[part] = filepath.Join(t.TempDir(), fmt.Sprintf("part%d.jsonl", part))
		f, err := os.Create(files[part])
		if err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(f)
		for i := part * n; i < (part+1)*n; i++ {
			id := fmt.Sprintf("cluster-%05d", i)
			if err := enc.Encode(map[string]string{"id": id, "title": "Note " + id, "author": "Cluster Test",
				"content": fmt.Sprintf("Note %s: the lighthouse keeper saw %d ships pass the northern cape in the fog, and wrote each name down.", id, i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// acked reads from the /metrics of the process at addr how many messages
// its consumer acked.
func acked(t *testing.T, addr, consumer string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want := fmt.Sprintf(`twin_consumer_messages_total{consumer=%q,outcome="ack"} `, consumer)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s%s: %v", want, v, err)
			}
			return n
		}
	}
	return 0
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
