package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket/wsjson"

	"github.com/twin-llm/twin/consumers/datasets"
	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/testwait"
)

// TestDatasetBuildOnTheEmbeddedStack imports the TIL posts into a running
// twin and builds each kind of dataset through the gateway, as a user does.
func TestDatasetBuildOnTheEmbeddedStack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startUp(t, dir)
	if out, err := p.twin(t, "import", "../../testdata/simonw-til/til-sample.jsonl", "--author", "Simon Willison",
		"--kind", "post", "--wait"); err != nil {
		t.Fatalf("import: %q %v", out, err)
	}
	outDir := t.TempDir()

	for _, kind := range []string{datasets.KindInstruct, datasets.KindPreference} {
		t.Run(kind, func(t *testing.T) {
			out := filepath.Join(outDir, kind)
			stdout, err := p.twin(t, "dataset", "build", "--kind", kind, "--author", "Simon Willison", "--out", out, "--seed", "4", "--test-share", "0.2")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("twin dataset build --kind %s:\n%s", kind, stdout)
			var manifest warehouse.DatasetRecord
			raw, err := os.ReadFile(filepath.Join(out, datasets.ManifestFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &manifest); err != nil {
				t.Fatal(err)
			}
			if manifest.Kept == 0 || manifest.Test == 0 || manifest.Kind != kind || manifest.URI != out {
				t.Fatalf("manifest %+v: want examples in both splits at %s", manifest, out)
			}
			if !strings.Contains(stdout, "train ") || !strings.Contains(stdout, manifest.ID) {
				t.Errorf("build printed %q, want the counts and the id %s", stdout, manifest.ID)
			}
			for _, f := range []string{datasets.TrainFile, datasets.TestFile} {
				raw, err := os.ReadFile(filepath.Join(out, f))
				if err != nil {
					t.Fatal(err)
				}
				for i, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
					var m map[string]any
					if err := json.Unmarshal(line, &m); err != nil {
						t.Fatalf("%s line %d: %v", f, i+1, err)
					}
					want := []string{"instruction", "output"}
					if kind == datasets.KindPreference {
						want = []string{"prompt", "chosen", "rejected"}
					}
					for _, k := range want {
						if s, _ := m[k].(string); s == "" {
							t.Errorf("%s line %d has no %q: %v", f, i+1, k, m)
						}
					}
				}
			}
			// The same seed and data give the same files.
			again := filepath.Join(outDir, kind+"-again")
			if _, err := p.twin(t, "dataset", "build", "--kind", kind, "--author", "Simon Willison", "--out", again, "--seed", "4", "--test-share", "0.2"); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{datasets.TrainFile, datasets.TestFile} {
				a, _ := os.ReadFile(filepath.Join(out, f))
				b, _ := os.ReadFile(filepath.Join(again, f))
				if !bytes.Equal(a, b) {
					t.Errorf("%s differs between two builds with seed 4", f)
				}
			}
		})
	}

	t.Run(datasets.KindRelevance, func(t *testing.T) {
		// Without judgments there is nothing to build from (422).
		if _, err := p.twin(t, "dataset", "build", "--kind", "relevance", "--out", filepath.Join(outDir, "none")); err == nil || !strings.Contains(err.Error(), "422") {
			t.Fatalf("relevance build without judgments: %v, want a 422", err)
		}
		// Judgments imported as a team would give them, in the dataset's own
		// line format, then built into a split by query.
		var lines []string
		for i := range 8 {
			q := fmt.Sprintf("question %d about Apache Bench and Datasette", i)
			lines = append(lines, fmt.Sprintf(`{"query":%q,"document_id":"ab/apache-bench-length-errors","grade":%d}`, q, i%3+1),
				fmt.Sprintf(`{"query":%q,"document_id":"other-%d","grade":0}`, q, i))
		}
		file := filepath.Join(t.TempDir(), "judgments.jsonl")
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := p.twin(t, "feedback", "import", file, "--wait", "--timeout", "30s"); err != nil {
			t.Fatalf("feedback import: %q %v", out, err)
		}
		out := filepath.Join(outDir, "relevance")
		if _, err := p.twin(t, "dataset", "build", "--kind", "relevance", "--out", out, "--test-share", "0.25"); err != nil {
			t.Fatal(err)
		}
		var got []datasets.Judged
		for _, f := range []string{datasets.TrainFile, datasets.TestFile} {
			r, err := os.Open(filepath.Join(out, f))
			if err != nil {
				t.Fatal(err)
			}
			part, err := datasets.ReadRelevance(r)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(part) == 0 {
				t.Errorf("%s is empty", f)
			}
			got = append(got, part...)
		}
		if len(got) != len(lines) {
			t.Errorf("the relevance set holds %d judgments, want the %d imported", len(got), len(lines))
		}
	})

	t.Run("bad request", func(t *testing.T) {
		_, err := p.twin(t, "dataset", "build", "--kind", "poems", "--out", filepath.Join(outDir, "poems"))
		if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "poems") {
			t.Errorf("unknown kind: %v, want a 400 naming it", err)
		}
	})

	t.Run("ls", func(t *testing.T) {
		out, err := p.twin(t, "dataset", "ls", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Datasets []warehouse.DatasetRecord `json:"datasets"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("ls --json printed %q: %v", out, err)
		}
		kinds := map[string]int{}
		for _, d := range res.Datasets {
			kinds[d.Kind]++
		}
		if kinds[datasets.KindInstruct] < 1 || kinds[datasets.KindPreference] < 1 {
			t.Errorf("ls lists %v, want the instruct and preference builds", kinds)
		}
		table, err := p.twin(t, "dataset", "ls")
		if err != nil || !strings.Contains(table, "KIND") {
			t.Errorf("ls printed %q, %v", table, err)
		}
	})
}

// TestTrainerDatasetsBuildTheKindOfTheTraining checks the trainer's
// adapter on a real SQLite warehouse: sft builds instruction pairs into
// the job's directory, rerank needs judgments, an unknown kind is refused.
func TestTrainerDatasetsBuildTheKindOfTheTraining(t *testing.T) {
	t.Parallel()
	store, err := warehouse.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.Upsert(t.Context(), []warehouse.Document{{ID: "d1", Collection: warehouse.Posts, Author: "Ada",
		Title: "Queues", Content: "## Why acknowledge late\n\n" + strings.Repeat("A consumer acknowledges a message only after its effect is stored, so a crash loses nothing. ", 4)}}); err != nil {
		t.Fatal(err)
	}
	b, err := datasets.New(datasets.Config{Docs: store, Records: store})
	if err != nil {
		t.Fatal(err)
	}
	td := trainerDatasets{b: b, seed: 1}
	dir := filepath.Join(t.TempDir(), "dataset")
	ds, err := td.Build(t.Context(), "sft", dir)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.GetDataset(t.Context(), ds.ID)
	if err != nil || rec.Kind != datasets.KindInstruct || ds.Examples != rec.Kept || ds.Examples == 0 {
		t.Errorf("sft built %+v, recorded %+v (%v): want an instruct set with its examples", ds, rec, err)
	}
	if _, err := os.Stat(filepath.Join(dir, datasets.TrainFile)); err != nil {
		t.Error(err)
	}
	if _, err := td.Build(t.Context(), "rerank", t.TempDir()); !errors.Is(err, datasets.ErrUnavailable) && !errors.Is(err, datasets.ErrEmpty) {
		t.Errorf("rerank without judgments: %v, want ErrUnavailable (no judgment store) or ErrEmpty", err)
	}
	if _, err := td.Build(t.Context(), "poetry", t.TempDir()); !errors.Is(err, datasets.ErrInvalid) {
		t.Errorf("unknown training kind: %v, want ErrInvalid", err)
	}
}

// TestDatasetFromARatedAnswerOnTheEmbeddedStack asks the running twin a
// question over the chat, rates the answer down, and builds a preference
// set: the down-rated answer becomes the rejected text of a triple whose
// chosen text is the cited post's passage.
func TestDatasetFromARatedAnswerOnTheEmbeddedStack(t *testing.T) {
	t.Parallel()
	p, dir := chatSystem(t)
	c, _, err := dialChat(t, p, chatToken)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	q := "Why does Apache Bench report length errors?"
	if err := wsjson.Write(ctx, c, gateway.ClientMessage{Type: gateway.MsgAsk, ID: "rated", Query: q}); err != nil {
		t.Fatal(err)
	}
	_, done := readReply(t, c, "rated", 0)
	if done == nil || done.Answer == "" || len(done.Sources) == 0 {
		t.Fatalf("no answer with sources: %+v", done)
	}
	if err := wsjson.Write(ctx, c, gateway.ClientMessage{Type: gateway.MsgFeedback, ID: "rated", Rating: -1}); err != nil {
		t.Fatal(err)
	}
	store, err := warehouse.OpenSQLite(ctx, filepath.Join(dir, "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	testwait.Until(t, 10*time.Second, "the rated trace in the warehouse", func() bool {
		rec, err := store.TraceByRequest(ctx, "rated")
		return err == nil && len(rec.Feedback) == 1
	})

	out := filepath.Join(t.TempDir(), "dpo")
	if _, err := p.twin(t, "dataset", "build", "--kind", "preference", "--out", out, "--token", chatToken); err != nil {
		t.Fatal(err)
	}
	var found map[string]any
	for _, f := range []string{datasets.TrainFile, datasets.TestFile} {
		raw, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err == nil && m["method"] == datasets.MethodRatingSource {
				found = m
			}
		}
	}
	if found == nil {
		t.Fatalf("no rating_source triple in %s", out)
	}
	if found["prompt"] != q || found["rejected"] != strings.TrimSpace(done.Answer) || !strings.Contains(found["chosen"].(string), "Apache Bench") {
		t.Errorf("triple %v: want the question, the cited post's passage over the down-rated answer %q", found, done.Answer)
	}
	var manifest warehouse.DatasetRecord
	raw, err := os.ReadFile(filepath.Join(out, datasets.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.FeedbackIDs) != 1 || !strings.HasPrefix(manifest.FeedbackIDs[0], "rated#") {
		t.Errorf("lineage names ratings %v, want the one given", manifest.FeedbackIDs)
	}
}
