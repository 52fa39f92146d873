// Package policy is the retrain policy: it watches what changes the case
// for a new model and publishes a schemas.TrainingTrigger on
// twin.training.triggers, with a readable reason and the values it decided
// on, when one of its rules crosses its threshold:
//
//   - documents → sft: distinct documents indexed (twin.index.events)
//     since the last sft training;
//   - ratings → dpo: the share of negative ratings of answers
//     (twin.feedback.rating) over a sliding window, once the window holds
//     a minimum of ratings;
//   - judgments → rerank: distinct relevance judgments
//     (twin.feedback.relevance) since the last rerank training;
//   - drift → sft: the population stability index of recent chunks'
//     embeddings against the snapshot of the corpus the model was trained
//     on (see drift.go), the chunks cut from the documents of twin.cdc.>.
//
// A training job that succeeds (twin.training.status, state succeeded)
// resets the evidence of its kind: the data it saw is no longer new, and
// for sft the drift snapshot is taken again from the corpus sample.
//
// # Once per window
//
// A kind fires at most once per cooldown window. The trigger's id is the
// kind, the cause and the start of the window, and is its Nats-Msg-Id:
// published again after a crash or a redelivery, it is dropped by the
// stream. The state (the evidence of every rule, the drift snapshot, each
// kind's window) lives in a JetStream KV bucket, written before a batch is
// acknowledged, and every change to it is idempotent, so a restart
// resumes where the policy was and a redelivery counts nothing twice.
package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/featurizer"
	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/models/tokenizer"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Durable consumers (in streams.DefaultTopology) the policy runs as, each
// under RunBatch with the handler of the same name.
const (
	ConsumerIndex     = streams.ConsumerPolicyIndex     // IndexHandler
	ConsumerRatings   = streams.ConsumerPolicyRatings   // RatingsHandler
	ConsumerJudgments = streams.ConsumerPolicyJudgments // JudgmentsHandler
	ConsumerChanges   = streams.ConsumerPolicyChanges   // ChangesHandler
	ConsumerTraining  = streams.ConsumerPolicyTraining  // TrainingHandler
)

// Thresholds are the policy's rules. A rule whose threshold is 0 is off.
type Thresholds struct {
	NewDocuments int           // documents rule: new documents since the last sft training
	NegativeRate float64       // ratings rule: share of negative ratings in Window, in (0, 1]
	MinRatings   int           // ratings rule: ratings Window must hold before the share counts
	Window       time.Duration // ratings rule: the sliding window
	NewJudgments int           // judgments rule: new judgments since the last rerank training
	// Settle holds the documents and judgments rules while their items
	// still arrive: a bulk import fires once it is whole, not at its first
	// few hundred items (whose training the cooldown would then make the
	// only one for a day).
	Settle      time.Duration
	DriftPSI    float64       // drift rule: PSI of the recent chunks against the snapshot
	DriftSample int           // drift rule: chunks in the corpus sample and in the recent one
	DriftBins   int           // drift rule: clusters fitted on the snapshot (plus one far bin)
	Cooldown    time.Duration // at most one trigger per kind per cooldown
}

// DefaultThresholds are the defaults of twin's --policy-* flags.
func DefaultThresholds() Thresholds {
	return Thresholds{
		NewDocuments: 50,
		NegativeRate: 0.3,
		MinRatings:   20,
		Window:       7 * 24 * time.Hour,
		NewJudgments: 200,
		Settle:       30 * time.Second,
		DriftPSI:     0.25,
		DriftSample:  256,
		DriftBins:    8,
		Cooldown:     24 * time.Hour,
	}
}

// ErrThresholds matches every error Validate returns.
var ErrThresholds = errors.New("policy: invalid thresholds")

// Validate says what is wrong with t, naming the flag of each setting.
func (t Thresholds) Validate() error {
	var errs []error
	bad := func(flag string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: --%s %s", ErrThresholds, flag, fmt.Sprintf(format, args...)))
	}
	if t.NewDocuments < 0 {
		bad("policy-new-docs", "is %d: want 0 (off) or more", t.NewDocuments)
	}
	if t.NegativeRate < 0 || t.NegativeRate > 1 {
		bad("policy-negative-rate", "is %g: want a share in [0, 1], 0 for off", t.NegativeRate)
	}
	if t.NegativeRate > 0 && t.MinRatings < 1 {
		bad("policy-min-ratings", "is %d: want at least 1", t.MinRatings)
	}
	if t.NegativeRate > 0 && t.Window <= 0 {
		bad("policy-window", "is %s: want a positive duration", t.Window)
	}
	if t.NewJudgments < 0 {
		bad("policy-new-judgments", "is %d: want 0 (off) or more", t.NewJudgments)
	}
	if t.DriftPSI < 0 {
		bad("policy-drift-psi", "is %g: want 0 (off) or more", t.DriftPSI)
	}
	if t.DriftPSI > 0 && t.DriftBins < 2 {
		bad("policy-drift-bins", "is %d: want at least 2", t.DriftBins)
	}
	if t.DriftPSI > 0 && t.DriftSample < 4*t.DriftBins {
		bad("policy-drift-sample", "is %d: want at least 4 chunks per bin (%d)", t.DriftSample, 4*t.DriftBins)
	}
	if t.DriftSample > maxSample {
		bad("policy-drift-sample", "is %d: want at most %d", t.DriftSample, maxSample)
	}
	if t.Settle < 0 {
		bad("policy-settle", "is %s: want 0 (off) or a positive duration", t.Settle)
	}
	if t.Cooldown <= 0 {
		bad("policy-cooldown", "is %s: want a positive duration", t.Cooldown)
	}
	return errors.Join(errs...)
}

// maxSample bounds the drift samples; Open checks that two of them, of
// the model's dimension, fit in maxDriftBytes.
const maxSample = 1024

// maxDriftBytes bounds the drift state, a KV value: 4 MiB is the largest
// message twin asks a NATS server to take (the DOCS stream's).
const maxDriftBytes = 4 << 20

// Publisher publishes triggers (streams.Publisher does).
type Publisher interface {
	Publish(ctx context.Context, out streams.Out) (*jetstream.PubAck, error)
}

// DocumentGetter reads a document a CDC event did not carry (warehouse
// stores implement it).
type DocumentGetter interface {
	Get(ctx context.Context, collection, id string) (warehouse.Document, error)
}

// Config assembles a policy.
type Config struct {
	JS         jetstream.JetStream // required: the KV bucket of the state
	Publisher  Publisher           // required
	Thresholds Thresholds
	// Embed and Tokenizer are required when the drift rule is on: the
	// dense model the embedder indexes with, and the chunking tokenizer,
	// so that the drift rule sees the chunks and vectors the index has.
	Embed     embed.Dense
	Tokenizer *tokenizer.Tokenizer
	// Documents reads the documents of CDC events that carry none; nil
	// skips those events.
	Documents  DocumentGetter
	Registerer prometheus.Registerer // nil leaves the metrics unregistered
	Log        zerolog.Logger
	Now        func() time.Time // nil is time.Now
}

// Policy is the consumer.
type Policy struct {
	t       Thresholds
	pub     Publisher
	model   embed.Dense
	tok     *tokenizer.Tokenizer
	docs    DocumentGetter
	metrics *metrics
	log     zerolog.Logger
	now     func() time.Time

	mu    sync.Mutex // guards st and store: one batch at a time changes the state
	st    state
	store store
}

// Open validates cfg, opens (creating) the state's KV bucket and loads the
// state there.
func Open(ctx context.Context, cfg Config) (*Policy, error) {
	if err := cfg.Thresholds.Validate(); err != nil {
		return nil, err
	}
	if cfg.JS == nil || cfg.Publisher == nil {
		return nil, errors.New("policy: JS and Publisher are required")
	}
	if cfg.Thresholds.DriftPSI > 0 && (cfg.Embed == nil || cfg.Tokenizer == nil) {
		return nil, errors.New("policy: the drift rule needs Embed and Tokenizer")
	}
	if th := cfg.Thresholds; th.DriftPSI > 0 {
		// Two samples and the centroids, quantized, base64 in JSON.
		if n := (2*th.DriftSample + th.DriftBins) * (4 + cfg.Embed.Dim()) * 4 / 3; n > maxDriftBytes {
			return nil, fmt.Errorf("%w: --policy-drift-sample %d of %d-dimension vectors needs %d bytes of state, more than %d",
				ErrThresholds, th.DriftSample, cfg.Embed.Dim(), n, maxDriftBytes)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	met, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	met.setThresholds(cfg.Thresholds)
	kv, err := openBucket(ctx, cfg.JS)
	if err != nil {
		return nil, err
	}
	p := &Policy{t: cfg.Thresholds, pub: cfg.Publisher, model: cfg.Embed, tok: cfg.Tokenizer, docs: cfg.Documents,
		metrics: met, log: cfg.Log.With().Str("component", "policy").Logger(), now: cfg.Now,
		store: store{kv: kv, revs: map[string]uint64{}}}
	if p.st, err = p.store.loadAll(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// IndexHandler counts the documents indexed, for the documents rule.
func (p *Policy) IndexHandler() streams.BatchHandler {
	return streams.DecodedBatch(func(ctx context.Context, msgs []*streams.Msg, evs []*schemas.IndexEvent) error {
		return p.apply(ctx, keyDocuments, func(st *state) any {
			var trained time.Time
			if rec, ok := st.Kinds[schemas.TrainingSFT]; ok {
				trained = rec.LastTrained
			}
			for i, ev := range evs {
				if ev.Op == schemas.OpDelete {
					continue
				}
				if !ev.OriginTime.IsZero() && ev.OriginTime.Before(trained) {
					// Written before the last sft training, which saw it:
					// indexed again by a reindex, not new.
					continue
				}
				st.Documents.add(ev.DocumentID, firstSet(ev.IndexedAt, msgs[i].Stored))
			}
			return &st.Documents
		}, p.decideDocuments)
	})
}

// RatingsHandler keeps the ratings of the window, for the ratings rule.
func (p *Policy) RatingsHandler() streams.BatchHandler {
	return streams.DecodedBatch(func(ctx context.Context, msgs []*streams.Msg, fbs []*schemas.Feedback) error {
		return p.apply(ctx, keyRatings, func(st *state) any {
			from := p.now().Add(-p.t.Window)
			for i, fb := range fbs {
				at := firstSet(fb.CreatedAt, msgs[i].Stored)
				if at.Before(from) {
					continue // already out of the window: replayed history
				}
				st.Ratings.put(fb.RequestID, at, fb.Rating == schemas.RatingDown)
			}
			st.Ratings.prune(from)
			return &st.Ratings
		}, p.decideRatings)
	})
}

// JudgmentsHandler counts the relevance judgments, for the judgments rule.
func (p *Policy) JudgmentsHandler() streams.BatchHandler {
	return streams.DecodedBatch(func(ctx context.Context, msgs []*streams.Msg, js []*schemas.Judgment) error {
		return p.apply(ctx, keyJudgments, func(st *state) any {
			for i, j := range js {
				st.Judgments.add(j.ID, firstSet(j.CreatedAt, msgs[i].Stored))
			}
			return &st.Judgments
		}, p.decideJudgments)
	})
}

// ChangesHandler samples the chunks of changed documents, for the drift
// rule: the document of each CDC event (or the warehouse's, when the event
// carries none) cleaned and cut as the featurizer does, so the chunks are
// those the index holds, then embedded when they enter a sample.
func (p *Policy) ChangesHandler() streams.BatchHandler {
	return streams.DecodedBatch(func(ctx context.Context, msgs []*streams.Msg, evs []*schemas.CDCEvent) error {
		if p.t.DriftPSI <= 0 {
			return nil
		}
		var chunks []chunk
		for _, ev := range evs {
			doc, err := p.document(ctx, ev)
			if err != nil {
				return err
			}
			if doc == nil {
				continue
			}
			text := featurizer.Clean(doc.Content, doc.Collection, featurizer.CleanOptions{})
			for _, c := range featurizer.ChunkText(text, p.tok, featurizer.DefaultParams(doc.Collection)) {
				chunks = append(chunks, chunk{text: c.Text, changed: ev.ChangedAt})
			}
		}
		return p.sample(ctx, chunks)
	})
}

// document is the document a change is about, or nil when there is none to
// sample: a delete, a collection that is not documents, or a document the
// event does not carry and the warehouse does not have.
func (p *Policy) document(ctx context.Context, ev *schemas.CDCEvent) (*schemas.Document, error) {
	if ev.Op == schemas.OpDelete || !isDocuments(ev.Collection) {
		return nil, nil
	}
	if ev.Document != nil {
		if ev.Document.Deleted {
			return nil, nil
		}
		return ev.Document, nil
	}
	if p.docs == nil {
		return nil, nil
	}
	d, err := p.docs.Get(ctx, ev.Collection, ev.DocumentID)
	if errors.Is(err, warehouse.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s/%s for the drift sample: %w", ev.Collection, ev.DocumentID, err)
	}
	doc := warehouse.ToContract(&d)
	if doc.Deleted {
		return nil, nil
	}
	return &doc, nil
}

func isDocuments(collection string) bool {
	for _, c := range warehouse.Collections() {
		if c == collection {
			return true
		}
	}
	return false
}

// chunk is a chunk's text and when its document changed.
type chunk struct {
	text    string
	changed time.Time
}

// sample adds the chunks that enter the corpus or the recent sample, then
// takes the first snapshot once the corpus sample is full. A chunk of a
// document changed before the snapshot is not recent, whenever it comes
// (a reindex, a replayed backlog): it joins the corpus sample only.
func (p *Policy) sample(ctx context.Context, chunks []chunk) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := &p.st.Drift
	if d.Model != p.model.Model() {
		// Vectors of another model (or dimension) cannot be compared.
		if d.Model != "" {
			p.log.Info().Str("was", d.Model).Str("now", p.model.Model()).Msg("dense model changed; the drift samples and snapshot start again")
		}
		*d = drift{Model: p.model.Model()}
	}
	size := p.t.DriftSample
	recent := func(c chunk) bool {
		return d.Snapshot != nil && (c.changed.IsZero() || !c.changed.Before(d.Snapshot.At))
	}
	var want []string
	var picked []chunk
	var hashes []uint64
	seen := map[uint64]bool{}
	for _, c := range chunks {
		h := hash64(c.text)
		if seen[h] || !(d.Corpus.wants(h, size) || (recent(c) && d.Recent.wants(h, size))) {
			continue
		}
		seen[h] = true
		want, picked, hashes = append(want, c.text), append(picked, c), append(hashes, h)
	}
	if len(want) > 0 {
		vecs, err := p.model.Embed(ctx, want)
		if err != nil {
			return fmt.Errorf("embed %d chunks for the drift sample: %w", len(want), err)
		}
		if len(vecs) != len(want) {
			return fmt.Errorf("embed %d chunks for the drift sample: the model returned %d vectors", len(want), len(vecs))
		}
		for i, h := range hashes {
			d.Corpus.add(h, vecs[i], size)
			if recent(picked[i]) {
				d.Recent.add(h, vecs[i], size)
			}
		}
	}
	snapped := false
	if d.Snapshot == nil && d.Corpus.len() >= size {
		snapped = true
		// Until a training succeeds, the reference is the corpus the
		// policy first saw: the one the model in service started from.
		d.Snapshot = takeSnapshot(d.Corpus.Vecs, p.t.DriftBins, p.now())
		d.Recent = sketch{}
		p.log.Info().Int("chunks", d.Corpus.len()).Msg("drift snapshot taken from the first full corpus sample")
	}
	if len(want) > 0 || snapped {
		if err := p.save(ctx, keyDrift, d); err != nil {
			return err
		}
	}
	return p.decideLocked(ctx, p.decideDrift)
}

// TrainingHandler resets the evidence of the kind of every training job
// that succeeded.
func (p *Policy) TrainingHandler() streams.BatchHandler {
	return streams.DecodedBatch(func(ctx context.Context, msgs []*streams.Msg, sts []*schemas.TrainingStatus) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		changed := map[string]any{}
		// The records of the kinds reset, changed in p.st only once the
		// resets are saved: a record saying a job was applied, before its
		// reset is stored, would make the retry skip it.
		done := map[string]kindRecord{}
		for i, s := range sts {
			if s.State != schemas.StateSucceeded {
				continue
			}
			at := firstSet(s.UpdatedAt, msgs[i].Stored)
			job := firstNonEmpty(s.JobID, s.TriggerID, fmt.Sprint(msgs[i].Sequence))
			rec, ok := done[s.Kind]
			if !ok {
				if r, found := p.st.Kinds[s.Kind]; found {
					rec = *r
				}
			}
			if job == rec.LastJob || at.Before(rec.LastTrained) {
				continue // applied already, or older than the training applied
			}
			switch s.Kind {
			case schemas.TrainingSFT:
				p.st.Documents.reset()
				changed[keyDocuments] = &p.st.Documents
				if d := &p.st.Drift; d.Model != "" {
					// The corpus sample now is what the job trained on.
					d.Snapshot, d.Recent = takeSnapshot(d.Corpus.Vecs, p.t.DriftBins, at), sketch{}
					changed[keyDrift] = d
				}
			case schemas.TrainingDPO:
				p.st.Ratings = ratings{}
				changed[keyRatings] = &p.st.Ratings
			case schemas.TrainingRerank:
				p.st.Judgments.reset()
				changed[keyJudgments] = &p.st.Judgments
			default:
				continue // a kind this policy has no rule for
			}
			rec.LastJob, rec.LastTrained = job, at
			done[s.Kind] = rec
			p.log.Info().Str("kind", s.Kind).Str("job", job).Time("at", at).Msg("training succeeded: its kind's evidence starts again")
		}
		for _, key := range []string{keyDocuments, keyRatings, keyJudgments, keyDrift} {
			if v, ok := changed[key]; ok {
				if err := p.save(ctx, key, v); err != nil {
					return err
				}
			}
		}
		if len(done) == 0 {
			return nil
		}
		before := make(map[string]*kindRecord, len(done))
		for kind, rec := range done {
			before[kind] = p.st.Kinds[kind]
			p.st.Kinds[kind] = &rec
		}
		if err := p.save(ctx, keyKinds, &p.st.Kinds); err != nil {
			if !errors.Is(err, errConflict) { // a conflict reloaded p.st already
				for kind, rec := range before {
					if rec == nil {
						delete(p.st.Kinds, kind)
					} else {
						p.st.Kinds[kind] = rec
					}
				}
			}
			return err
		}
		return nil
	})
}

// apply changes the state with change under the lock, saves the part it
// returns under key, then runs decide.
func (p *Policy) apply(ctx context.Context, key string, change func(*state) any, decide func(time.Time) decision) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.save(ctx, key, change(&p.st)); err != nil {
		return err
	}
	return p.decideLocked(ctx, decide)
}

// save writes one part of the state. On a conflict (another policy wrote
// it), the whole state is read again and the batch is retried on it: its
// changes are idempotent, so applying them again is right.
func (p *Policy) save(ctx context.Context, key string, v any) error {
	err := p.store.save(ctx, key, v)
	if errors.Is(err, errConflict) {
		if st, lerr := p.store.loadAll(ctx); lerr == nil {
			p.st = st
		}
	}
	return err
}

// Evaluate runs every rule that is on, as if a message had arrived: a
// rule stays over its threshold after its cooldown without anything new
// arriving (a training that failed), and the ratings window slides with
// time. Whoever runs the policy calls it now and then.
func (p *Policy) Evaluate(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, d := range []func(time.Time) decision{p.decideDocuments, p.decideRatings, p.decideJudgments, p.decideDrift} {
		errs = append(errs, p.decideLocked(ctx, d))
	}
	return errors.Join(errs...)
}

// Run calls Evaluate every interval until ctx ends; a failure is logged
// and tried again at the next tick.
func (p *Policy) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := p.Evaluate(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn().Err(err).Dur("retry_in", interval).Msg("policy evaluation failed")
		}
	}
}

// decision is one rule's verdict on the state.
type decision struct {
	cause, kind string
	off         bool // the rule is off: no decision at all
	noValue     bool // nothing to measure yet (drift without a snapshot or a full sample)
	over        bool // over the threshold: fires unless in cooldown
	outcome     string
	value       float64
	threshold   float64
	reason      string
	evidence    map[string]float64
	from, to    time.Time // the evidence window
}

func (p *Policy) decideDocuments(now time.Time) decision {
	n := len(p.st.Documents.IDs)
	d := decision{cause: schemas.CauseDocuments, kind: schemas.TrainingSFT, off: p.t.NewDocuments <= 0,
		value: float64(n), threshold: float64(p.t.NewDocuments), from: p.st.Documents.Since, to: now,
		evidence: map[string]float64{"new_documents": float64(n), "threshold": float64(p.t.NewDocuments)}}
	d.over = n >= p.t.NewDocuments
	d.reason = fmt.Sprintf("%d new documents indexed since the last sft training (threshold %d)", n, p.t.NewDocuments)
	return p.settle(d, p.st.Documents.Last, now)
}

func (p *Policy) decideRatings(now time.Time) decision {
	from := now.Add(-p.t.Window)
	total, neg := p.st.Ratings.count(from, now)
	rate := 0.0
	if total > 0 {
		rate = float64(neg) / float64(total)
	}
	d := decision{cause: schemas.CauseRatings, kind: schemas.TrainingDPO, off: p.t.NegativeRate <= 0,
		value: rate, threshold: p.t.NegativeRate, from: from, to: now,
		evidence: map[string]float64{"negative_rate": rate, "ratings": float64(total), "negative": float64(neg),
			"threshold": p.t.NegativeRate, "min_ratings": float64(p.t.MinRatings), "window_seconds": p.t.Window.Seconds()}}
	switch {
	case total < p.t.MinRatings:
		d.outcome = OutcomeFewSamples
		d.reason = fmt.Sprintf("%d ratings in the last %s, fewer than the %d needed to judge", total, p.t.Window, p.t.MinRatings)
	default:
		d.over = rate > p.t.NegativeRate
		d.reason = fmt.Sprintf("%d of %d ratings in the last %s negative (%.1f%%, threshold %.1f%%)",
			neg, total, p.t.Window, 100*rate, 100*p.t.NegativeRate)
	}
	return d
}

func (p *Policy) decideJudgments(now time.Time) decision {
	n := len(p.st.Judgments.IDs)
	d := decision{cause: schemas.CauseJudgments, kind: schemas.TrainingRerank, off: p.t.NewJudgments <= 0,
		value: float64(n), threshold: float64(p.t.NewJudgments), from: p.st.Judgments.Since, to: now,
		evidence: map[string]float64{"new_judgments": float64(n), "threshold": float64(p.t.NewJudgments)}}
	d.over = n >= p.t.NewJudgments
	d.reason = fmt.Sprintf("%d new relevance judgments since the last rerank training (threshold %d)", n, p.t.NewJudgments)
	return p.settle(d, p.st.Judgments.Last, now)
}

// settle holds a decision over its threshold while its items still
// arrive: the latest came less than Settle ago.
func (p *Policy) settle(d decision, last, now time.Time) decision {
	if d.over && now.Sub(last) < p.t.Settle {
		d.over, d.outcome = false, OutcomeSettling
		d.reason += fmt.Sprintf("; still arriving, decided once none came for %s", p.t.Settle)
	}
	return d
}

func (p *Policy) decideDrift(now time.Time) decision {
	dr := &p.st.Drift
	d := decision{cause: schemas.CauseDrift, kind: schemas.TrainingSFT, off: p.t.DriftPSI <= 0,
		threshold: p.t.DriftPSI, to: now,
		evidence: map[string]float64{"threshold": p.t.DriftPSI, "recent_chunks": float64(dr.Recent.len()),
			"sample": float64(p.t.DriftSample)}}
	switch {
	case dr.Snapshot == nil:
		d.outcome, d.noValue = OutcomeNoSnapshot, true
		d.reason = fmt.Sprintf("no drift snapshot yet: %d of the %d chunks of the first corpus sample", dr.Corpus.len(), p.t.DriftSample)
	case dr.Recent.len() < p.t.DriftSample:
		d.outcome, d.noValue = OutcomeFewSamples, true
		d.from = dr.Snapshot.At
		d.reason = fmt.Sprintf("%d chunks since the drift snapshot, fewer than the %d needed to judge", dr.Recent.len(), p.t.DriftSample)
	default:
		d.from = dr.Snapshot.At
		v := psi(dr.Snapshot.Counts, dr.Snapshot.bins(dr.Recent.Vecs))
		d.value = v
		d.over = v > p.t.DriftPSI
		d.evidence["psi"] = v
		d.evidence["centroid_shift"] = centroidShift(dr.Snapshot.Mean, mean(dr.Recent.Vecs))
		d.evidence["bins"] = float64(len(dr.Snapshot.Counts))
		d.reason = fmt.Sprintf("the embeddings of %d recent chunks drifted from the snapshot of %s: PSI %.3f over %d bins (threshold %.3f)",
			dr.Recent.len(), dr.Snapshot.At.UTC().Format(time.RFC3339), v, len(dr.Snapshot.Counts), p.t.DriftPSI)
	}
	return d
}

// decideLocked runs one rule and acts on its decision: publishes a trigger
// when it is over its threshold outside its kind's cooldown, and records
// the fire. Every decision is logged (fired at info, the others at debug)
// and counted. p.mu is held.
func (p *Policy) decideLocked(ctx context.Context, rule func(time.Time) decision) error {
	now := p.now()
	d := rule(now)
	if d.off {
		return nil
	}
	if d.outcome == "" && !d.over {
		d.outcome = OutcomeBelow
	}
	if !d.noValue {
		p.metrics.value.WithLabelValues(d.cause).Set(d.value)
	}
	var err error
	if d.over {
		rec := p.st.Kinds.get(d.kind)
		if now.Before(rec.WindowStart) {
			d.outcome = OutcomeCooldown
		} else if err = p.fire(ctx, d, rec, now); err != nil {
			d.outcome = OutcomeError
		} else {
			d.outcome = OutcomeFired
		}
	}
	p.metrics.decisions.WithLabelValues(d.cause, d.outcome).Inc()
	ev := p.log.Debug()
	if d.outcome == OutcomeFired {
		ev = p.log.Info()
	} else if d.outcome == OutcomeError {
		ev = p.log.Warn().Err(err)
	}
	ev.Str("cause", d.cause).Str("kind", d.kind).Str("outcome", d.outcome).
		Float64("value", d.value).Float64("threshold", d.threshold).Msg(d.reason)
	return err
}

// fire publishes the trigger of d and starts the kind's next cooldown
// window. The id is fixed by the window the kind is in, so a fire repeated
// before the record below is written publishes the same id again.
func (p *Policy) fire(ctx context.Context, d decision, rec *kindRecord, now time.Time) error {
	id := TriggerID(d.kind, d.cause, rec.WindowStart)
	from := d.from
	if from.IsZero() {
		from = rec.LastTrained
	}
	tr := &schemas.TrainingTrigger{ID: id, Kind: d.kind, Cause: d.cause, Reason: d.reason,
		WindowStart: from, WindowEnd: d.to, Metrics: d.evidence, CreatedAt: now}
	if _, err := p.pub.Publish(ctx, streams.Out{Subject: schemas.SubjectTrainingTriggers, MsgID: id, Body: tr}); err != nil {
		return fmt.Errorf("publish trigger %s: %w", id, err)
	}
	before := *rec
	rec.WindowStart, rec.LastTrigger, rec.LastFired = now.Add(p.t.Cooldown), id, now
	if err := p.save(ctx, keyKinds, &p.st.Kinds); err != nil {
		if !errors.Is(err, errConflict) {
			*rec = before // retried with the same id, which the stream drops
		}
		return err
	}
	return nil
}

// TriggerID is the id of the trigger of kind for cause in the cooldown
// window starting at windowStart (zero for a kind that never fired):
// "policy-sft-documents-20261206T230000Z". It is a valid subject token.
func TriggerID(kind, cause string, windowStart time.Time) string {
	w := "0"
	if !windowStart.IsZero() {
		w = windowStart.UTC().Format("20060102T150405Z")
	}
	return strings.Join([]string{"policy", kind, cause, w}, "-")
}

// firstSet is the first non-zero time of ts.
func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
