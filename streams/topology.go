package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/schemas"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
	day = 24 * time.Hour
)

// StreamSpec is one stream of the design with every limit spelled out, so
// that nothing depends on a server default.
type StreamSpec struct {
	Name        string
	Subjects    []string
	Description string
	WorkQueue   bool          // work-queue retention: a message lives until acked
	MaxAge      time.Duration // 0: kept until MaxBytes pushes it out
	MaxBytes    int64
	MaxMsgSize  int32
	Duplicates  time.Duration // Nats-Msg-Id dedup window
}

// ConsumerSpec is a durable pull consumer and the runtime's policy for it.
// The durable name is stable: it is the consumer's identity in the server,
// in metrics and in its DLQ subject.
type ConsumerSpec struct {
	Name          string // durable name, a valid subject token
	Stream        string
	FilterSubject string
	Description   string
	AckWait       time.Duration // the runtime sends InProgress well before it runs out
	MaxDeliver    int           // deliveries before the message is dead-lettered
	MaxAckPending int           // messages in flight across every worker of every replica
}

// Topology is the whole set of streams and durable consumers.
type Topology struct {
	Streams   []StreamSpec
	Consumers []ConsumerSpec
	Replicas  int // per stream: 1 on one node, 3 on a cluster
}

// Stream names of the design.
const (
	StreamCrawl        = "CRAWL"
	StreamDocs         = "DOCS"
	StreamCDC          = "CDC"
	StreamEmbed        = "EMBED"
	StreamIndex        = "INDEX"
	StreamChatRequests = "CHAT_REQUESTS"
	StreamChatReplies  = "CHAT_REPLIES"
	StreamFeedback     = "FEEDBACK"
	StreamMonitor      = "MONITOR"
	StreamTraining     = "TRAINING"
	StreamDLQ          = "DLQ"
)

// Durable consumer names of the design. A durable name is the consumer's
// identity in the server, the consumer label of its metrics and the last
// token of its DLQ subject: renaming one orphans the old consumer.
const (
	ConsumerCrawler = "crawler"
	// ConsumerWriter is the warehouse writer's (consumers/writer); it keeps
	// the name it was created with, "warehouse", for that reason.
	ConsumerWriter          = "warehouse"
	ConsumerFeaturizer      = "featurizer"
	ConsumerEmbedder        = "embedder"
	ConsumerRag             = "rag"
	ConsumerMonitor         = "monitor"
	ConsumerMonitorFeedback = "monitor-feedback"
	ConsumerTrainer         = "trainer"
	// ConsumerMonitorJudgments stores the relevance judgments
	// (twin.feedback.relevance) in the warehouse.
	ConsumerMonitorJudgments = "monitor-judgments"
	// The retrain policy's (consumers/policy): one durable consumer per
	// signal it watches, so each keeps its own position and DLQ.
	ConsumerPolicyIndex     = "policy-index"
	ConsumerPolicyRatings   = "policy-ratings"
	ConsumerPolicyJudgments = "policy-judgments"
	ConsumerPolicyChanges   = "policy-changes"
	ConsumerPolicyTraining  = "policy-training"
)

// BucketPolicy is the KV bucket of the retrain policy's state: what each
// rule counted since the last training of its kind, the drift snapshot and
// the last trigger of each kind, so that a restart neither forgets the
// evidence nor fires twice.
const BucketPolicy = "twin_policy"

// BucketBytes is the store the components' KV buckets (CDC checkpoints,
// indexed revisions) may reserve beside the streams: JetStream reserves a
// bucket's MaxBytes like a stream's, so a store sized for the streams alone
// would refuse the buckets.
const BucketBytes = 512 * mib

// MaxPayload is the largest message the embedded server accepts. The
// largest stream limit below (DLQ) stays under it; an external server must
// allow at least DOCS's MaxMsgSize.
const MaxPayload = 8 * mib

// AckWait is every consumer's ack wait. The runtime sends InProgress every
// quarter of it for each message this process holds, handled or waiting for
// a worker, so a short one never redelivers live work; what it bounds is how
// long the messages of a process that died stay locked: the pipeline
// converges within about this long after a crash.
const AckWait = 6 * time.Second

// DefaultTopology is the design's topology. Its MaxBytes add up to about
// 8 GiB; FitStore scales them to a smaller store.
func DefaultTopology() Topology {
	return Topology{
		Replicas: 1,
		Streams: []StreamSpec{
			{Name: StreamCrawl, Subjects: []string{schemas.SubjectCrawlRequests}, Description: "URLs to crawl",
				WorkQueue: true, MaxAge: 7 * day, MaxBytes: 256 * mib, MaxMsgSize: 64 * kib, Duplicates: 10 * time.Minute},
			{Name: StreamDocs, Subjects: []string{schemas.SubjectDocsCrawledAll}, Description: "crawled documents",
				MaxAge: 7 * day, MaxBytes: 2 * gib, MaxMsgSize: 4 * mib, Duplicates: 10 * time.Minute},
			{Name: StreamCDC, Subjects: []string{schemas.SubjectCDCAll}, Description: "warehouse changes",
				MaxAge: 7 * day, MaxBytes: 2 * gib, MaxMsgSize: 4 * mib, Duplicates: time.Hour},
			{Name: StreamEmbed, Subjects: []string{schemas.SubjectEmbedJobs}, Description: "chunks to embed and index",
				WorkQueue: true, MaxAge: 7 * day, MaxBytes: 1 * gib, MaxMsgSize: 4 * mib, Duplicates: 10 * time.Minute},
			{Name: StreamIndex, Subjects: []string{schemas.SubjectIndexEvents}, Description: "documents that became searchable or were removed",
				MaxAge: day, MaxBytes: 256 * mib, MaxMsgSize: 64 * kib, Duplicates: 2 * time.Minute},
			{Name: StreamChatRequests, Subjects: []string{schemas.SubjectChatRequests}, Description: "chat questions",
				WorkQueue: true, MaxAge: 5 * time.Minute, MaxBytes: 64 * mib, MaxMsgSize: 64 * kib, Duplicates: 2 * time.Minute},
			{Name: StreamChatReplies, Subjects: []string{schemas.SubjectChatRepliesAll}, Description: "streamed answers, resumable",
				MaxAge: 15 * time.Minute, MaxBytes: 512 * mib, MaxMsgSize: 1 * mib, Duplicates: 2 * time.Minute},
			{Name: StreamFeedback, Subjects: []string{schemas.SubjectFeedbackAll}, Description: "ratings and comments on answers",
				MaxAge: 90 * day, MaxBytes: 256 * mib, MaxMsgSize: 64 * kib, Duplicates: 10 * time.Minute},
			{Name: StreamMonitor, Subjects: []string{schemas.SubjectMonitorTraces}, Description: "one trace per chat request",
				MaxAge: 30 * day, MaxBytes: 1 * gib, MaxMsgSize: 4 * mib, Duplicates: 2 * time.Minute},
			{Name: StreamTraining, Subjects: []string{schemas.SubjectTrainingAll}, Description: "retraining triggers, job status, registered models",
				MaxAge: 365 * day, MaxBytes: 64 * mib, MaxMsgSize: 1 * mib, Duplicates: 10 * time.Minute},
			{Name: StreamDLQ, Subjects: []string{schemas.SubjectDLQAll}, Description: "messages a consumer gave up on, with the reason",
				MaxAge: 30 * day, MaxBytes: 512 * mib, MaxMsgSize: MaxPayload, Duplicates: 10 * time.Minute},
		},
		Consumers: []ConsumerSpec{
			{Name: ConsumerCrawler, Stream: StreamCrawl, FilterSubject: schemas.SubjectCrawlRequests,
				Description: "fetches URLs", AckWait: AckWait, MaxDeliver: 5, MaxAckPending: 256},
			{Name: ConsumerWriter, Stream: StreamDocs, FilterSubject: schemas.SubjectDocsCrawledAll,
				Description: "writes crawled documents to the warehouse", AckWait: AckWait, MaxDeliver: 10, MaxAckPending: 1024},
			{Name: ConsumerFeaturizer, Stream: StreamCDC, FilterSubject: schemas.SubjectCDCAll,
				Description: "cleans and chunks changed documents", AckWait: AckWait, MaxDeliver: 10, MaxAckPending: 1024},
			{Name: ConsumerEmbedder, Stream: StreamEmbed, FilterSubject: schemas.SubjectEmbedJobs,
				Description: "embeds chunks into the vector store", AckWait: AckWait, MaxDeliver: 10, MaxAckPending: 1024},
			{Name: ConsumerRag, Stream: StreamChatRequests, FilterSubject: schemas.SubjectChatRequests,
				Description: "answers chat questions", AckWait: AckWait, MaxDeliver: 3, MaxAckPending: 64},
			{Name: ConsumerMonitor, Stream: StreamMonitor, FilterSubject: schemas.SubjectMonitorTraces,
				Description: "stores prompt traces", AckWait: AckWait, MaxDeliver: 10, MaxAckPending: 1024},
			{Name: ConsumerMonitorFeedback, Stream: StreamFeedback, FilterSubject: schemas.FeedbackSubject(schemas.FeedbackRating),
				Description: "joins feedback to its trace", AckWait: AckWait, MaxDeliver: 10, MaxAckPending: 1024},
			{Name: ConsumerMonitorJudgments, Stream: StreamFeedback, FilterSubject: schemas.FeedbackSubject(schemas.FeedbackRelevance),
				Description: "stores relevance judgments", AckWait: AckWait, MaxDeliver: 10, MaxAckPending: 1024},
			// The policy's consumers read streams other consumers read too:
			// none of these is a work queue (EMBED is, which is why drift
			// reads the CDC stream's documents rather than the embed jobs).
			{Name: ConsumerPolicyIndex, Stream: StreamIndex, FilterSubject: schemas.SubjectIndexEvents,
				Description: "retrain policy: new documents", AckWait: AckWait, MaxDeliver: 10, MaxAckPending: 1024},
			{Name: ConsumerPolicyRatings, Stream: StreamFeedback, FilterSubject: schemas.FeedbackSubject(schemas.FeedbackRating),
				Description: "retrain policy: negative ratings", AckWait: AckWait, MaxDeliver: 10, MaxAckPending: 1024},
			{Name: ConsumerPolicyJudgments, Stream: StreamFeedback, FilterSubject: schemas.FeedbackSubject(schemas.FeedbackRelevance),
				Description: "retrain policy: new relevance judgments", AckWait: AckWait, MaxDeliver: 10, MaxAckPending: 1024},
			{Name: ConsumerPolicyChanges, Stream: StreamCDC, FilterSubject: schemas.SubjectCDCAll,
				Description: "retrain policy: embedding drift of new chunks", AckWait: AckWait, MaxDeliver: 10, MaxAckPending: 1024},
			{Name: ConsumerPolicyTraining, Stream: StreamTraining, FilterSubject: schemas.SubjectTrainingStatus,
				Description: "retrain policy: trainings that succeeded reset their kind", AckWait: AckWait, MaxDeliver: 10, MaxAckPending: 256},
			// One job at a time: a job holds the machine (or a SageMaker
			// quota) for minutes to hours; the runtime keeps it alive.
			{Name: ConsumerTrainer, Stream: StreamTraining, FilterSubject: schemas.SubjectTrainingTriggers,
				Description: "runs a training job per trigger", AckWait: AckWait, MaxDeliver: 5, MaxAckPending: 1},
		},
	}
}

// Stream returns the spec of the named stream.
func (t Topology) Stream(name string) (StreamSpec, bool) {
	for _, s := range t.Streams {
		if s.Name == name {
			return s, true
		}
	}
	return StreamSpec{}, false
}

// Consumer returns the spec of the named durable consumer.
func (t Topology) Consumer(name string) (ConsumerSpec, bool) {
	for _, c := range t.Consumers {
		if c.Name == name {
			return c, true
		}
	}
	return ConsumerSpec{}, false
}

// TotalBytes is what the streams may hold at most, before replication.
func (t Topology) TotalBytes() int64 {
	var n int64
	for _, s := range t.Streams {
		n += s.MaxBytes
	}
	return n
}

// FitStore scales every stream's MaxBytes down so that, replicated, they fit
// in budget bytes: JetStream reserves MaxBytes against the server's store
// limit and refuses a stream that does not fit. It never scales up.
func (t Topology) FitStore(budget int64) Topology {
	total := t.TotalBytes() * int64(max(t.Replicas, 1))
	if budget <= 0 || total <= budget {
		return t
	}
	out := t
	out.Streams = make([]StreamSpec, len(t.Streams))
	for i, s := range t.Streams {
		s.MaxBytes = max(int64(float64(s.MaxBytes)*float64(budget)/float64(total)), int64(s.MaxMsgSize))
		out.Streams[i] = s
	}
	return out
}

// StreamConfig is the server configuration of s.
func (t Topology) StreamConfig(s StreamSpec) jetstream.StreamConfig {
	cfg := jetstream.StreamConfig{
		Name:        s.Name,
		Description: s.Description,
		Subjects:    s.Subjects,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      s.MaxAge,
		MaxBytes:    s.MaxBytes,
		MaxMsgSize:  s.MaxMsgSize,
		MaxMsgs:     -1,
		Duplicates:  s.Duplicates,
		Replicas:    max(t.Replicas, 1),
		Storage:     jetstream.FileStorage,
	}
	if s.WorkQueue {
		// A full work queue refuses new work rather than drop work nobody did.
		cfg.Retention = jetstream.WorkQueuePolicy
		cfg.Discard = jetstream.DiscardNew
	}
	return cfg
}

// ConsumerConfig is the server configuration of c. The server's own
// MaxDeliver is unlimited: the runtime counts deliveries itself so that the
// last one ends in the DLQ instead of silently staying unacked.
func ConsumerConfig(c ConsumerSpec) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       c.Name,
		Description:   c.Description,
		FilterSubject: c.FilterSubject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: c.MaxAckPending,
	}
}

// Apply creates or updates every stream and durable consumer of t. It is
// idempotent: running it on an applied server changes nothing.
//
// On a cluster that is still forming (no meta leader yet, fewer members up
// than the replicas need) or electing a leader, it tries each call again
// until ctx ends: every member of a deployment applies the topology at
// start, and they start together.
func (t Topology) Apply(ctx context.Context, js jetstream.JetStream) error {
	for _, s := range t.Streams {
		if err := untilAvailable(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, t.StreamConfig(s))
			return err
		}); err != nil {
			return fmt.Errorf("apply stream %s: %w", s.Name, err)
		}
	}
	for _, c := range t.Consumers {
		if err := untilAvailable(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateConsumer(ctx, c.Stream, ConsumerConfig(c))
			return err
		}); err != nil {
			return fmt.Errorf("apply consumer %s on %s: %w", c.Name, c.Stream, err)
		}
	}
	return nil
}

// jsClusterNoPeers is JetStream's "no suitable peers for placement": a
// stream asks for more replicas than the members it knows of, as while a
// cluster forms.
const jsClusterNoPeers = 10005

// untilAvailable calls f until it succeeds, fails for good, or ctx ends.
// Each call gets a few seconds: a request that no meta leader answers
// would otherwise wait out all of ctx.
func untilAvailable(ctx context.Context, f func(context.Context) error) error {
	wait := 50 * time.Millisecond
	for {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := f(tctx)
		cancel()
		var apiErr *jetstream.APIError
		retry := Transient(err) || errors.As(err, &apiErr) && apiErr.ErrorCode == jsClusterNoPeers ||
			errors.Is(err, errNoLeader) || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil
		if err == nil || !retry {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (still unavailable when %w)", err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// ensureConsumer creates the consumer of c, and its stream when that is
// gone too, so that a runtime recovers from either being deleted.
func (t Topology) ensureConsumer(ctx context.Context, js jetstream.JetStream, c ConsumerSpec) (jetstream.Consumer, error) {
	cons, err := js.CreateOrUpdateConsumer(ctx, c.Stream, ConsumerConfig(c))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, ok := t.Stream(c.Stream)
		if !ok {
			return nil, fmt.Errorf("consumer %s: stream %s is not in the topology: %w", c.Name, c.Stream, err)
		}
		if _, err := js.CreateOrUpdateStream(ctx, t.StreamConfig(s)); err != nil {
			return nil, fmt.Errorf("recreate stream %s: %w", s.Name, err)
		}
		cons, err = js.CreateOrUpdateConsumer(ctx, c.Stream, ConsumerConfig(c))
	}
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on %s: %w", c.Name, c.Stream, err)
	}
	return cons, nil
}
