package streams_test

import (
	"testing"

	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

// TestApplyNarrowsTheRatingsConsumerOnUpgrade: a system from before the
// judgments had monitor-feedback read all of twin.feedback.>, where it
// would take a judgment for an invalid rating. Applying today's topology
// narrows it to the ratings and adds the judgments' consumer.
func TestApplyNarrowsTheRatingsConsumerOnUpgrade(t *testing.T) {
	t.Parallel()
	js := streamstest.Start(t)
	old := streamstest.Topology()
	var kept []streams.ConsumerSpec
	for _, c := range old.Consumers {
		switch c.Name {
		case streams.ConsumerMonitorFeedback:
			c.FilterSubject = schemas.SubjectFeedbackAll
		case streams.ConsumerMonitorJudgments:
			continue
		}
		kept = append(kept, c)
	}
	old.Consumers = kept
	if err := old.Apply(t.Context(), js); err != nil {
		t.Fatalf("apply the old topology: %v", err)
	}
	if err := streamstest.Topology().Apply(t.Context(), js); err != nil {
		t.Fatalf("apply today's topology over it: %v", err)
	}
	for name, want := range map[string]string{
		streams.ConsumerMonitorFeedback:  schemas.FeedbackSubject(schemas.FeedbackRating),
		streams.ConsumerMonitorJudgments: schemas.FeedbackSubject(schemas.FeedbackRelevance),
	} {
		c, err := js.Consumer(t.Context(), streams.StreamFeedback, name)
		if err != nil {
			t.Fatalf("consumer %s: %v", name, err)
		}
		info, err := c.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Config.FilterSubject; got != want {
			t.Errorf("consumer %s filters %q after the upgrade, want %q", name, got, want)
		}
	}
}
