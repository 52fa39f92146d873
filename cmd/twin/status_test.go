package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/ops"
	"github.com/twin-llm/twin/streams"
)

func TestWatchStatusRedrawsWithRatesAndOutlivesErrors(t *testing.T) {
	t.Parallel()
	now := time.Now()
	reads := 0
	read := func(context.Context) (gateway.Status, error) {
		reads++
		if reads == 2 {
			return gateway.Status{}, errors.New("gateway is restarting")
		}
		// Each good read has moved 1,000 messages on: a rate over the
		// interval, whatever the interval was.
		n := uint64(reads * 1000)
		return gateway.Status{Status: ops.Status{
			Status: streams.Status{Streams: []streams.StreamStatus{
				{Name: streams.StreamCDC, Messages: n, LastSeq: n, Consumers: []streams.ConsumerStatus{{Name: "featurizer", Pending: 3, Acked: n - 3, LastActive: &now}}},
				{Name: streams.StreamDLQ, Messages: 2, LastSeq: 2},
			}},
			Freshness: &ops.Freshness{Samples: 10, P50Seconds: 0.013, P99Seconds: 0.021, LastIndexed: now},
		}}, nil
	}
	var out bytes.Buffer
	if err := watchStatus(context.Background(), &out, read, 10*time.Millisecond, 3); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	first := text[:strings.Index(text, "cannot read")]
	for _, want := range []string{"cannot read the status: gateway is restarting", "dead letters: 2", "freshness:    p50 13ms, p99 21ms", "training:     no jobs yet"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(first, "RATE") {
		t.Errorf("the first draw has rates, with nothing to compare to:\n%s", first)
	}
	// The third draw compares with the first, across the failed read.
	last := text[strings.LastIndex(text, "every 10ms"):]
	if !strings.Contains(last, "RATE") || strings.Count(last, "/s") < 2 {
		t.Errorf("the last draw has no rate per stream and consumer:\n%s", last)
	}
}

func TestWatchStatusStopsOnCtrlC(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	read := func(context.Context) (gateway.Status, error) {
		cancel() // the user presses Ctrl-C during the first draw
		return gateway.Status{}, nil
	}
	var out bytes.Buffer
	if err := watchStatus(ctx, &out, read, time.Hour, -1); err != nil {
		t.Fatalf("Ctrl-C is how a watch ends, not an error: %v", err)
	}
}
