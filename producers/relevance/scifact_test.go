package relevance

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/evaldata"
	"github.com/twin-llm/twin/schemas"
)

// TestSciFactTrainingJudgmentsNameCorpusDocuments reads SciFact's training
// queries and qrels as twin feedback import does: every line is good, and
// every corpus-id is an _id of the corpus, which twin import keeps as the
// warehouse id. Skipped when the data is not beside the repository.
func TestSciFactTrainingJudgmentsNameCorpusDocuments(t *testing.T) {
	t.Parallel()
	dir := evaldata.Path("scifact")
	if dir == "" {
		t.Skip("shared/data/scifact is absent")
	}
	qf, err := os.Open(filepath.Join(dir, "queries.train.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer qf.Close()
	queries, bad, err := ReadQueries(qf, "queries.train.jsonl")
	if err != nil || len(bad) != 0 {
		t.Fatalf("queries: %v, bad lines %v", err, bad)
	}
	rf, err := os.Open(filepath.Join(dir, "qrels", "train.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	var js []schemas.Judgment
	bad, err = ReadQrels(rf, "train.tsv", queries, time.Now(), func(j schemas.Judgment) error {
		js = append(js, j)
		return nil
	})
	if err != nil || len(bad) != 0 {
		t.Fatalf("qrels: %v, bad lines %v", err, bad)
	}
	if len(js) != 919 {
		t.Errorf("%d judgments from train.tsv, want its 919 pairs", len(js))
	}
	corpus := corpusIDs(t, filepath.Join(dir, "corpus.jsonl.gz"))
	ids := map[string]bool{}
	for _, j := range js {
		if !corpus[j.DocumentID] {
			t.Errorf("judgment of %q names %q, not a corpus _id", j.Query, j.DocumentID)
		}
		ids[j.ID] = true
	}
	t.Logf("%d queries, %d judgments, %d distinct judgment ids, %d corpus documents", len(queries), len(js), len(ids), len(corpus))
}

func corpusIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var d struct {
			ID string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		ids[d.ID] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}
