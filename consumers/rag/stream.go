package rag

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Grouping of words into token messages.
const (
	// maxChunkWords bounds the words of one token message.
	maxChunkWords = 16
	// flushDelay is the longest a word waits for company: a model that
	// writes at reading speed streams word by word, at most this late.
	flushDelay = 15 * time.Millisecond
)

// tokenStream publishes an answer as token messages on its reply subject.
// Every message costs a stream write, a delivery and a WebSocket frame, so
// words that arrive in a burst (the extractive model writes its whole
// answer in microseconds) are grouped: the first word goes alone, then
// messages of 2, 4, 8 and at most 16 words. A word that arrives alone is
// published within flushDelay. Each message has the next seq and the
// Nats-Msg-Id reply:<id>:<seq>, so a redelivered request that produces the
// same words is deduplicated.
type tokenStream struct {
	ctx     context.Context
	pub     Publisher
	id      string
	traceID string

	mu      sync.Mutex
	seq     int
	chunk   int             // words the next message waits for
	buf     strings.Builder // words not yet published
	words   int
	text    strings.Builder // words published
	first   time.Time       // when the first token was published
	timer   *time.Timer
	futures []jetstream.PubAckFuture
	err     error // the first publish error; nothing is published after it
}

func newTokenStream(ctx context.Context, pub Publisher, id, traceID string) *tokenStream {
	return &tokenStream{ctx: ctx, pub: pub, id: id, traceID: traceID, chunk: 1}
}

// write adds released answer text, word by word; a word keeps the spaces
// after it, so the tokens concatenate to the answer.
func (t *tokenStream) write(text string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for text != "" && t.err == nil {
		i := strings.IndexFunc(text, isSpace)
		if i < 0 {
			i = len(text)
		} else if j := strings.IndexFunc(text[i:], func(r rune) bool { return !isSpace(r) }); j < 0 {
			i = len(text)
		} else {
			i += j
		}
		t.buf.WriteString(text[:i])
		t.words++
		text = text[i:]
		if t.words >= t.chunk {
			t.flushLocked()
			t.chunk = min(2*t.chunk, maxChunkWords)
		}
	}
	if t.words > 0 && t.err == nil && t.timer == nil {
		t.timer = time.AfterFunc(flushDelay, t.flush)
	}
	return t.err
}

func (t *tokenStream) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.timer = nil
	t.flushLocked()
}

func (t *tokenStream) flushLocked() {
	if t.words == 0 || t.err != nil {
		return
	}
	word := t.buf.String()
	t.buf.Reset()
	t.words = 0
	t.seq++
	if t.seq == 1 {
		t.first = time.Now()
	}
	f, err := t.pub.PublishAsync(t.ctx, streams.Out{
		Subject: schemas.ChatReplies(t.id),
		MsgID:   fmt.Sprintf("reply:%s:%d", t.id, t.seq),
		Body:    &schemas.ReplyToken{Type: schemas.ReplyTypeToken, ID: t.id, Seq: t.seq, Text: word},
		TraceID: t.traceID,
	})
	if err != nil {
		t.err = err
		return
	}
	t.text.WriteString(word)
	t.futures = append(t.futures, f)
}

// close publishes what is left and returns the stream's first error.
func (t *tokenStream) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	t.flushLocked()
	return t.err
}

func isSpace(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == '\r' }
