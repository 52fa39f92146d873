package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/streams"
)

// runTwin runs a twin command to its end and returns its exit code,
// stdout and stderr.
func runTwin(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := execute(context.Background(), args, &out, &errOut, noEnv)
	return code, out.String(), errOut.String()
}

func TestUpsNATSRefusesClientsWithoutCredentials(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())

	if nc, err := nats.Connect(p.nats, nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Fatal("twin up's NATS accepted a client without credentials")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("connect without credentials: %v; want an authorization violation", err)
	}

	// Client commands on the machine find the operator's credentials
	// through --data alone (p.twin passes it).
	if out, err := p.twin(t, "streams", "ls"); err != nil || !strings.Contains(out, "DLQ") {
		t.Fatalf("twin streams ls with --data: %q %v", out, err)
	}
	// Elsewhere they are refused, and say what to give.
	code, _, stderr := runTwin("streams", "ls", "--nats", p.nats, "--data", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "Authorization Violation") || !strings.Contains(stderr, "--nats-creds") {
		t.Fatalf("twin streams ls with another --data: exit %d, stderr %q; want an authorization failure naming --nats-creds", code, stderr)
	}
	// --nats-creds works from anywhere; the publisher's cannot manage the DLQ.
	admin := streams.SeedFile(p.dir, streams.RoleAdmin)
	if code, out, stderr := runTwin("dlq", "ls", "--nats", p.nats, "--data", t.TempDir(), "--nats-creds", admin); code != 0 || !strings.Contains(out, "no dead letters") {
		t.Fatalf("twin dlq ls --nats-creds admin: exit %d %q %q", code, out, stderr)
	}
	publisher := streams.SeedFile(p.dir, streams.RolePublisher)
	if code, out, stderr := runTwin("dlq", "purge", "--all", "--nats", p.nats, "--data", t.TempDir(), "--nats-creds", publisher); code == 0 || !strings.Contains(stderr, "Permissions Violation") {
		t.Fatalf("twin dlq purge with the publisher's credentials: exit %d %q %q; want it refused, saying why", code, out, stderr)
	}
}

func TestRunConnectsWithNATSCreds(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	var out, errOut testwait.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	args := []string{"run", "crawler", "--nats", p.nats, "--data", t.TempDir(), "--http", "off",
		"--nats-creds", streams.SeedFile(p.dir, streams.RoleSystem)}
	go func() { exit <- execute(ctx, args, &out, &errOut, noEnv) }()
	defer func() {
		cancel()
		if code := <-exit; code != 0 {
			t.Errorf("twin run exited %d: %s", code, errOut.String())
		}
	}()
	testwait.Until(t, 30*time.Second, "twin run crawler ready with --nats-creds", func() bool {
		select {
		case code := <-exit:
			exit <- code
			t.Fatalf("twin run exited %d before it was ready: %s", code, errOut.String())
		default:
		}
		return strings.Contains(out.String(), "ready in")
	})
}

func TestSecondInstanceOnTheSameDataDirFailsFastNamingTheHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startUp(t, dir)
	pid := fmt.Sprintf("pid %d", os.Getpid())

	began := time.Now()
	code, _, stderr := runTwin("up", "--data", dir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1")
	if took := time.Since(began); code == 0 || !strings.Contains(stderr, pid) || !strings.Contains(stderr, "in use") || took > time.Second {
		t.Fatalf("second twin up on %s: exit %d after %s, stderr %q; want a failure within 1s naming %s", dir, code, took, stderr, pid)
	}
	// A component of twin run that opens the data dir's warehouse is
	// refused too, though its NATS is elsewhere.
	code, _, stderr = runTwin("run", "warehouse", "--nats", p.nats, "--data", dir, "--http", "off")
	if code == 0 || !strings.Contains(stderr, pid) {
		t.Fatalf("twin run warehouse on %s: exit %d, stderr %q; want a failure naming %s", dir, code, stderr, pid)
	}
	// The first instance never noticed.
	if out, err := p.twin(t, "status"); err != nil || !strings.Contains(out, "CRAWL") {
		t.Fatalf("the first twin up after the refused starts: %q %v", out, err)
	}
}

func TestMetricsNeedTheAPIAuthUnlessPublic(t *testing.T) {
	t.Parallel()
	const token = "metrics-test-token-0123456789"
	for _, c := range []struct {
		name    string
		flags   []string
		header  http.Header
		metrics int
	}{
		{"token set, none sent", []string{"--auth-token", token}, nil, http.StatusUnauthorized},
		{"token set and sent", []string{"--auth-token", token}, http.Header{"Authorization": {"Bearer " + token}}, http.StatusOK},
		{"token set, wrong one sent", []string{"--auth-token", token}, http.Header{"Authorization": {"Bearer not-the-token-at-all"}}, http.StatusUnauthorized},
		{"token set, public metrics", []string{"--auth-token", token, "--metrics-public"}, nil, http.StatusOK},
		{"no auth, loopback client", nil, nil, http.StatusOK},
		{"no auth, client behind a proxy", nil, http.Header{"X-Forwarded-For": {"203.0.113.7"}}, http.StatusUnauthorized},
		{"no auth, client behind a proxy, public metrics", []string{"--metrics-public"}, http.Header{"X-Forwarded-For": {"203.0.113.7"}}, http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := startUp(t, t.TempDir(), c.flags...)
			for path, want := range map[string]int{"/metrics": c.metrics, "/healthz": http.StatusOK, "/readyz": http.StatusOK} {
				req, _ := http.NewRequest(http.MethodGet, p.http+path, nil)
				for k, v := range c.header {
					req.Header[k] = v
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var body bytes.Buffer
				_, _ = body.ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("GET %s = %d %q; want %d", path, resp.StatusCode, body.String(), want)
				}
				if path == "/metrics" && want == http.StatusOK && !strings.Contains(body.String(), "twin_") {
					t.Errorf("GET /metrics answered 200 without twin metrics: %q", body.String())
				}
			}
		})
	}
}

func TestClientsStillReachAServerWithoutAuth(t *testing.T) {
	t.Parallel()
	// A plain NATS server (a developer's, or one behind its own network
	// policy) next to a data dir that holds twin up's credentials: the
	// seed found there is a guess, and must not lock the client out.
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("plain NATS server not ready")
	}
	dir := t.TempDir()
	up := startUp(t, dir) // makes the credentials in dir
	up.stop(t)
	if _, err := os.Stat(streams.SeedFile(dir, streams.RoleAdmin)); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := runTwin("streams", "apply", "--nats", ns.ClientURL(), "--data", dir); code != 0 {
		t.Fatalf("twin streams apply against a server without auth: exit %d %q %q", code, out, stderr)
	}
}
