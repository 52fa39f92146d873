package streams

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/schemas"
)

func TestDefaultTopologyHasTheElevenStreamsOfTheDesign(t *testing.T) {
	t.Parallel()
	topo := DefaultTopology()
	want := map[string]bool{StreamCrawl: true, StreamDocs: true, StreamCDC: true, StreamEmbed: true, StreamIndex: true,
		StreamChatRequests: true, StreamChatReplies: true, StreamFeedback: true, StreamMonitor: true, StreamTraining: true, StreamDLQ: true}
	if len(topo.Streams) != len(want) {
		t.Fatalf("%d streams, want %d", len(topo.Streams), len(want))
	}
	for _, s := range topo.Streams {
		if !want[s.Name] {
			t.Errorf("unexpected stream %s", s.Name)
		}
		if s.MaxBytes <= 0 || s.MaxMsgSize <= 0 || s.Duplicates <= 0 {
			t.Errorf("stream %s leaves a limit to the server: %+v", s.Name, s)
		}
		if s.MaxAge != 0 && s.Duplicates > s.MaxAge {
			t.Errorf("stream %s: dedup window %s exceeds max age %s", s.Name, s.Duplicates, s.MaxAge)
		}
		if int(s.MaxMsgSize) > MaxPayload {
			t.Errorf("stream %s: max message %d exceeds the server's max payload", s.Name, s.MaxMsgSize)
		}
	}
	for _, c := range topo.Consumers {
		if _, ok := topo.Stream(c.Stream); !ok {
			t.Errorf("consumer %s on unknown stream %s", c.Name, c.Stream)
		}
		if !schemas.ValidToken(c.Name) || c.MaxDeliver <= 0 || c.AckWait <= 0 || c.MaxAckPending <= 0 {
			t.Errorf("consumer %+v: want a token name and explicit limits", c)
		}
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	t.Parallel()
	topo := DefaultTopology().FitStore(512 * mib)
	e := newTestEnv(t, topo)
	ctx := context.Background()
	before := e.streamConfigs(t)
	if err := topo.Apply(ctx, e.js); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if after := e.streamConfigs(t); !reflect.DeepEqual(before, after) {
		t.Fatalf("second apply changed the streams:\n%+v\n%+v", before, after)
	}
	crawl, _ := e.js.Stream(ctx, StreamCrawl)
	info, _ := crawl.Info(ctx)
	if info.Config.Retention != jetstream.WorkQueuePolicy || info.Config.Discard != jetstream.DiscardNew {
		t.Errorf("CRAWL is %v/%v, want a work queue that refuses new work when full", info.Config.Retention, info.Config.Discard)
	}
}

func (e *testEnv) streamConfigs(t *testing.T) map[string]jetstream.StreamConfig {
	t.Helper()
	out := map[string]jetstream.StreamConfig{}
	list := e.js.ListStreams(context.Background())
	for info := range list.Info() {
		out[info.Config.Name] = info.Config
	}
	if err := list.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFitStoreScalesStreamsIntoTheBudget(t *testing.T) {
	t.Parallel()
	topo := DefaultTopology()
	for _, budget := range []int64{100 * mib, 1 * gib, 4 * gib} {
		fit := topo.FitStore(budget)
		if total := fit.TotalBytes(); total > budget+int64(len(fit.Streams))*int64(MaxPayload) {
			t.Errorf("budget %d: streams total %d", budget, total)
		}
		for _, s := range fit.Streams {
			if s.MaxBytes < int64(s.MaxMsgSize) {
				t.Errorf("budget %d: stream %s cannot hold one message", budget, s.Name)
			}
		}
	}
	if got := topo.FitStore(100 * gib); !reflect.DeepEqual(got, topo) {
		t.Error("FitStore scaled up")
	}
}

func TestApplyUpdatesTheAckWaitOfAnExistingConsumer(t *testing.T) {
	t.Parallel()
	old := consumerSpec("work", 5)
	old.AckWait = time.Minute // what a data dir from an older release holds
	e := newTestEnv(t, testTopology(old))
	now := old
	now.AckWait = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := testTopology(now).Apply(ctx, e.js); err != nil {
		t.Fatal(err)
	}
	if got := e.consumerInfo(t, "TESTQ", "work").Config.AckWait; got != now.AckWait {
		t.Fatalf("AckWait after Apply = %s, want %s", got, now.AckWait)
	}
}
