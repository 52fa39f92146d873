package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"

	"github.com/twin-llm/twin/consumers/policy"
	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/streams"
)

// policyFlags configure the retrain policy (docs/training.md, "The retrain
// policy").
type policyFlags struct {
	th       policy.Thresholds
	interval time.Duration
}

func addPolicyFlags(fl *pflag.FlagSet, p *policyFlags) {
	d := policy.DefaultThresholds()
	fl.IntVar(&p.th.NewDocuments, "policy-new-docs", d.NewDocuments, "retrain policy: new documents indexed since the last sft training that trigger one (0: off)")
	fl.Float64Var(&p.th.NegativeRate, "policy-negative-rate", d.NegativeRate, "retrain policy: share of negative ratings in --policy-window above which dpo is triggered (0: off)")
	fl.IntVar(&p.th.MinRatings, "policy-min-ratings", d.MinRatings, "retrain policy: ratings --policy-window must hold before their share counts")
	fl.DurationVar(&p.th.Window, "policy-window", d.Window, "retrain policy: the sliding window of the ratings rule")
	fl.IntVar(&p.th.NewJudgments, "policy-new-judgments", d.NewJudgments, "retrain policy: new relevance judgments since the last rerank training that trigger one (0: off)")
	fl.Float64Var(&p.th.DriftPSI, "policy-drift-psi", d.DriftPSI, "retrain policy: population stability index of recent chunks' embeddings against the training snapshot above which sft is triggered (0: off)")
	fl.IntVar(&p.th.DriftSample, "policy-drift-sample", d.DriftSample, "retrain policy: chunks in the drift rule's corpus sample and in its recent sample")
	fl.IntVar(&p.th.DriftBins, "policy-drift-bins", d.DriftBins, "retrain policy: clusters fitted on the drift snapshot (one more bin holds chunks far from all)")
	fl.DurationVar(&p.th.Settle, "policy-settle", d.Settle, "retrain policy: the documents and judgments rules wait until none came for this long (a bulk import fires once, whole)")
	fl.DurationVar(&p.th.Cooldown, "policy-cooldown", d.Cooldown, "retrain policy: at most one trigger per training kind in this long")
	fl.DurationVar(&p.interval, "policy-interval", time.Minute, "retrain policy: how often every rule is decided again without new messages (the ratings window slides, a cooldown ends)")
}

// checkPolicy refuses thresholds that cannot work, and, with the drift
// rule on, settings of the embedding model that cannot work.
func checkPolicy(f serveFlags) error {
	if f.policy.interval <= 0 {
		return fmt.Errorf("--policy-interval is %s: want a positive duration", f.policy.interval)
	}
	if err := f.policy.th.Validate(); err != nil {
		return err
	}
	if f.policy.th.DriftPSI > 0 {
		return f.vectors.check()
	}
	return nil
}

func runPolicy(ctx context.Context, s *system, log zerolog.Logger, ready func()) error {
	f := s.flags.policy
	cfg := policy.Config{JS: s.js, Publisher: s.pub, Thresholds: f.th, Registerer: s.reg, Log: log}
	if f.interval <= 0 {
		return fmt.Errorf("--policy-interval is %s: want a positive duration", f.interval)
	}
	if err := f.th.Validate(); err != nil {
		return err // before any model or store is opened
	}
	if f.th.DriftPSI > 0 {
		// The embedder's model and chunking, so that the drift rule sees
		// the vectors the index holds.
		dense, err := denseModel(s.flags.vectors)
		if err != nil {
			return err
		}
		tok, err := s.tokenizer()
		if err != nil {
			return err
		}
		store, err := s.warehouse(ctx)
		if err != nil {
			return err
		}
		cfg.Embed, cfg.Tokenizer, cfg.Documents = dense, tok, store
	}
	p, err := policy.Open(ctx, cfg)
	if err != nil {
		return err
	}
	ready()
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { p.Run(ctx, f.interval); return nil })
	for name, h := range map[string]streams.BatchHandler{
		policy.ConsumerIndex:     p.IndexHandler(),
		policy.ConsumerRatings:   p.RatingsHandler(),
		policy.ConsumerJudgments: p.JudgmentsHandler(),
		policy.ConsumerChanges:   p.ChangesHandler(),
		policy.ConsumerTraining:  p.TrainingHandler(),
	} {
		// One worker each: the state changes one batch at a time anyway.
		eg.Go(func() error {
			return s.runtime.RunBatch(ctx, name, h, streams.Workers(1), streams.PullBatch(256), streams.Batch(128, 50*time.Millisecond))
		})
	}
	return eg.Wait()
}

// denseModel is the dense model of the flags, as the embedder builds it,
// without opening the vector store.
func denseModel(ff vectorFlags) (embed.Dense, error) {
	if ff.embedModel == "" || ff.embedModel == "hashed" {
		return embed.NewHashed(ff.embedDim), nil
	}
	return remoteModel(ff)
}
