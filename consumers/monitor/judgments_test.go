package monitor_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/monitor"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

// runJudgments runs h under the judgments' durable consumer with the real
// runtime until the test ends.
func (f *fixture) runJudgments(t *testing.T, h streams.BatchHandler) {
	t.Helper()
	rt := streams.NewRuntime(f.js, streamstest.Topology(), f.rtm, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = rt.RunBatch(ctx, monitor.JudgmentsConsumer, h, streams.Backoff(10*time.Millisecond, 50*time.Millisecond),
			streams.Batch(256, 20*time.Millisecond))
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func judgment(id, source string, grade int) *schemas.Judgment {
	j := &schemas.Judgment{ID: id, Query: "what is a queue?", DocumentID: "doc-" + id, Grade: grade, Source: source}
	if source == schemas.JudgmentUser {
		j.RequestID, j.TraceID = "req-1", "trace-1"
	}
	return j
}

func TestJudgmentsAreStoredOnceCountedBySourceAndInvalidOnesDeadLettered(t *testing.T) {
	t.Parallel()
	f := newFixture(t, monitor.Config{})
	// Every judgment's first delivery "loses its ack": all are handled
	// twice, and must be stored and counted once.
	f.runJudgments(t, lostBatchAck(f.mon.JudgmentsHandler()))
	subject := schemas.FeedbackSubject(schemas.FeedbackRelevance)
	for i := range 3 {
		f.publish(t, subject, fmt.Sprint("imp-", i), judgment(fmt.Sprint("imp-", i), schemas.JudgmentImport, i))
	}
	// The same judgment again under another message id (past the dedup
	// window, or a second import): stored once.
	f.publish(t, subject, "imp-0-again", judgment("imp-0", schemas.JudgmentImport, 0))
	f.publish(t, subject, "user-1", judgment("user-1", schemas.JudgmentUser, schemas.GradeRelevant))

	invalid := []struct{ name, body string }{
		{"grade above the scale", `{"id":"bad-1","query":"q","document_id":"d","grade":4,"source":"import"}`},
		{"blank query", `{"id":"bad-2","query":"  ","document_id":"d","grade":1,"source":"user"}`},
		{"empty document", `{"id":"bad-3","query":"q","document_id":"","grade":1,"source":"user"}`},
		{"no id", `{"query":"q","document_id":"d","grade":1,"source":"import"}`},
		{"unknown source", `{"id":"bad-5","query":"q","document_id":"d","grade":1,"source":"robot"}`},
		{"negative grade", `{"id":"bad-6","query":"q","document_id":"d","grade":-1,"source":"import"}`},
		{"not JSON", `{"id":`},
	}
	for _, tt := range invalid {
		if _, err := f.js.Publish(t.Context(), subject, []byte(tt.body)); err != nil {
			t.Fatalf("%s: publish: %v", tt.name, err)
		}
	}

	dlq := streams.NewDLQ(f.js)
	var letters []streams.DeadLetterEntry
	testwait.Until(t, 20*time.Second, fmt.Sprintf("%d dead letters", len(invalid)), func() bool {
		var err error
		if letters, err = dlq.List(t.Context(), monitor.JudgmentsConsumer); err != nil {
			t.Fatal(err)
		}
		return len(letters) >= len(invalid)
	})
	for _, l := range letters {
		if l.Letter.Reason != schemas.ReasonInvalid {
			t.Errorf("dead letter %s: reason %q, want %q", l.Letter.Body, l.Letter.Reason, schemas.ReasonInvalid)
		}
	}
	// 5 valid messages, each acked after its second delivery.
	f.waitHandled(t, monitor.JudgmentsConsumer, "ack", 5)

	got, err := f.store.ListJudgments(t.Context(), warehouse.JudgmentListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, j := range got {
		ids[j.ID]++
		if j.CreatedAt.IsZero() {
			t.Errorf("judgment %s stored without a time", j.ID)
		}
	}
	want := map[string]int{"imp-0": 1, "imp-1": 1, "imp-2": 1, "user-1": 1}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("stored judgments %v, want %v", ids, want)
	}
	for source, n := range map[string]float64{schemas.JudgmentImport: 3, schemas.JudgmentUser: 1} {
		if v := value(t, f.reg, "twin_feedback_judgments_total", map[string]string{"source": source}); v != n {
			t.Errorf("twin_feedback_judgments_total{source=%q} = %v, want %v", source, v, n)
		}
	}
}

// TestRatingsAndJudgmentsShareTheFeedbackStream: a judgment never reaches
// the ratings' consumer (it would be dead-lettered there as an invalid
// rating), nor a rating the judgments'.
func TestRatingsAndJudgmentsShareTheFeedbackStream(t *testing.T) {
	t.Parallel()
	f := newFixture(t, monitor.Config{})
	f.run(t, f.mon, f.mon.FeedbackHandler())
	f.runJudgments(t, f.mon.JudgmentsHandler())
	f.publish(t, schemas.FeedbackSubject(schemas.FeedbackRelevance), "j-1", judgment("j-1", schemas.JudgmentUser, 1))
	f.publishFeedback(t, "fb-1", &schemas.Feedback{RequestID: "req-1", Rating: schemas.RatingUp})
	f.waitHandled(t, monitor.JudgmentsConsumer, "ack", 1)
	f.waitHandled(t, monitor.FeedbackConsumer, "ack", 1)
	dlq := streams.NewDLQ(f.js)
	for _, c := range []string{monitor.JudgmentsConsumer, monitor.FeedbackConsumer} {
		if letters, err := dlq.List(t.Context(), c); err != nil || len(letters) != 0 {
			t.Errorf("dead letters of %s: %d, %v; want none", c, len(letters), err)
		}
		if n := f.handled(t, c, "ack"); n != 1 {
			t.Errorf("%s acked %v messages, want 1", c, n)
		}
	}
}
