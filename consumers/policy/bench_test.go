package policy_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/policy"
	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/models/tokenizer"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

// BenchmarkDriftSample measures the drift rule on batches of 128 changed
// posts with the default settings (the hashed model at 1,024 dimensions,
// samples of 256): cleaning, chunking, embedding the chunks that enter a
// sample, deciding and writing the state to the KV bucket, per batch, as
// the runtime calls it. After the first batches few chunks enter the
// samples, so this is the steady cost; the state's size is reported too.
func BenchmarkDriftSample(b *testing.B) {
	js := streamstest.Start(b)
	tok, err := tokenizer.New()
	if err != nil {
		b.Fatal(err)
	}
	th := policy.DefaultThresholds()
	p, err := policy.Open(context.Background(), policy.Config{JS: js, Publisher: streams.NewPublisher(js), Thresholds: th,
		Embed: embed.NewHashed(0), Tokenizer: tok, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	h := p.ChangesHandler()
	batch := func(n int) []*streams.Msg {
		msgs := make([]*streams.Msg, 128)
		for i := range msgs {
			id := fmt.Sprint("doc-", n, "-", i)
			data, err := schemas.Encode(&schemas.CDCEvent{Collection: warehouse.Posts, Op: "insert", DocumentID: id,
				Document: &schemas.Document{ID: id, Collection: warehouse.Posts, Content: post("outdoors", n*128+i)}})
			if err != nil {
				b.Fatal(err)
			}
			msgs[i] = &streams.Msg{Subject: schemas.CDC(warehouse.Posts, "insert"), Data: data}
		}
		return msgs
	}
	// Past the first snapshot, as a running system is.
	for n := range 8 {
		if err := h.HandleBatch(context.Background(), batch(n)); err != nil {
			b.Fatal(err)
		}
	}
	n := 8
	for b.Loop() {
		b.StopTimer()
		msgs := batch(n)
		n++
		b.StartTimer()
		if err := h.HandleBatch(context.Background(), msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*128)/1e3, "µs/post")
	kv, err := js.KeyValue(context.Background(), streams.BucketPolicy)
	if err != nil {
		b.Fatal(err)
	}
	e, err := kv.Get(context.Background(), "drift")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(e.Value())), "state-bytes")
}
