package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Bounds of a live reply subscription. Past them nats.go drops messages;
// the gap is then seen and the reply replayed from the stream, so they
// bound memory, not correctness.
const (
	livePendingMsgs  = 4096
	livePendingBytes = 8 << 20
)

// replayBatch is how many stream messages a replay pulls at once: enough
// for a quick catch-up, small enough to bound what waits in memory.
const replayBatch = 128

// idleCheckEvery is how long a live reply may be silent before the stream
// is asked whether it holds messages the subscription missed (a NATS
// reconnect drops what was published meanwhile).
const idleCheckEvery = 10 * time.Second

// reply streams one request's reply to one connection, live from a core
// NATS subscription or replayed from CHAT_REPLIES.
//
// Invariant: the client is sent each token at most once and in order of
// seq: a token is forwarded only when its seq is above last, and last
// then becomes its seq. A live token that is not last+1 means the
// subscription missed something, so the reply switches to a replay of the
// stream, which skips everything up to last. Once replaying it never goes
// back to live: the ordered consumer keeps delivering new messages until
// the done.
type reply struct {
	c       *chatConn
	id      string
	forType string // the client frame that started it: ask or resume

	mu sync.Mutex // guards the fields below
	// last is the highest seq forwarded (or, for a resume, the client's
	// after).
	last      int
	replaying bool
	finished  bool
	sub       *nats.Subscription // live; nil once replaying
	consumer  jetstream.Consumer
	consuming jetstream.ConsumeContext
	timer     *time.Timer
	// deadline is when the reply gives up: ReplyTimeout after the last
	// message, or after the start.
	deadline time.Time
}

func newReply(c *chatConn, id, forType string, after int) *reply {
	return &reply{c: c, id: id, forType: forType, last: after, deadline: time.Now().Add(c.g.chat.ReplyTimeout)}
}

// replyHead is what the gateway reads of a reply message; the message
// itself is forwarded as it is.
type replyHead struct {
	Type    string              `json:"type"`
	ID      string              `json:"id"`
	Seq     int                 `json:"seq"`
	TraceID string              `json:"trace_id"`
	Error   *schemas.ReplyError `json:"error"`
}

// ask subscribes to the reply subject, then publishes the request: in
// that order, or the first tokens could go by before the subscription.
// With checkKnown, an id that already has a reply is replayed instead of
// asked again, which makes an ask idempotent by id.
func (r *reply) ask(req schemas.ChatRequest, checkKnown bool) {
	g := r.c.g
	ctx, cancel := context.WithTimeout(r.c.ctx, apiTimeout)
	defer cancel()
	sub, err := g.nc.Subscribe(schemas.ChatReplies(r.id), r.onLive)
	if err != nil {
		r.fail(CodeUnavailable, "could not subscribe to the reply", err)
		return
	}
	_ = sub.SetPendingLimits(livePendingMsgs, livePendingBytes)
	r.mu.Lock()
	if r.finished {
		r.mu.Unlock()
		_ = sub.Unsubscribe()
		return
	}
	r.sub = sub
	r.mu.Unlock()
	// The flush makes the server register the subscription before the
	// request can reach a worker, even when the publisher uses another
	// connection.
	if err := g.nc.FlushWithContext(ctx); err != nil {
		r.fail(CodeUnavailable, "NATS did not answer", err)
		return
	}
	if checkKnown {
		last, err := g.lastReply(ctx, r.id)
		if err != nil {
			r.fail(CodeUnavailable, "could not read the reply stream", err)
			return
		}
		if last != nil {
			r.mu.Lock()
			r.startReplayLocked()
			r.mu.Unlock()
			return
		}
	}
	// An author the warehouse does not know would get "nothing found":
	// say so instead, with the names it knows.
	if msg, known := g.knownAuthor(ctx, req.Author); !known {
		r.fail(CodeUnknownAuthor, msg, nil)
		return
	}
	// A retried ask inside the dedup window is acked as a duplicate and
	// not queued again; the subscription serves it like a new one.
	if _, err := g.cfg.Publisher.Publish(ctx, streams.Out{
		Subject: schemas.SubjectChatRequests,
		MsgID:   "chat:" + r.id,
		Body:    req,
	}); err != nil {
		r.fail(CodeUnavailable, "could not queue the question; try again", err)
		return
	}
	r.mu.Lock()
	r.armLocked()
	r.mu.Unlock()
}

// resume replays a known request's reply after the client's last seq.
// Only the stream can say whether the id is known; a request whose reply
// has not started yet is not, and its client asks again with the same id
// instead (see docs/chat.md).
func (r *reply) resume() {
	ctx, cancel := context.WithTimeout(r.c.ctx, apiTimeout)
	defer cancel()
	last, err := r.c.g.lastReply(ctx, r.id)
	if err != nil {
		r.fail(CodeUnavailable, "could not read the reply stream", err)
		return
	}
	if last == nil {
		r.fail(CodeNotFound, "no reply for request "+r.id+" (unknown, expired, or not started: ask again with the same id)", nil)
		return
	}
	r.c.sendMessage(ServerMessage{Type: MsgAccepted, ID: r.id, For: MsgResume})
	r.mu.Lock()
	r.startReplayLocked()
	r.mu.Unlock()
}

func (r *reply) onLive(m *nats.Msg) { r.deliver(m.Data, true) }

func (r *reply) onReplay(m jetstream.Msg) { r.deliver(m.Data(), false) }

// deliver forwards one reply message, keeping the invariant on seq.
func (r *reply) deliver(data []byte, live bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished || live && r.replaying {
		return
	}
	var h replyHead
	if err := json.Unmarshal(data, &h); err != nil || h.ID != r.id {
		r.c.g.cfg.Log.Warn().Str("request", r.id).Msg("chat: skipped a reply message that is not for this request")
		return
	}
	r.deadline = time.Now().Add(r.c.g.chat.ReplyTimeout)
	switch h.Type {
	case schemas.ReplyTypeToken:
		if h.Seq <= r.last {
			return // sent already, or before the client's resume point
		}
		if live && h.Seq != r.last+1 {
			r.startReplayLocked()
			return
		}
		r.last = h.Seq
		r.c.send(data, MsgToken)
	case schemas.ReplyTypeDone:
		if live && r.sub != nil {
			if dropped, _ := r.sub.Dropped(); dropped > 0 {
				r.startReplayLocked() // the missing tokens are before this done
				return
			}
		}
		if h.Error != nil {
			r.c.sendMessage(ServerMessage{Type: MsgError, ID: r.id, Code: h.Error.Code, Message: h.Error.Message, TraceID: h.TraceID, For: r.forType})
		} else {
			r.c.send(data, MsgDone)
		}
		r.finishLocked()
	}
}

// startReplayLocked switches to the stream. The consumer is created on
// another goroutine: this may run in a subscription's callback, which
// must not block on a JetStream request.
func (r *reply) startReplayLocked() {
	if r.finished || r.replaying {
		return
	}
	r.replaying = true
	sub := r.sub
	r.sub = nil
	r.armLocked()
	go func() {
		if sub != nil {
			_ = sub.Unsubscribe()
		}
		r.openReplay()
	}()
}

// openReplay starts an ordered consumer on the reply's subject, from the
// stream's first message on it.
func (r *reply) openReplay() {
	g := r.c.g
	ctx, cancel := context.WithTimeout(r.c.ctx, apiTimeout)
	defer cancel()
	cons, err := g.cfg.JS.OrderedConsumer(ctx, streams.StreamChatReplies, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{schemas.ChatReplies(r.id)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		// Deleted when the reply ends; this only bounds a leak if the
		// gateway dies first.
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		r.fail(CodeUnavailable, "could not replay the reply", err)
		return
	}
	cc, err := cons.Consume(r.onReplay, jetstream.PullMaxMessages(replayBatch))
	if err != nil {
		deleteConsumer(g.cfg.JS, cons)
		r.fail(CodeUnavailable, "could not replay the reply", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished { // the done came already, or the connection ended
		cc.Stop()
		go deleteConsumer(g.cfg.JS, cons)
		return
	}
	r.consumer, r.consuming = cons, cc
}

// armLocked (re)starts the timer that watches for a silent reply.
func (r *reply) armLocked() {
	if r.finished {
		return
	}
	wait := min(idleCheckEvery, time.Until(r.deadline))
	if r.timer == nil {
		r.timer = time.AfterFunc(wait, r.check)
		return
	}
	r.timer.Reset(wait)
}

// check runs when the reply has been silent for a while: past the
// deadline it ends with a timeout; a live reply asks the stream whether
// it missed messages, and replays if so.
func (r *reply) check() {
	r.mu.Lock()
	if r.finished {
		r.mu.Unlock()
		return
	}
	if !time.Now().Before(r.deadline) {
		r.c.sendMessage(ServerMessage{Type: MsgError, ID: r.id, Code: CodeTimeout,
			Message: "no reply in time; resume later or ask again", For: r.forType})
		r.finishLocked()
		r.mu.Unlock()
		return
	}
	if r.replaying {
		r.armLocked() // the ordered consumer recovers from losses itself
		r.mu.Unlock()
		return
	}
	last := r.last
	r.mu.Unlock()

	ctx, cancel := context.WithTimeout(r.c.ctx, apiTimeout)
	defer cancel()
	msg, err := r.c.g.lastReply(ctx, r.id)
	missed := false
	if err == nil && msg != nil {
		var h replyHead
		missed = json.Unmarshal(msg.Data, &h) == nil && (h.Type == schemas.ReplyTypeDone || h.Seq > last)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if missed {
		r.startReplayLocked()
		return
	}
	r.armLocked()
}

// fail ends the reply with an error frame.
func (r *reply) fail(code, msg string, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		r.c.g.cfg.Log.Warn().Err(err).Str("request", r.id).Msg("chat: " + msg)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	r.c.sendMessage(ServerMessage{Type: MsgError, ID: r.id, Code: code, Message: msg, For: r.forType})
	r.finishLocked()
}

// finishLocked releases the reply's subscription, consumer and timer and
// frees its in-flight slot.
func (r *reply) finishLocked() {
	r.releaseLocked()
	r.c.ended(r)
}

// stop releases the reply without a word to the client, whose
// connection is gone.
func (r *reply) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releaseLocked()
}

func (r *reply) releaseLocked() {
	if r.finished {
		return
	}
	r.finished = true
	if r.timer != nil {
		r.timer.Stop()
	}
	if r.sub != nil {
		_ = r.sub.Unsubscribe()
		r.sub = nil
	}
	if r.consuming != nil {
		r.consuming.Stop()
		go deleteConsumer(r.c.g.cfg.JS, r.consumer)
		r.consuming, r.consumer = nil, nil
	}
}

// deleteConsumer removes a finished replay's consumer from the server at
// once, rather than leaving it to its inactivity threshold.
func deleteConsumer(js jetstream.JetStream, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	_ = js.DeleteConsumer(ctx, streams.StreamChatReplies, info.Name)
}

// lastReply returns the last message stored for a request's reply, or nil
// when CHAT_REPLIES holds none (unknown, expired, or not started).
func (g *Gateway) lastReply(ctx context.Context, id string) (*jetstream.RawStreamMsg, error) {
	s, err := g.repliesStream(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.GetLastMsgForSubject(ctx, schemas.ChatReplies(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("last reply of %s: %w", id, err)
	}
	return m, nil
}

// repliesStream returns a handle on CHAT_REPLIES, looked up once: the
// handle's message reads go by the stream's name, so it stays valid even
// if the stream is recreated.
func (g *Gateway) repliesStream(ctx context.Context) (jetstream.Stream, error) {
	g.streamMu.Lock()
	defer g.streamMu.Unlock()
	if g.replies != nil {
		return g.replies, nil
	}
	s, err := g.cfg.JS.Stream(ctx, streams.StreamChatReplies)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", streams.StreamChatReplies, err)
	}
	g.replies = s
	return s, nil
}
