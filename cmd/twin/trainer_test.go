package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
)

// TestTheCommandExecutorTrainsAndTheModelIsRegistered runs an sft job
// through a real program: the trainer builds the instruction dataset from
// the warehouse, the program reads it from TWIN_DATASET_DIR and writes its
// model and metrics to TWIN_OUTPUT_DIR, and the version is registered.
// Without an evaluation to compare it stays a candidate.
func TestTheCommandExecutorTrainsAndTheModelIsRegistered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	program := filepath.Join(dir, "train.sh")
	script := `#!/bin/sh
set -e
test "$TWIN_TRAINING_KIND" = sft
lines=$(wc -l < "$TWIN_DATASET_DIR/train.jsonl")
test "$lines" -gt 0
echo "trained on $lines pairs"
echo "weights of $TWIN_JOB_ID" > "$TWIN_OUTPUT_DIR/adapter.bin"
echo "{\"train_pairs\": $lines}" > "$TWIN_OUTPUT_DIR/metrics.json"
`
	if err := os.WriteFile(program, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p := startUp(t, t.TempDir(), "--trainer", "command", "--trainer-command", program)
	docs := filepath.Join(dir, "docs.jsonl")
	var b strings.Builder
	for _, post := range []struct{ id, title, text string }{
		{"jetstream", "Why JetStream", "# Why JetStream\n\nJetStream keeps messages on disk until a consumer acknowledges them. A consumer that crashes gets its messages again after the ack wait, so nothing is lost when a process dies in the middle of its work.\n\n## Replicas\n\nWith three replicas a stream survives the loss of one server. The leader orders the writes and the followers confirm them before the publisher gets its acknowledgement."},
		{"sqlite", "SQLite indexes", "# SQLite indexes\n\nAn index on the columns of the WHERE clause makes SQLite queries fast. Without one SQLite scans the whole table, which is fine for a thousand rows and slow for a million.\n\n## Covering indexes\n\nWhen the index holds every column the query reads, SQLite never touches the table at all. EXPLAIN QUERY PLAN says so with the words USING COVERING INDEX."},
	} {
		line, _ := json.Marshal(map[string]string{"id": post.id, "title": post.title, "text": post.text})
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(docs, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := p.twin(t, "import", docs, "--author", "Ada", "--kind", "post", "--wait"); err != nil {
		t.Fatalf("twin import: %q %v", out, err)
	}
	out, err := p.twin(t, "train", "trigger", "--kind", "sft", "--wait", "--timeout", "2m")
	if err != nil || !strings.Contains(out, "succeeded") {
		t.Fatalf("twin train trigger --kind sft --wait = %q, %v", out, err)
	}
	var ls struct{ Models []warehouse.ModelRecord }
	out, err = p.twin(t, "models", "ls", "llm", "--json")
	if err != nil || json.Unmarshal([]byte(out), &ls) != nil || len(ls.Models) != 1 {
		t.Fatalf("twin models ls llm --json = %q, %v; want one version", out, err)
	}
	m := ls.Models[0]
	if m.Kind != schemas.TrainingSFT || m.State != schemas.ModelCandidate || m.Metrics["train_pairs"] < 1 || len(m.Datasets) != 1 ||
		!strings.HasPrefix(m.ArtifactURI, "file://") {
		t.Fatalf("the registered version %+v: want an sft candidate with the program's metrics, its dataset and its output", m)
	}
	artifact := strings.TrimPrefix(m.ArtifactURI, "file://")
	if data, err := os.ReadFile(filepath.Join(artifact, "adapter.bin")); err != nil || !strings.Contains(string(data), m.JobID) {
		t.Fatalf("the artifact %s: %q, %v", artifact, data, err)
	}
}
