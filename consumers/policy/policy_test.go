package policy_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/policy"
	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/models/tokenizer"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

const waitFor = 20 * time.Second

// off is every rule off; a test turns on the one it is about.
func off() policy.Thresholds {
	return policy.Thresholds{Window: time.Hour, MinRatings: 1, DriftSample: 64, DriftBins: 4, Cooldown: time.Hour}
}

// clock is the policy's clock, moved by the test to cross a cooldown.
type clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a JetStream server with the twin topology, and a policy that
// can be stopped and started again on it, as a process restarts.
type fixture struct {
	t     *testing.T
	js    jetstream.JetStream
	pub   *streams.Publisher
	clock *clock
	th    policy.Thresholds
	model embed.Dense
	tok   *tokenizer.Tokenizer
}

func newFixture(t *testing.T, th policy.Thresholds) *fixture {
	t.Helper()
	js := streamstest.Start(t)
	f := &fixture{t: t, js: js, pub: streams.NewPublisher(js), clock: &clock{now: time.Now()}, th: th, model: embed.NewHashed(0)}
	if th.DriftPSI > 0 {
		tok, err := tokenizer.New()
		if err != nil {
			t.Fatal(err)
		}
		f.tok = tok
	}
	return f
}

// running is one policy process.
type running struct {
	p    *policy.Policy
	reg  *prometheus.Registry
	stop func()
}

// start opens a policy on the fixture's server and runs its five consumers
// under the real runtime until stop (or the end of the test).
func (f *fixture) start() *running {
	f.t.Helper()
	reg := prometheus.NewRegistry()
	rtm := streams.NewMetrics(reg)
	p, err := policy.Open(context.Background(), policy.Config{JS: f.js, Publisher: f.pub, Thresholds: f.th,
		Embed: f.model, Tokenizer: f.tok, Registerer: reg, Log: zerolog.New(zerolog.NewTestWriter(f.t)).Level(zerolog.InfoLevel), Now: f.clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	rt := streams.NewRuntime(f.js, streamstest.Topology(), rtm, zerolog.New(zerolog.NewTestWriter(f.t)).Level(zerolog.InfoLevel))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for name, h := range map[string]streams.BatchHandler{
		policy.ConsumerIndex: p.IndexHandler(), policy.ConsumerRatings: p.RatingsHandler(),
		policy.ConsumerJudgments: p.JudgmentsHandler(), policy.ConsumerChanges: p.ChangesHandler(),
		policy.ConsumerTraining: p.TrainingHandler(),
	} {
		wg.Go(func() {
			if err := rt.RunBatch(ctx, name, h, streams.Batch(32, 5*time.Millisecond), streams.Backoff(10*time.Millisecond, 100*time.Millisecond)); err != nil && ctx.Err() == nil {
				f.t.Errorf("consumer %s: %v", name, err)
			}
		})
	}
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	f.t.Cleanup(stop)
	return &running{p: p, reg: reg, stop: stop}
}

func (f *fixture) publish(subject, id string, body schemas.Message) {
	f.t.Helper()
	if _, err := f.pub.Publish(context.Background(), streams.Out{Subject: subject, MsgID: id, Body: body}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) rate(request string, rating int) {
	f.t.Helper()
	f.publish(schemas.FeedbackSubject(schemas.FeedbackRating), "rating:"+request+fmt.Sprint(rating),
		&schemas.Feedback{RequestID: request, Rating: rating, CreatedAt: f.clock.Now()})
}

func (f *fixture) judge(id string) {
	f.t.Helper()
	f.publish(schemas.FeedbackSubject(schemas.FeedbackRelevance), "judgment:"+id,
		&schemas.Judgment{ID: id, Query: "q " + id, DocumentID: "doc-" + id, Grade: 1, Source: schemas.JudgmentImport, CreatedAt: f.clock.Now()})
}

func (f *fixture) indexed(doc string) {
	f.t.Helper()
	f.publish(schemas.SubjectIndexEvents, "index:"+doc,
		&schemas.IndexEvent{DocumentID: doc, Op: schemas.OpUpsert, Revision: 1, Chunks: 1, IndexedAt: f.clock.Now()})
}

func (f *fixture) trained(kind, job string) {
	f.t.Helper()
	f.publish(schemas.SubjectTrainingStatus, "status:"+job,
		&schemas.TrainingStatus{TriggerID: job, JobID: job, Kind: kind, State: schemas.StateSucceeded, UpdatedAt: f.clock.Now()})
}

// drained waits until every policy consumer has acknowledged the last
// message of its subjects published so far.
func (f *fixture) drained() {
	f.t.Helper()
	ctx := context.Background()
	for _, name := range []string{policy.ConsumerIndex, policy.ConsumerRatings, policy.ConsumerJudgments, policy.ConsumerChanges, policy.ConsumerTraining} {
		spec, _ := streamstest.Topology().Consumer(name)
		stream, err := f.js.Stream(ctx, spec.Stream)
		if err != nil {
			f.t.Fatal(err)
		}
		var last uint64
		switch m, err := stream.GetLastMsgForSubject(ctx, spec.FilterSubject); {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			continue
		case err != nil:
			f.t.Fatal(err)
		default:
			last = m.Sequence
		}
		testwait.Until(f.t, waitFor, name+" to drain", func() bool {
			c, err := f.js.Consumer(ctx, spec.Stream, name)
			if err != nil {
				return false
			}
			info, err := c.Info(ctx)
			return err == nil && info.AckFloor.Stream >= last && info.NumAckPending == 0
		})
	}
}

// trigger is a published trigger and its Nats-Msg-Id.
type trigger struct {
	msgID string
	body  schemas.TrainingTrigger
}

// triggers reads every trigger on twin.training.triggers.
func (f *fixture) triggers() []trigger {
	f.t.Helper()
	ctx := context.Background()
	c, err := f.js.OrderedConsumer(ctx, streams.StreamTraining, jetstream.OrderedConsumerConfig{FilterSubjects: []string{schemas.SubjectTrainingTriggers}})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []trigger
	for {
		batch, err := c.FetchNoWait(100)
		if err != nil {
			f.t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var tr schemas.TrainingTrigger
			if err := schemas.Decode(m.Data(), &tr); err != nil {
				f.t.Fatalf("trigger %s: %v", m.Data(), err)
			}
			out = append(out, trigger{msgID: m.Headers().Get(schemas.HeaderMsgID), body: tr})
		}
		if err := batch.Error(); err != nil {
			f.t.Fatal(err)
		}
		if n == 0 {
			return out
		}
	}
}

// wantTriggers checks that exactly want triggers were published, each with
// its id as Nats-Msg-Id, and returns them.
func (f *fixture) wantTriggers(want int, when string) []trigger {
	f.t.Helper()
	f.drained()
	got := f.triggers()
	if len(got) != want {
		f.t.Fatalf("%s: %d triggers, want %d: %+v", when, len(got), want, got)
	}
	for _, tr := range got {
		if tr.msgID != tr.body.ID || tr.body.ID == "" {
			f.t.Errorf("%s: trigger %q published with Nats-Msg-Id %q", when, tr.body.ID, tr.msgID)
		}
		if !schemas.ValidToken(tr.body.ID) {
			f.t.Errorf("%s: trigger id %q is not a subject token", when, tr.body.ID)
		}
	}
	return got
}

func metric(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range fams {
		if fam.GetName() != name {
			continue
		}
	next:
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; !ok || want != l.GetValue() {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func TestRatingsFireWhenTheNegativeShareCrossesTheThreshold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		negative, pos int
		want          int
	}{
		{"below the minimum sample, all negative", 9, 0, 0},
		{"at the minimum, share under the threshold", 2, 8, 0},
		{"at the minimum, share at the threshold", 3, 7, 0},
		{"at the minimum, share over the threshold", 4, 6, 1},
		{"many negatives still fire once", 40, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			th := off()
			th.NegativeRate, th.MinRatings = 0.3, 10
			f := newFixture(t, th)
			r := f.start()
			for i := range tc.negative {
				f.rate(fmt.Sprint("neg-", i), schemas.RatingDown)
			}
			for i := range tc.pos {
				f.rate(fmt.Sprint("pos-", i), schemas.RatingUp)
			}
			got := f.wantTriggers(tc.want, "after the ratings")
			if tc.want == 1 {
				tr := got[0].body
				if tr.Kind != schemas.TrainingDPO || tr.Cause != schemas.CauseRatings || tr.Reason == "" {
					t.Errorf("trigger %+v: want kind dpo, cause ratings and a reason", tr)
				}
				if tr.Metrics["ratings"] < 10 || tr.Metrics["negative_rate"] <= 0.3 || tr.WindowStart.IsZero() || !tr.WindowEnd.After(tr.WindowStart) {
					t.Errorf("trigger %+v: want the evidence (ratings, negative_rate, window)", tr)
				}
			}
			fired := metric(t, r.reg, "twin_policy_decisions_total", map[string]string{"cause": "ratings", "outcome": "fired"})
			if fired != float64(tc.want) {
				t.Errorf("twin_policy_decisions_total{fired} = %g, want %d", fired, tc.want)
			}
			if th := metric(t, r.reg, "twin_policy_threshold", map[string]string{"cause": "ratings"}); th != 0.3 {
				t.Errorf("twin_policy_threshold{ratings} = %g, want 0.3", th)
			}
		})
	}
}

func TestRatingsFireOncePerCooldownWindow(t *testing.T) {
	t.Parallel()
	th := off()
	th.NegativeRate, th.MinRatings, th.Window, th.Cooldown = 0.5, 5, 2*time.Hour, time.Hour
	f := newFixture(t, th)
	r := f.start()
	for i := range 10 {
		f.rate(fmt.Sprint("a-", i), schemas.RatingDown)
	}
	first := f.wantTriggers(1, "after the first negatives")
	for i := range 10 {
		f.rate(fmt.Sprint("b-", i), schemas.RatingDown)
	}
	f.wantTriggers(1, "more negatives inside the cooldown")
	if n := metric(t, r.reg, "twin_policy_decisions_total", map[string]string{"cause": "ratings", "outcome": "cooldown"}); n < 1 {
		t.Errorf("no decision counted as cooldown")
	}
	f.clock.advance(61 * time.Minute)
	f.rate("c-0", schemas.RatingDown)
	got := f.wantTriggers(2, "a negative after the cooldown")
	if got[1].body.ID == first[0].body.ID {
		t.Errorf("the second window's trigger reuses the first one's id %q", first[0].body.ID)
	}
}

func TestJudgmentsTriggerRerankOnce(t *testing.T) {
	t.Parallel()
	th := off()
	th.NewJudgments = 5
	f := newFixture(t, th)
	r := f.start()
	for i := range 4 {
		f.judge(fmt.Sprint("j", i))
	}
	// The same judgment again (another message, the same id) is not new.
	f.publish(schemas.FeedbackSubject(schemas.FeedbackRelevance), "judgment-again",
		&schemas.Judgment{ID: "j0", Query: "q j0", DocumentID: "doc-j0", Grade: 1, Source: schemas.JudgmentUser})
	f.wantTriggers(0, "four distinct judgments")
	if v := metric(t, r.reg, "twin_policy_value", map[string]string{"cause": "judgments"}); v != 4 {
		t.Errorf("twin_policy_value{judgments} = %g, want 4", v)
	}
	for i := 4; i < 20; i++ {
		f.judge(fmt.Sprint("j", i))
	}
	got := f.wantTriggers(1, "twenty judgments")
	tr := got[0].body
	if tr.Kind != schemas.TrainingRerank || tr.Cause != schemas.CauseJudgments || tr.Metrics["new_judgments"] < 5 {
		t.Errorf("trigger %+v: want a rerank trigger for judgments with the count", tr)
	}
}

func TestTrainingThatSucceededResetsItsKind(t *testing.T) {
	t.Parallel()
	th := off()
	th.NewDocuments, th.Cooldown = 3, time.Hour
	f := newFixture(t, th)
	r := f.start()
	for i := range 3 {
		f.indexed(fmt.Sprint("doc-", i))
	}
	f.wantTriggers(1, "three new documents")
	// A rerank training says nothing about documents; an sft one does.
	f.trained(schemas.TrainingRerank, "job-rerank")
	f.drained()
	if v := metric(t, r.reg, "twin_policy_value", map[string]string{"cause": "documents"}); v != 3 {
		t.Fatalf("after a rerank training, documents = %g, want 3", v)
	}
	trainedAt := f.clock.Now()
	f.trained(schemas.TrainingSFT, "job-sft")
	f.drained()
	f.clock.advance(2 * time.Hour)
	// doc-1 indexed again by a reindex: written before the training, so
	// not new.
	f.publish(schemas.SubjectIndexEvents, "index:doc-1:reindex",
		&schemas.IndexEvent{DocumentID: "doc-1", Op: schemas.OpUpsert, Revision: 1, Chunks: 1, OriginTime: trainedAt.Add(-time.Minute), IndexedAt: f.clock.Now()})
	// doc-0 again, at a new revision: new since the training.
	f.publish(schemas.SubjectIndexEvents, "index:doc-0:2",
		&schemas.IndexEvent{DocumentID: "doc-0", Op: schemas.OpUpsert, Revision: 2, Chunks: 1, IndexedAt: f.clock.Now()})
	f.indexed("doc-3")
	f.wantTriggers(1, "two documents since the sft training, past the cooldown")
	if v := metric(t, r.reg, "twin_policy_value", map[string]string{"cause": "documents"}); v != 2 {
		t.Errorf("documents since the training = %g, want 2", v)
	}
	// The same status delivered again resets nothing.
	f.publish(schemas.SubjectTrainingStatus, "status-again",
		&schemas.TrainingStatus{TriggerID: "job-sft", JobID: "job-sft", Kind: schemas.TrainingSFT, State: schemas.StateSucceeded})
	f.drained()
	f.indexed("doc-4")
	got := f.wantTriggers(2, "a third document")
	if got[1].body.Kind != schemas.TrainingSFT || got[1].body.Metrics["new_documents"] != 3 {
		t.Errorf("second trigger %+v: want sft with 3 new documents", got[1].body)
	}
}

func TestStateSurvivesARestart(t *testing.T) {
	t.Parallel()
	th := off()
	th.NewJudgments = 5
	f := newFixture(t, th)
	first := f.start()
	for i := range 3 {
		f.judge(fmt.Sprint("j", i))
	}
	f.wantTriggers(0, "three judgments")
	first.stop()

	second := f.start()
	for i := 3; i < 5; i++ {
		f.judge(fmt.Sprint("j", i))
	}
	f.wantTriggers(1, "five judgments over two processes")
	second.stop()

	// The cooldown survives too: a third process fires nothing more.
	third := f.start()
	f.judge("j5")
	if err := third.p.Evaluate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.wantTriggers(1, "a sixth judgment after a second restart, inside the cooldown")
}

func TestATriggerPublishedAgainBeforeItsRecordIsDropped(t *testing.T) {
	t.Parallel()
	th := off()
	th.NewJudgments = 2
	f := newFixture(t, th)
	r := f.start()
	f.judge("a")
	f.judge("b")
	first := f.wantTriggers(1, "two judgments")
	r.stop()
	// As if the process died between the publish and the write of the
	// kind's record: the record is gone, the evidence is there.
	kv, err := f.js.KeyValue(context.Background(), streams.BucketPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(context.Background(), "kinds"); err != nil {
		t.Fatal(err)
	}
	again := f.start()
	if err := again.p.Evaluate(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := f.wantTriggers(1, "the same decision taken again")
	if got[0].body.ID != first[0].body.ID {
		t.Errorf("trigger ids %q then %q", first[0].body.ID, got[0].body.ID)
	}
	if n := metric(t, again.reg, "twin_policy_decisions_total", map[string]string{"cause": "judgments", "outcome": "fired"}); n != 1 {
		t.Errorf("the second process decided to fire %g times, want 1 (deduplicated by the stream)", n)
	}
}

func TestInvalidMessagesGoToTheDLQ(t *testing.T) {
	t.Parallel()
	th := off()
	th.NewDocuments, th.NewJudgments, th.NegativeRate, th.DriftPSI = 1, 1, 0.5, 0.25
	f := newFixture(t, th)
	f.start()
	for _, tc := range []struct {
		consumer, subject string
		body              string
	}{
		{policy.ConsumerIndex, schemas.SubjectIndexEvents, `{"op":"upsert"}`},
		{policy.ConsumerRatings, schemas.FeedbackSubject(schemas.FeedbackRating), `{"request_id":"r","rating":"bad"}`},
		{policy.ConsumerJudgments, schemas.FeedbackSubject(schemas.FeedbackRelevance), `not json`},
		{policy.ConsumerChanges, schemas.CDC(warehouse.Articles, "insert"), `[]`},
		{policy.ConsumerTraining, schemas.SubjectTrainingStatus, `{"trigger_id":1}`},
	} {
		if _, err := f.js.Publish(context.Background(), tc.subject, []byte(tc.body)); err != nil {
			t.Fatal(err)
		}
		dlq := streams.NewDLQ(f.js)
		testwait.Until(t, waitFor, tc.consumer+" to dead-letter "+tc.body, func() bool {
			l, err := dlq.List(context.Background(), tc.consumer)
			return err == nil && len(l) == 1 && l[0].Letter.Reason == schemas.ReasonInvalid && l[0].Letter.Error != ""
		})
	}
	f.wantTriggers(0, "invalid messages only")
}

// Two families of topics, four subjects each: a corpus about one family,
// then recent writing about the same family (no drift) or the other one.
var topics = map[string][][]string{
	"outdoors": {
		strings.Fields("sail boat wind harbour keel mast tide anchor rope knot deck crew"),
		strings.Fields("garden soil seed compost tomato prune bloom root mulch weed bed spade"),
		strings.Fields("trail hike summit ridge boots map compass tent valley pass cairn stream"),
		strings.Fields("bread flour yeast dough oven crust knead rise loaf starter bake salt"),
	},
	"systems": {
		strings.Fields("database index query planner btree page buffer transaction lock row join vacuum"),
		strings.Fields("network packet router latency socket tcp handshake congestion window mtu hop"),
		strings.Fields("compiler parser token grammar register allocation inline loop vector ssa pass"),
		strings.Fields("kernel scheduler thread interrupt syscall memory paging cache mutex futex core"),
	},
}

// post is a short post about one subject of a family, different for every
// seed.
func post(family string, seed int) string {
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	words := topics[family][seed%len(topics[family])]
	var b strings.Builder
	for range 3 {
		for i := range 10 {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[rng.IntN(len(words))])
		}
		b.WriteString(". ")
	}
	return b.String()
}

func TestDriftFiresOnShiftedEmbeddingsOnly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		recent string
		// old: the recent posts were changed before the snapshot (a
		// reindex, a replayed backlog), so they are not recent.
		old  bool
		want int
	}{
		{"unshifted", "outdoors", false, 0},
		{"shifted", "systems", false, 1},
		{"shifted but changed before the snapshot", "systems", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			th := off()
			th.DriftPSI, th.DriftSample, th.DriftBins = 0.25, 128, 4
			f := newFixture(t, th)
			r := f.start()
			var changedAt time.Time
			change := func(id, text string) {
				f.publish(schemas.CDC(warehouse.Posts, "insert"), "cdc:"+id, &schemas.CDCEvent{
					Collection: warehouse.Posts, Op: "insert", DocumentID: id, Revision: 1, ChangedAt: changedAt,
					Document: &schemas.Document{ID: id, Collection: warehouse.Posts, Content: text, Revision: 1}})
			}
			for i := range 160 {
				change(fmt.Sprint("old-", i), post("outdoors", i))
			}
			f.drained()
			if n := metric(t, r.reg, "twin_policy_decisions_total", map[string]string{"cause": "drift", "outcome": "few_samples"}); n < 1 {
				t.Fatalf("no snapshot after 160 posts (decisions few_samples = %g)", n)
			}
			// A restart between the snapshot and the recent posts: the
			// snapshot and the samples come back from the bucket.
			r.stop()
			r = f.start()
			if tc.old {
				changedAt = f.clock.Now().Add(-time.Hour)
			}
			for i := range 300 {
				change(fmt.Sprint("new-", i), post(tc.recent, 1000+i))
			}
			got := f.wantTriggers(tc.want, "recent posts about "+tc.recent)
			psi := metric(t, r.reg, "twin_policy_value", map[string]string{"cause": "drift"})
			t.Logf("PSI of %s posts: %.3f", tc.recent, psi)
			if tc.want == 1 {
				tr := got[0].body
				if tr.Kind != schemas.TrainingSFT || tr.Cause != schemas.CauseDrift || tr.Metrics["psi"] <= 0.25 || tr.Metrics["recent_chunks"] != 128 {
					t.Errorf("trigger %+v: want sft for drift with the PSI and the sample", tr)
				}
			}
		})
	}
}

func TestThresholdsAreValidated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*policy.Thresholds)
		flag string // "" for valid
	}{
		{"defaults", func(*policy.Thresholds) {}, ""},
		{"every rule off", func(t *policy.Thresholds) { *t = policy.Thresholds{Cooldown: time.Hour} }, ""},
		{"negative documents", func(t *policy.Thresholds) { t.NewDocuments = -1 }, "--policy-new-docs"},
		{"rate above one", func(t *policy.Thresholds) { t.NegativeRate = 1.5 }, "--policy-negative-rate"},
		{"no minimum", func(t *policy.Thresholds) { t.MinRatings = 0 }, "--policy-min-ratings"},
		{"no window", func(t *policy.Thresholds) { t.Window = 0 }, "--policy-window"},
		{"negative judgments", func(t *policy.Thresholds) { t.NewJudgments = -5 }, "--policy-new-judgments"},
		{"negative psi", func(t *policy.Thresholds) { t.DriftPSI = -0.1 }, "--policy-drift-psi"},
		{"one bin", func(t *policy.Thresholds) { t.DriftBins = 1 }, "--policy-drift-bins"},
		{"sample too small for the bins", func(t *policy.Thresholds) { t.DriftSample = 20 }, "--policy-drift-sample"},
		{"sample too large", func(t *policy.Thresholds) { t.DriftSample = 100000 }, "--policy-drift-sample"},
		{"no cooldown", func(t *policy.Thresholds) { t.Cooldown = 0 }, "--policy-cooldown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			th := policy.DefaultThresholds()
			tc.edit(&th)
			err := th.Validate()
			switch {
			case tc.flag == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.flag != "" && (err == nil || !strings.Contains(err.Error(), tc.flag)):
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.flag)
			}
		})
	}
}

func TestTriggerIDIsATokenOfKindCauseAndWindow(t *testing.T) {
	t.Parallel()
	w := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	if got, want := policy.TriggerID("sft", "drift", w), "policy-sft-drift-20261206T230000Z"; got != want {
		t.Errorf("TriggerID = %q, want %q", got, want)
	}
	if got := policy.TriggerID("dpo", "ratings", time.Time{}); got != "policy-dpo-ratings-0" {
		t.Errorf("TriggerID of the first window = %q", got)
	}
}

func TestABulkOfJudgmentsFiresOnceItSettles(t *testing.T) {
	t.Parallel()
	th := off()
	th.NewJudgments, th.Settle = 3, time.Minute
	f := newFixture(t, th)
	r := f.start()
	for i := range 5 {
		f.judge(fmt.Sprint("j", i))
	}
	testwait.Until(t, 10*time.Second, "five judgments counted", func() bool {
		return metric(t, r.reg, "twin_policy_value", map[string]string{"cause": "judgments"}) == 5
	})
	f.wantTriggers(0, "judgments still arriving")
	if v := metric(t, r.reg, "twin_policy_decisions_total", map[string]string{"cause": "judgments", "outcome": policy.OutcomeSettling}); v < 1 {
		t.Fatalf("settling decisions: %g, want at least one", v)
	}
	f.clock.advance(th.Settle + time.Second)
	if err := r.p.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := f.wantTriggers(1, "the settled judgments")
	if n := got[0].body.Metrics["new_judgments"]; n != 5 {
		t.Fatalf("the trigger counts %g judgments, want all 5", n)
	}
}
