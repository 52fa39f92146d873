package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/twin-llm/twin/internal/evaluate"
)

func TestEvalAnswersScoresTheExtractiveAnswerer(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	docs := filepath.Join(t.TempDir(), "docs.jsonl")
	posts := `{"id":"jetstream","title":"Why JetStream","text":"JetStream keeps messages on disk until a consumer acknowledges them. A consumer that crashes gets its messages again after the ack wait."}
{"id":"sqlite","title":"SQLite indexes","text":"An index on the columns of the WHERE clause makes SQLite queries fast. Without one SQLite scans the whole table."}
`
	if err := os.WriteFile(docs, []byte(posts), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := p.twin(t, "import", docs, "--author", "Ada", "--kind", "post", "--wait"); err != nil {
		t.Fatalf("twin import: %q %v", out, err)
	}
	questions := filepath.Join(t.TempDir(), "questions.jsonl")
	set := `{"query":"What happens when a JetStream consumer crashes?"}
{"question":"How do indexes make SQLite queries fast?"}
{"instruction":"What is your favourite pasta recipe?"}
not json
{"output":"no question here"}
`
	if err := os.WriteFile(questions, []byte(set), 0o600); err != nil {
		t.Fatal(err)
	}
	metrics := filepath.Join(t.TempDir(), "metrics.json")
	out, err := p.twin(t, "eval", "answers", "--questions", questions, "--json", "--metrics-out", metrics)
	if err != nil {
		t.Fatalf("twin eval answers: %q %v", out, err)
	}
	var s evaluate.AnswerScores
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	// The extractive answerer quotes the author: what it says is grounded.
	// The pasta question finds nothing, and says so.
	if s.Questions != 3 || s.Answered != 3 || s.Groundedness < 0.99 || s.CitationPrecision < 0.99 ||
		s.RefusalRate < 0.3 || s.RefusalRate > 0.34 || s.TotalP95MS <= 0 {
		t.Fatalf("scores %+v", s)
	}
	var m map[string]float64
	if data, err := os.ReadFile(metrics); err != nil || json.Unmarshal(data, &m) != nil || m["groundedness"] != s.Groundedness {
		t.Fatalf("metrics file %q (%v): want the groundedness %v", data, err, s.Groundedness)
	}
}
