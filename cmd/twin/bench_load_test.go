package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/bench"
)

// TestBenchLoadIngestsAndAnswersAndDrains runs twin bench load briefly:
// through the multi-process system every document imported during the load
// becomes searchable, every question is answered, each process reports its
// memory, and the lag returns to zero.
func TestBenchLoadIngestsAndAnswersAndDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a multi-process system; skipped with -short")
	}
	t.Parallel()
	bin := buildTwin(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "bench", "load", "--duration", "5s", "--rate", "10", "--clients", "2", "--preload", "50", "--json").Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	if err != nil {
		t.Fatalf("twin bench load: %v\n%s", err, stderr)
	}
	var res bench.LoadResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("twin bench load printed %q: %v", out, err)
	}
	t.Logf("%s", out)
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
