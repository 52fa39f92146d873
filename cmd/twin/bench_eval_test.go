package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/bench"
	"github.com/twin-llm/twin/internal/evaluate"
)

func TestEvalRetrievalImportsTheCorpusAndScoresSearch(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	corpus := writeTemp(t, `{"_id":"d1","title":"Zebras","text":"Zebras have black and white stripes on the savanna."}
{"_id":"d2","title":"Giraffes","text":"Giraffes have long necks to reach the acacia leaves."}
{"_id":"d3","title":"Penguins","text":"Penguins swim in cold antarctic water and cannot fly."}
`)
	queries := writeTemp(t, `{"_id":"q1","text":"zebras stripes"}
{"_id":"q2","text":"giraffes necks acacia"}
{"_id":"q3","text":"not judged"}
`)
	qrels := writeTemp(t, "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
	out, err := p.twin(t, "eval", "retrieval", "--corpus", corpus, "--queries", queries, "--qrels", qrels, "--json")
	if err != nil {
		t.Fatalf("twin eval retrieval: %v\n%s", err, out)
	}
	var res evaluate.RetrievalResult
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	// Each query names its document in words no other one has.
	if res.Queries != 2 || res.NDCG != 1 || res.Recall100 != 1 || res.MRR10 != 1 {
		t.Errorf("twin eval retrieval = %+v, want 2 queries each ranking its document first", res)
	}
}

func TestBenchIngestMeasuresEveryPhase(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"bench", "ingest", "--docs", "200", "--freshness-docs", "20", "--rate", "200", "--sync", "interval", "--json"},
		&out, &errOut, noEnv)
	if code != 0 {
		t.Fatalf("twin bench ingest exited %d:\n%s", code, errOut.String())
	}
	var res bench.IngestResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if res.Docs != 200 || res.Sync != "interval" || res.PublishRate <= 0 || res.WarehouseRate <= 0 || res.IngestRate <= 0 ||
		res.IngestCPUPerDoc <= 0 || res.FreshnessP50 == "" || res.FreshnessP50 == "0s" || res.Stages["embedder"] <= 0 {
		t.Errorf("twin bench ingest = %+v: want every phase measured", res)
	}
	for _, phase := range []string{"raw JetStream publish", "warehouse bulk write", "ingest of 200 documents", "freshness at 200 docs/s"} {
		if !strings.Contains(errOut.String(), phase) {
			t.Errorf("the progress does not name %q:\n%s", phase, errOut.String())
		}
	}
}

func TestBenchSyncRefusesAnUnknownMode(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := execute(context.Background(), []string{"bench", "sync", "--modes", "never"}, &out, &errOut, noEnv); code == 0 ||
		!strings.Contains(errOut.String(), `sync mode "never"`) {
		t.Errorf("twin bench sync --modes never exited %d: %s", code, errOut.String())
	}
}

func TestBenchChatAsksFromAClientProcess(t *testing.T) {
	t.Parallel()
	// The built binary: the benchmark starts itself again as the client.
	bin := buildTwin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "bench", "chat", "-c", "3", "-n", "12", "--docs", "40", "--idle", "5", "--json")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("twin bench chat: %v\n%s", err, errOut.String())
	}
	var res bench.ChatResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if res.Clients != 3 || res.Questions != 12 || res.Errors != 0 || res.AnswersPerSec <= 0 ||
		res.FirstTokenP50 == "" || res.FirstTokenP50 == "0s" || res.TotalP99 == "" || res.Idle != 5 {
		t.Errorf("twin bench chat = %+v: want 12 answers over 3 connections, timed, and 5 idle connections held", res)
	}
}
