package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

func TestUpRunsTheRetrainPolicy(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir(), "--policy-new-judgments", "3", "--policy-settle", "0s")
	js, err := jetstream.New(p.connect(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		body, err := schemas.Encode(&schemas.Judgment{ID: fmt.Sprint("j", i), Query: "q", DocumentID: fmt.Sprint("d", i), Grade: 1, Source: schemas.JudgmentImport})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, schemas.FeedbackSubject(schemas.FeedbackRelevance), body); err != nil {
			t.Fatal(err)
		}
	}
	training, err := js.Stream(ctx, streams.StreamTraining)
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 20*time.Second, "a rerank trigger", func() bool {
		m, err := training.GetLastMsgForSubject(ctx, schemas.SubjectTrainingTriggers)
		if err != nil {
			return false
		}
		var tr schemas.TrainingTrigger
		return schemas.Decode(m.Data, &tr) == nil && tr.Kind == schemas.TrainingRerank && tr.Cause == schemas.CauseJudgments
	})
	// The decision is counted once its trigger is published: the count
	// may reach /metrics a moment after the trigger reaches the stream.
	for _, want := range []string{
		`twin_policy_decisions_total{cause="judgments",outcome="fired"} 1`,
		`twin_policy_threshold{cause="judgments"} 3`,
		`twin_policy_threshold{cause="drift"} 0.25`,
	} {
		testwait.Until(t, 10*time.Second, "/metrics to hold "+want, func() bool {
			_, metrics := get(t, p.http+"/metrics")
			return strings.Contains(metrics, want)
		})
	}
}

func TestUpRefusesInvalidPolicyThresholds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ flag, value string }{
		{"--policy-negative-rate", "1.5"},
		{"--policy-cooldown", "0s"},
		{"--policy-drift-bins", "1"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// The components log from their goroutines.
			out, errOut := &testwait.Buffer{}, &testwait.Buffer{}
			code := execute(ctx, []string{"up", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--nats-listen", "off", tc.flag, tc.value}, out, errOut, noEnv)
			if code == 0 || ctx.Err() != nil || !strings.Contains(errOut.String(), tc.flag) {
				t.Fatalf("twin up %s %s: exit %d, stderr %q; want a failure naming the flag", tc.flag, tc.value, code, errOut.String())
			}
		})
	}
}
