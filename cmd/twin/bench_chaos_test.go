package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/bench"
)

// TestBenchChaosLosesNothing runs twin bench chaos at a size for CI: the
// multi-process system ingests, updates and deletes while processes (NATS
// members included) are killed and restarted, and the index must match
// the warehouse. It fails on anything lost, duplicated, stale or
// dead-lettered: the command then exits non-zero.
func TestBenchChaosLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a multi-process system; skipped with -short")
	}
	t.Parallel()
	bin := buildTwin(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "bench", "chaos", "--docs", "300", "--kills", "6", "--seed", "7", "--json")
	out, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	var res bench.ChaosResult
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		t.Fatalf("twin bench chaos: %v, output %q: %v\n%s", err, out, jerr, stderr)
	}
	t.Logf("%s", out)
	if err != nil || !res.OK() {
		t.Fatalf("twin bench chaos: %v: lost %d, duplicated %d, stale %d, dead letters %d: %v\n%s", err, res.Lost, res.Duplicated, res.Stale, res.DLQ, res.Problems, stderr)
	}
	if res.Kills != 6 || res.Docs != 300 || res.Points < 300-res.Deleted {
		t.Errorf("the run did not do what it was asked: %+v", res)
	}
}
