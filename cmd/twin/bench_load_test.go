package main

import (
	"testing"

	"github.com/twin-llm/twin/internal/bench"
)

// TestBenchLoadIngestsAndAnswersAndDrains runs twin bench load briefly:
// through the multi-process system every document imported during the load
// becomes searchable, every question is answered, each process reports its
// memory, and the lag returns to zero.
func TestBenchLoadIngestsAndAnswersAndDrains(t *testing.T) {
	t.Parallel()
	var res bench.LoadResult
	if stderr, err := runBench(t, &res, "load", "--duration", "5s", "--rate", "10", "--clients", "2", "--preload", "50"); err != nil {
		t.Fatalf("twin bench load: %v\n%s", err, stderr)
	}
	if res.Ingested < 10 || res.Searchable != res.Ingested {
		t.Errorf("ingested %d, searchable %d: want every imported document searchable", res.Ingested, res.Searchable)
	}
	if res.Answers == 0 || res.ChatErrors != 0 {
		t.Errorf("%d answers, %d errors (%s): want answers and no error", res.Answers, res.ChatErrors, res.FirstError)
	}
	for _, p := range []string{"nats-1", "nats-2", "nats-3", "store", "featurizer-1", "featurizer-2", "serve"} {
		if res.PeakRSSMB[p] <= 0 {
			t.Errorf("no memory figure for %s: %v", p, res.PeakRSSMB)
		}
	}
}
