package trainer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/trainer"
	"github.com/twin-llm/twin/internal/models/registry"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

// scripted is an executor whose jobs end as the test says: it writes the
// files a real job writes (a model file, a metrics file) into the output
// directory the trainer gave it, or fails. It stands in for the rerank,
// command and SageMaker executors, which have tests of their own; what is
// tested here is what the trainer does around a job.
type scripted struct {
	mu   sync.Mutex
	runs []trainer.Job
	ndcg float64 // the candidate's; the serving reranker scores 0.60
	fail error
}

func (s *scripted) Name() string { return "scripted" }

func (s *scripted) Run(_ context.Context, job trainer.Job, progress trainer.Progress) (trainer.Result, error) {
	s.mu.Lock()
	s.runs = append(s.runs, job)
	s.mu.Unlock()
	progress(schemas.StateRunning, "training", time.Now())
	if s.fail != nil {
		return trainer.Result{}, s.fail
	}
	if err := os.WriteFile(filepath.Join(job.OutputDir, trainer.ArtifactFile), []byte(`{"weights":[1,2]}`), 0o644); err != nil {
		return trainer.Result{}, err
	}
	metrics := fmt.Sprintf(`{"ndcg@10": %g, "serving_ndcg@10": 0.60, "test_queries": 40}`, s.ndcg)
	if err := os.WriteFile(filepath.Join(job.OutputDir, trainer.MetricsFile), []byte(metrics), 0o644); err != nil {
		return trainer.Result{}, err
	}
	return trainer.Result{Metrics: map[string]float64{"train_queries": 160}}, nil
}

type fixture struct {
	js   jetstream.JetStream
	reg  *registry.Registry
	pub  *streams.Publisher
	exec *scripted
}

func newFixture(t *testing.T, exec *scripted, executors map[string]trainer.Executor) *fixture {
	t.Helper()
	js := streamstest.Start(t)
	if err := streamstest.Topology().Apply(t.Context(), js); err != nil {
		t.Fatal(err)
	}
	store, err := warehouse.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	pub := streams.NewPublisher(js)
	reg, err := registry.Open(t.Context(), js, store, pub)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := trainer.New(trainer.Config{Executors: executors, Registry: reg, Publisher: pub, WorkDir: t.TempDir(),
		Registerer: prometheus.NewRegistry(), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	rt := streams.NewRuntime(js, streamstest.Topology(), streams.NewMetrics(prometheus.NewRegistry()), zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = rt.Run(ctx, trainer.Consumer, tr.Handler(), streams.Backoff(10*time.Millisecond, 50*time.Millisecond))
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &fixture{js: js, reg: reg, pub: pub, exec: exec}
}

func (f *fixture) trigger(t *testing.T, id, kind string) {
	t.Helper()
	trig := &schemas.TrainingTrigger{ID: id, Kind: kind, Cause: schemas.CauseManual, Reason: "a test"}
	if _, err := f.pub.Publish(t.Context(), streams.Out{Subject: schemas.SubjectTrainingTriggers, MsgID: "trigger:" + id, Body: trig}); err != nil {
		t.Fatal(err)
	}
}

// statuses waits until the job of trigger id reached a final state and
// returns every state it went through.
func (f *fixture) statuses(t *testing.T, id string) []schemas.TrainingStatus {
	t.Helper()
	var got []schemas.TrainingStatus
	cons, err := f.js.OrderedConsumer(t.Context(), streams.StreamTraining, jetstream.OrderedConsumerConfig{FilterSubjects: []string{schemas.SubjectTrainingStatus}})
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 15*time.Second, "the job of "+id+" final", func() bool {
		batch, err := cons.FetchNoWait(50)
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			var s schemas.TrainingStatus
			if err := schemas.Decode(m.Data(), &s); err != nil {
				t.Fatal(err)
			}
			if s.TriggerID == id {
				got = append(got, s)
			}
		}
		return slices.ContainsFunc(got, func(s schemas.TrainingStatus) bool {
			return s.State == schemas.StateSucceeded || s.State == schemas.StateFailed || s.State == schemas.StateStopped
		})
	})
	return got
}

func states(ss []schemas.TrainingStatus) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.State)
	}
	return out
}

func TestABetterRerankerIsRegisteredAndPromotedAWorseOneRejected(t *testing.T) {
	t.Parallel()
	exec := &scripted{ndcg: 0.70}
	f := newFixture(t, exec, map[string]trainer.Executor{schemas.TrainingRerank: exec})

	f.trigger(t, "better", schemas.TrainingRerank)
	got := f.statuses(t, "better")
	if want := []string{"pending", "running", "succeeded"}; !slices.Equal(states(got), want) {
		t.Fatalf("states %v, want %v", states(got), want)
	}
	last := got[len(got)-1]
	if last.Metrics["promoted"] != 1 || last.Metrics["ndcg@10"] != 0.70 || last.Metrics["train_queries"] != 160 {
		t.Fatalf("final status %+v: want promoted with the job's metrics", last)
	}
	cur, ok, err := f.reg.ServingVersion(t.Context(), registry.Reranker)
	if err != nil || !ok || cur.Version != "1" || cur.JobID != last.JobID {
		t.Fatalf("serving %+v (%v, %v), want version 1 of job %s", cur, ok, err, last.JobID)
	}
	if data, err := registry.Artifact(t.Context(), f.js, cur.ArtifactURI); err != nil || string(data) != `{"weights":[1,2]}` {
		t.Fatalf("the artifact of the serving version: %q, %v", data, err)
	}

	exec.mu.Lock()
	exec.ndcg = 0.55
	exec.mu.Unlock()
	f.trigger(t, "worse", schemas.TrainingRerank)
	got = f.statuses(t, "worse")
	if last := got[len(got)-1]; last.State != schemas.StateSucceeded || last.Metrics["promoted"] != 0 {
		t.Fatalf("the worse job ended %+v, want succeeded and not promoted", last)
	}
	cur, _, _ = f.reg.ServingVersion(t.Context(), registry.Reranker)
	all, _ := f.reg.List(t.Context(), registry.Reranker)
	if cur.Version != "1" || len(all) != 2 || all[0].State != schemas.ModelRejected || all[0].Parent != "1" {
		t.Fatalf("after a worse candidate: serving %s, versions %+v; want 1 serving, 2 rejected with parent 1", cur.Version, all)
	}
}

func TestAFailedJobRegistersNothingAndAKindWithoutExecutorSaysSo(t *testing.T) {
	t.Parallel()
	exec := &scripted{fail: fmt.Errorf("%w: exit status 3", trainer.ErrJobFailed)}
	f := newFixture(t, exec, map[string]trainer.Executor{schemas.TrainingRerank: exec})

	f.trigger(t, "fails", schemas.TrainingRerank)
	if got := f.statuses(t, "fails"); got[len(got)-1].State != schemas.StateFailed {
		t.Fatalf("a failing job ended %v", states(got))
	}
	f.trigger(t, "sft", schemas.TrainingSFT)
	got := f.statuses(t, "sft")
	if len(got) != 1 || got[0].State != schemas.StateFailed || got[0].Message == "" {
		t.Fatalf("a kind with no executor: %+v, want one failed status that says why", got)
	}
	if all, _ := f.reg.List(t.Context(), ""); len(all) != 0 {
		t.Fatalf("failed jobs registered %+v", all)
	}
}

func TestATriggerDeliveredTwiceTrainsOnce(t *testing.T) {
	t.Parallel()
	exec := &scripted{ndcg: 0.70}
	f := newFixture(t, exec, map[string]trainer.Executor{schemas.TrainingRerank: exec})
	f.trigger(t, "twice", schemas.TrainingRerank)
	f.statuses(t, "twice")
	// The same trigger again, past the stream's dedup (another message id):
	// what a redelivery after a lost ack looks like to the trainer.
	trig := &schemas.TrainingTrigger{ID: "twice", Kind: schemas.TrainingRerank, Reason: "again"}
	if _, err := f.pub.Publish(t.Context(), streams.Out{Subject: schemas.SubjectTrainingTriggers, MsgID: "again", Body: trig}); err != nil {
		t.Fatal(err)
	}
	f.trigger(t, "after", schemas.TrainingRerank) // handled after the repeat: one at a time
	f.statuses(t, "after")
	exec.mu.Lock()
	runs := len(exec.runs)
	exec.mu.Unlock()
	all, _ := f.reg.List(t.Context(), registry.Reranker)
	if runs != 2 || len(all) != 2 {
		t.Fatalf("two triggers, one delivered twice: %d runs, %d versions; want 2 and 2", runs, len(all))
	}
}
