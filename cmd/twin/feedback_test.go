package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/store/warehouse"
)

// TestFeedbackImportNamesTheDocumentsTwinImportStored runs a tiny BEIR
// dataset through the embedded stack: the corpus with twin import, its
// judgments with twin feedback import. Every judgment lands in the
// warehouse, once however often it is imported, and names by its corpus-id
// the very document twin import stored and search returns.
func TestFeedbackImportNamesTheDocumentsTwinImportStored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startUp(t, dir)
	corpus := writeTemp(t, strings.Join([]string{
		`{"_id":"4983","title":"Microstructural development of human newborn cerebral white matter","text":"Alterations of the architecture of cerebral white matter in the developing human brain can affect cortical development. Diffusion tensor imaging measured water diffusion in preterm infants."}`,
		`{"_id":"5836","title":"Induction of myelodysplasia by myeloid-derived suppressor cells","text":"Myelodysplastic syndromes are age-dependent stem cell malignancies. Myeloid-derived suppressor cells expand in the bone marrow of patients."}`,
		`{"_id":"7912","title":"BC1 RNA motifs required for dendritic transport","text":"Neuronal BC1 RNA is delivered to dendrites by a transport mechanism that depends on spatial RNA motifs."}`,
	}, "\n")+"\n")
	if out, err := p.twin(t, "import", corpus, "--kind", "article", "--author", "SciFact", "--wait"); err != nil || !strings.Contains(out, "searchable") {
		t.Fatalf("twin import: %q %v", out, err)
	}
	queries := writeTemp(t, `{"_id":"1","text":"white matter diffusion in preterm infants"}`+"\n"+
		`{"_id":"3","text":"myeloid-derived suppressor cells in myelodysplasia"}`+"\n")
	qrels := writeTemp(t, "query-id\tcorpus-id\tscore\n1\t4983\t1\n3\t5836\t1\n3\t7912\t0\n9\t4983\t1\n")

	out, err := p.twin(t, "feedback", "import", queries, "--qrels", qrels, "--wait", "--timeout", "30s")
	if err != nil {
		t.Fatalf("twin feedback import: %q %v", out, err)
	}
	for _, want := range []string{"read 3 judgments: 3 published, 0 already published, 1 bad lines skipped", filepath.Base(qrels) + ":5: query \"9\" is not in the queries", "stored them"} {
		if !strings.Contains(out, want) {
			t.Errorf("twin feedback import printed\n%s\nwant it to say %q", out, want)
		}
	}
	// Again, and once more in the other layout with one new judgment.
	if out, err := p.twin(t, "feedback", "import", qrels, "--queries", queries, "--wait", "--timeout", "30s"); err != nil || !strings.Contains(out, "0 published, 3 already published") {
		t.Fatalf("the same import again: %q %v, want everything already published", out, err)
	}
	jsonl := writeTemp(t, `{"query":"white matter diffusion in preterm infants","document_id":"4983","grade":1}`+"\n"+
		`{"query":"BC1 RNA in dendrites","document_id":"7912","grade":2}`+"\n")
	if out, err := p.twin(t, "feedback", "import", jsonl, "--wait", "--timeout", "30s"); err != nil || !strings.Contains(out, "1 published, 1 already published") {
		t.Fatalf("twin feedback import of JSON lines: %q %v", out, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := warehouse.OpenSQLite(ctx, filepath.Join(dir, "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	got, err := store.ListJudgments(ctx, warehouse.JudgmentListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("the warehouse holds %d judgments, want 4 (three imported twice, one more): %+v", len(got), got)
	}
	for _, j := range got {
		if j.Source != "import" {
			t.Errorf("judgment %+v: source %q, want import", j, j.Source)
		}
		// The corpus-id is the warehouse id twin import gave the document...
		if _, err := store.Get(ctx, warehouse.Articles, j.DocumentID); err != nil {
			t.Errorf("judgment of %q names document %q, which twin import did not store: %v", j.Query, j.DocumentID, err)
		}
		// ... and the id search (and so the chat's sources) returns.
		found := false
		for _, h := range search(t, p, j.Query, "") {
			found = found || h.DocumentID == j.DocumentID
		}
		if !found && j.Grade > 0 {
			t.Errorf("a search for %q does not return document %q that the judgment names", j.Query, j.DocumentID)
		}
	}
	if _, body := get(t, p.http+"/metrics"); !strings.Contains(body, `twin_feedback_judgments_total{source="import"} 4`) {
		t.Errorf("/metrics does not count 4 imported judgments:\n%s", grepLines(body, "twin_feedback_judgments_total"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
