package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/ops"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

func newTrainCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Trigger training by hand and follow the training jobs",
		Example: `  twin train trigger --kind rerank --wait
  twin train ls`,
		Long: `Training runs in the trainer component of a running twin: one job per trigger on
twin.training.triggers, its states on twin.training.status. The retrain policy
triggers by itself when new documents, ratings, judgments or drift cross their
thresholds; "train trigger" does it by hand. See docs/training.md.`,
	}
	var kind, reason string
	var wait bool
	var timeout time.Duration
	trigger := &cobra.Command{
		Use:   "trigger",
		Short: "Ask the trainer for a job: --kind rerank (in-process), sft or dpo (--trainer)",
		Example: `  twin train trigger --kind rerank --wait
  twin train trigger --kind sft --reason "new posts since March"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kind != schemas.TrainingRerank && kind != schemas.TrainingSFT && kind != schemas.TrainingDPO {
				return fmt.Errorf("--kind %q: want rerank, sft or dpo", kind)
			}
			nc, js, err := g.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			trig := &schemas.TrainingTrigger{ID: "manual-" + kind + "-" + uuid.NewString(), Kind: kind, Cause: schemas.CauseManual,
				Reason: reason, CreatedAt: time.Now().UTC()}
			if _, err := streams.NewPublisher(js).Publish(cmd.Context(), streams.Out{Subject: schemas.SubjectTrainingTriggers,
				MsgID: trig.ID, Body: trig}); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "triggered %s training %s\n", kind, trig.ID)
			if !wait {
				return nil
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			final, err := followJob(ctx, js, trig.ID, func(s schemas.TrainingStatus) {
				fmt.Fprintf(g.stdout, "%s  %-9s %s\n", s.UpdatedAt.Local().Format("15:04:05"), s.State, s.Message)
			})
			if err != nil {
				return err
			}
			if final.State != schemas.StateSucceeded {
				return errSilent
			}
			return nil
		},
	}
	trigger.Flags().StringVar(&kind, "kind", schemas.TrainingRerank, "what to train: rerank, sft or dpo")
	trigger.Flags().StringVar(&reason, "reason", "by hand", "why, for the history")
	trigger.Flags().BoolVar(&wait, "wait", false, "follow the job until it ends; exit non-zero unless it succeeded")
	trigger.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "with --wait, give up after this long")

	var asJSON bool
	ls := &cobra.Command{
		Use:     "ls",
		Short:   "List training jobs, newest first: trigger, kind, cause, state, message",
		Example: `  twin train ls --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, err := g.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			jobs, err := ops.TrainingJobs(cmd.Context(), js)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, map[string]any{"jobs": jobs})
			}
			if len(jobs) == 0 {
				fmt.Fprintln(g.stdout, "no training jobs yet")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TRIGGERED\tKIND\tCAUSE\tSTATE\tJOB\tMESSAGE")
			for _, j := range jobs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.Trigger.CreatedAt.Local().Format("2006-01-02 15:04"), j.Trigger.Kind,
					orDash(j.Trigger.Cause), orDash(j.Status.State), orDash(j.Status.JobID), oneLine(j.Status.Message, 80))
			}
			return tw.Flush()
		},
	}
	ls.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(trigger, ls)
	return cmd
}

// followJob shows each state of the job of trigger until a final one.
func followJob(ctx context.Context, js jetstream.JetStream, triggerID string, show func(schemas.TrainingStatus)) (schemas.TrainingStatus, error) {
	cons, err := js.OrderedConsumer(ctx, streams.StreamTraining, jetstream.OrderedConsumerConfig{FilterSubjects: []string{schemas.SubjectTrainingStatus}})
	if err != nil {
		return schemas.TrainingStatus{}, fmt.Errorf("follow the job: %w", err)
	}
	for {
		batch, err := cons.Fetch(64, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return schemas.TrainingStatus{}, fmt.Errorf("the job of %s has not ended: %w", triggerID, ctx.Err())
			}
			return schemas.TrainingStatus{}, fmt.Errorf("follow the job: %w", err)
		}
		for m := range batch.Messages() {
			var s schemas.TrainingStatus
			if schemas.Decode(m.Data(), &s) != nil || s.TriggerID != triggerID {
				continue
			}
			show(s)
			switch s.State {
			case schemas.StateSucceeded, schemas.StateFailed, schemas.StateStopped:
				return s, nil
			}
		}
		if ctx.Err() != nil {
			return schemas.TrainingStatus{}, fmt.Errorf("the job of %s has not ended: %w", triggerID, ctx.Err())
		}
	}
}
