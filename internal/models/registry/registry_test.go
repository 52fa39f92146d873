package registry_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/models/registry"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

// fixture is a registry on a real embedded JetStream and a real SQLite
// warehouse, and a follower that records what it was told to serve.
type fixture struct {
	js  jetstream.JetStream
	reg *registry.Registry

	mu     sync.Mutex
	served []string // versions applied by the follower, "" for the built-in
}

func newFixture(t *testing.T) *fixture {
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
	reg, err := registry.Open(t.Context(), js, store, streams.NewPublisher(js))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{js: js, reg: reg}
}

// follow starts a follower of the reranker that loads each artifact.
func (f *fixture) follow(t *testing.T) {
	t.Helper()
	err := registry.Follow(t.Context(), f.js, registry.Reranker, func(ctx context.Context, s registry.Serving) error {
		if s.Version != "" {
			data, err := registry.Artifact(ctx, f.js, s.ArtifactURI)
			if err != nil {
				return err
			}
			if string(data) != "weights of "+s.Version {
				t.Errorf("version %s has artifact %q", s.Version, data)
			}
		}
		f.mu.Lock()
		f.served = append(f.served, s.Version)
		f.mu.Unlock()
		return nil
	}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) serving() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.served) == 0 {
		return "<nothing>"
	}
	return f.served[len(f.served)-1]
}

// register adds a candidate whose artifact names its version.
func (f *fixture) register(t *testing.T, job string) warehouse.ModelRecord {
	t.Helper()
	// The version is known after AddModel; the artifact is stored under
	// the job, so the test names what it expects the version to be.
	want := map[string]string{"job-a": "1", "job-b": "2", "job-c": "3"}[job]
	uri, err := f.reg.PutArtifact(t.Context(), registry.Reranker, job, []byte("weights of "+want))
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.reg.Register(t.Context(), schemas.ModelRegistered{Name: registry.Reranker, Kind: schemas.TrainingRerank,
		JobID: job, ArtifactURI: uri, Metrics: map[string]float64{"ndcg@10": 0.7}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != want || m.State != schemas.ModelCandidate {
		t.Fatalf("registered %s as %s (%s), want version %s, candidate", job, m.Version, m.State, want)
	}
	return m
}

func (f *fixture) waitServing(t *testing.T, version string) {
	t.Helper()
	testwait.Until(t, 10*time.Second, "the follower serving version "+version, func() bool { return f.serving() == version })
}

func TestPromoteAndRollbackReachARunningFollower(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.follow(t)
	if got := f.serving(); got != "" {
		t.Fatalf("before any promotion the follower serves %q, want the built-in", got)
	}
	a, b := f.register(t, "job-a"), f.register(t, "job-b")
	f.register(t, "job-c")

	steps := []struct {
		name  string
		do    func() (warehouse.ModelRecord, error)
		serve string
	}{
		{"promote 1", func() (warehouse.ModelRecord, error) { return f.reg.Promote(t.Context(), registry.Reranker, a.Version) }, "1"},
		{"promote 2", func() (warehouse.ModelRecord, error) { return f.reg.Promote(t.Context(), registry.Reranker, b.Version) }, "2"},
		{"promote 2 again", func() (warehouse.ModelRecord, error) { return f.reg.Promote(t.Context(), registry.Reranker, b.Version) }, "2"},
		{"rollback to 1", func() (warehouse.ModelRecord, error) { return f.reg.Rollback(t.Context(), registry.Reranker) }, "1"},
		{"rollback to the built-in", func() (warehouse.ModelRecord, error) { return f.reg.Rollback(t.Context(), registry.Reranker) }, ""},
	}
	for _, s := range steps {
		got, err := s.do()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got.Version != s.serve {
			t.Fatalf("%s: now serving %q, want %q", s.name, got.Version, s.serve)
		}
		f.waitServing(t, s.serve)
		cur, ok, err := f.reg.ServingVersion(t.Context(), registry.Reranker)
		if err != nil || ok != (s.serve != "") || cur.Version != s.serve {
			t.Fatalf("%s: the warehouse says %q serves (%v, %v), want %q", s.name, cur.Version, ok, err, s.serve)
		}
	}
	if _, err := f.reg.Rollback(t.Context(), registry.Reranker); !errors.Is(err, registry.ErrNoRollback) {
		t.Fatalf("rollback with nothing serving: %v, want ErrNoRollback", err)
	}
	if _, err := f.reg.Promote(t.Context(), registry.Reranker, "42"); !errors.Is(err, registry.ErrNoVersion) {
		t.Fatalf("promoting a version never registered: %v, want ErrNoVersion", err)
	}
	states := map[string]string{}
	all, err := f.reg.List(t.Context(), registry.Reranker)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		states[m.Version] = m.State
	}
	if states["1"] != schemas.ModelRetired || states["2"] != schemas.ModelRetired || states["3"] != schemas.ModelCandidate {
		t.Fatalf("states after the steps: %v", states)
	}
}

func TestEveryStateChangeIsAnnouncedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.register(t, "job-a")
	f.register(t, "job-a") // a redelivered registration
	b := f.register(t, "job-b")
	if _, err := f.reg.Promote(t.Context(), registry.Reranker, a.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Reject(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	var got []string
	cons, err := f.js.OrderedConsumer(t.Context(), streams.StreamTraining, jetstream.OrderedConsumerConfig{FilterSubjects: []string{schemas.SubjectTrainingModels}})
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 10*time.Second, "four announcements", func() bool {
		batch, err := cons.FetchNoWait(10)
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			var body schemas.ModelRegistered
			if err := schemas.Decode(m.Data(), &body); err != nil {
				t.Fatal(err)
			}
			got = append(got, body.Version+":"+body.State)
		}
		return len(got) >= 4
	})
	want := []string{"1:candidate", "2:candidate", "1:serving", "2:rejected"}
	if len(got) != len(want) {
		t.Fatalf("announcements %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("announcements %v, want %v", got, want)
		}
	}
}

func TestARolloutThatFailsChangesNothingAndOneThatWorksRecordsTheEndpoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := f.register(t, "job-a"), f.register(t, "job-b")
	var fail error
	var rolled []string
	f.reg.SetRollout(registry.Reranker, func(_ context.Context, m warehouse.ModelRecord) (string, error) {
		if fail != nil {
			return "", fail
		}
		rolled = append(rolled, m.Version)
		return "twin-endpoint", nil
	})
	if m, err := f.reg.Promote(t.Context(), registry.Reranker, a.Version); err != nil || m.Endpoint != "twin-endpoint" {
		t.Fatalf("promote with a rollout: %+v, %v", m, err)
	}
	fail = errors.New("endpoint update rolled back by SageMaker")
	if _, err := f.reg.Promote(t.Context(), registry.Reranker, b.Version); err == nil {
		t.Fatal("a promotion whose rollout failed succeeded")
	}
	if cur, _, _ := f.reg.ServingVersion(t.Context(), registry.Reranker); cur.Version != a.Version {
		t.Fatalf("after a failed rollout version %s serves, want %s still", cur.Version, a.Version)
	}
	fail = nil
	if _, err := f.reg.Promote(t.Context(), registry.Reranker, b.Version); err != nil {
		t.Fatal(err)
	}
	if m, err := f.reg.Rollback(t.Context(), registry.Reranker); err != nil || m.Version != a.Version {
		t.Fatalf("rollback: %+v, %v", m, err)
	}
	if _, err := f.reg.Rollback(t.Context(), registry.Reranker); !errors.Is(err, registry.ErrNoRollback) {
		t.Fatalf("rolling an endpoint back past its first version: %v, want ErrNoRollback", err)
	}
	if want := []string{"1", "2", "1"}; !slices.Equal(rolled, want) {
		t.Fatalf("rolled out %v, want %v", rolled, want)
	}
}
