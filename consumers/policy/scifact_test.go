package policy_test

import (
	"bufio"
	"encoding/json"
	"github.com/twin-llm/twin/internal/testwait"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/consumers/policy"
	"github.com/twin-llm/twin/internal/evaldata"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// TestSciFactTrainingJudgmentsTriggerRerankOnce imports SciFact's training
// judgments as twin feedback import publishes them and checks that the
// policy, with its default thresholds, asks for one rerank training.
func TestSciFactTrainingJudgmentsTriggerRerankOnce(t *testing.T) {
	t.Parallel()
	dir := evaldata.Path("scifact")
	if dir == "" {
		t.Skip("no shared/data/scifact")
	}
	queries := map[string]string{}
	qf, err := os.Open(filepath.Join(dir, "queries.train.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer qf.Close()
	for sc := bufio.NewScanner(qf); sc.Scan(); {
		var q struct {
			ID   string `json:"_id"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			t.Fatal(err)
		}
		queries[q.ID] = q.Text
	}
	qrels, err := os.ReadFile(filepath.Join(dir, "qrels", "train.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var outs []streams.Out
	for i, line := range strings.Split(strings.TrimSpace(string(qrels)), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) != 3 || queries[f[0]] == "" {
			continue // the header
		}
		id := "scifact-train-" + f[0] + "-" + f[1]
		outs = append(outs, streams.Out{Subject: schemas.FeedbackSubject(schemas.FeedbackRelevance), MsgID: id,
			Body: &schemas.Judgment{ID: id, Query: queries[f[0]], DocumentID: f[1], Grade: schemas.GradeRelevant, Source: schemas.JudgmentImport}})
	}
	if len(outs) < 2*policy.DefaultThresholds().NewJudgments {
		t.Fatalf("%d judgments read from SciFact's training set", len(outs))
	}
	th := policy.DefaultThresholds()
	th.NewDocuments, th.NegativeRate, th.DriftPSI = 0, 0, 0 // nothing else publishes here
	f := newFixture(t, th)
	r := f.start()
	if _, err := f.pub.PublishBatch(t.Context(), outs); err != nil {
		t.Fatal(err)
	}
	// While the import streams in, the rule settles: a trigger at the
	// first 200 would train on a fifth of the set.
	testwait.Until(t, 30*time.Second, "every judgment counted", func() bool {
		return metric(t, r.reg, "twin_policy_value", map[string]string{"cause": "judgments"}) == float64(len(outs))
	})
	f.wantTriggers(0, "SciFact's training judgments still arriving")
	f.clock.advance(th.Settle + time.Second)
	if err := r.p.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := f.wantTriggers(1, "SciFact's training judgments, settled")
	tr := got[0].body
	if tr.Kind != schemas.TrainingRerank || tr.Metrics["new_judgments"] != float64(len(outs)) {
		t.Errorf("trigger %+v: want rerank with all %d judgments", tr, len(outs))
	}
	if v := metric(t, r.reg, "twin_policy_value", map[string]string{"cause": "judgments"}); v != float64(len(outs)) {
		t.Errorf("new judgments counted: %g, want %d", v, len(outs))
	}
	t.Logf("%d SciFact judgments: one trigger, %q", len(outs), tr.Reason)
}
