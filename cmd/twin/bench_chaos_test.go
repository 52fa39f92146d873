package main

import (
	"context"
	"encoding/json"
	"errors"
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
	t.Parallel()
	var res bench.ChaosResult
	stderr, err := runBench(t, &res, "chaos", "--docs", "300", "--kills", "6", "--seed", "7")
	if err != nil || !res.OK() {
		t.Fatalf("twin bench chaos: %v: lost %d, duplicated %d, stale %d, dead letters %d: %v\n%s", err, res.Lost, res.Duplicated, res.Stale, res.DLQ, res.Problems, stderr)
	}
	if res.Kills != 6 || res.Docs != 300 || res.Points < 300-res.Deleted {
		t.Errorf("the run did not do what it was asked: %+v", res)
	}
}

// runBench runs `twin bench args... --json` of a freshly built binary and
// decodes the report it prints into res. A run that exits non-zero may
// still have printed its report: its error and what it said on stderr are
// returned for the caller to judge.
func runBench(t *testing.T, res any, args ...string) (stderr string, err error) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs a multi-process system; skipped with -short")
	}
	bin := buildTwin(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append(append([]string{"bench"}, args...), "--json")...).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		stderr = string(ee.Stderr)
	}
	if jerr := json.Unmarshal(out, res); jerr != nil {
		t.Fatalf("twin bench %s: %v, output %q: %v\n%s", args[0], err, out, jerr, stderr)
	}
	t.Logf("%s", out)
	return stderr, err
}
