package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/testwait"
)

// TestNATSServesClientsAndMonitoringAndRunsOncePerName: twin nats serves
// clients with twin up's credentials (twin run and client commands find
// them through --data), nats-server's monitoring with --monitor, and a
// second server of the same name on the data dir is refused, naming the
// first one.
func TestNATSServesClientsAndMonitoringAndRunsOncePerName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addrs := []string{freeAddr(t), freeAddr(t)}
	var out, errOut testwait.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	go func() {
		exit <- execute(ctx, []string{"nats", "--data", dir, "--name", "n1", "--listen", addrs[0], "--monitor", addrs[1]}, &out, &errOut, noEnv)
	}()
	defer func() {
		cancel()
		if code := <-exit; code != 0 {
			t.Errorf("twin nats exited %d: %s", code, errOut.String())
		}
	}()
	testwait.Until(t, 30*time.Second, "twin nats to serve", func() bool { return strings.Contains(out.String(), "nats     nats://") })

	for _, path := range []string{"/healthz", "/jsz"} {
		resp, err := http.Get("http://" + addrs[1] + path)
		if err != nil {
			t.Fatalf("monitoring %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("monitoring %s: %s", path, resp.Status)
		}
	}
	if code, stdout, stderr := runTwin("streams", "apply", "--data", dir, "--nats", "nats://"+addrs[0]); code != 0 || !strings.Contains(stdout, "applied") {
		t.Errorf("twin streams apply against twin nats with the data dir's credentials: exit %d: %s%s", code, stdout, stderr)
	}
	code, _, stderr := runTwin("nats", "--data", dir, "--name", "n1", "--listen", "127.0.0.1:-1")
	if code == 0 || !strings.Contains(stderr, "in use") || !strings.Contains(stderr, "nats-n1") {
		t.Errorf("a second twin nats n1 on the data dir: exit %d, stderr %q; want a refusal naming its store", code, stderr)
	}
}
