package ops

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

func publish(t *testing.T, js jetstream.JetStream, subject string, m schemas.Message) {
	t.Helper()
	data, err := schemas.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), subject, data); err != nil {
		t.Fatal(err)
	}
}

func TestReadOnAnEmptyTwin(t *testing.T) {
	t.Parallel()
	st, err := Read(context.Background(), streamstest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Freshness != nil || len(st.Training) != 0 || len(st.Streams) == 0 {
		t.Fatalf("empty twin: freshness %+v, %d jobs, %d streams", st.Freshness, len(st.Training), len(st.Streams))
	}
}

func TestReadMeasuresFreshnessOverTheRecentWindow(t *testing.T) {
	t.Parallel()
	js := streamstest.Start(t)
	base := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	// Old, slow documents first: the window must leave them out.
	for i := range 50 {
		publish(t, js, schemas.SubjectIndexEvents, schemas.IndexEvent{DocumentID: "old", Op: schemas.OpUpsert, Revision: int64(i + 1),
			OriginTime: base, IndexedAt: base.Add(time.Hour)})
	}
	// Then FreshnessWindow fast ones, i milliseconds each, and deletes,
	// which have no freshness.
	var last time.Time
	for i := range FreshnessWindow {
		origin := base.Add(time.Duration(i) * time.Second)
		last = origin.Add(time.Duration(i+1) * time.Millisecond)
		publish(t, js, schemas.SubjectIndexEvents, schemas.IndexEvent{DocumentID: "d", Op: schemas.OpUpsert, Revision: int64(i + 1),
			OriginTime: origin, IndexedAt: last})
	}
	st, err := Read(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	f := st.Freshness
	if f == nil {
		t.Fatal("no freshness")
	}
	if f.Samples != FreshnessWindow || f.MaxSeconds > 1 {
		t.Errorf("samples %d, max %.3fs: want the last %d events only", f.Samples, f.MaxSeconds, FreshnessWindow)
	}
	if want := 0.128; f.P50Seconds != want {
		t.Errorf("p50 = %v, want %v", f.P50Seconds, want)
	}
	if want := 0.253; f.P99Seconds != want {
		t.Errorf("p99 = %v, want %v", f.P99Seconds, want)
	}
	if !f.LastIndexed.Equal(last) {
		t.Errorf("last indexed %v, want %v", f.LastIndexed, last)
	}
	var index streams.StreamStatus
	for _, s := range st.Streams {
		if s.Name == streams.StreamIndex {
			index = s
		}
	}
	if index.LastSeq != uint64(50+FreshnessWindow) {
		t.Errorf("INDEX last_seq = %d, want %d", index.LastSeq, 50+FreshnessWindow)
	}
}

func TestReadListsTheNewestTrainingJobsWithTheirState(t *testing.T) {
	t.Parallel()
	js := streamstest.Start(t)
	base := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for i := range TrainingShown + 2 {
		id := "trig-" + string(rune('a'+i))
		publish(t, js, schemas.SubjectTrainingTriggers, schemas.TrainingTrigger{ID: id, Kind: schemas.TrainingRerank,
			Cause: schemas.CauseManual, Reason: "by hand", CreatedAt: base.Add(time.Duration(i) * time.Minute)})
		publish(t, js, schemas.SubjectTrainingStatus, schemas.TrainingStatus{TriggerID: id, JobID: "job-" + id, State: schemas.StateRunning})
	}
	newest := "trig-" + string(rune('a'+TrainingShown+1))
	publish(t, js, schemas.SubjectTrainingStatus, schemas.TrainingStatus{TriggerID: newest, JobID: "job-" + newest, State: schemas.StateFailed, Message: "boom"})

	st, err := Read(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Training) != TrainingShown {
		t.Fatalf("%d jobs, want the newest %d", len(st.Training), TrainingShown)
	}
	if j := st.Training[0]; j.Trigger.ID != newest || j.Status.State != schemas.StateFailed {
		t.Errorf("newest job = %s %s, want %s failed (its last state)", j.Trigger.ID, j.Status.State, newest)
	}
	if j := st.Training[1]; j.Status.State != schemas.StateRunning {
		t.Errorf("second job state = %s, want running", j.Status.State)
	}
}
