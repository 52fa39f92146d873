package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/streams"
)

// upProcess is `twin up` running in this test process.
type upProcess struct {
	dir        string
	http, nats string
	stdout     *testwait.Buffer
	stderr     *testwait.Buffer
	cancel     context.CancelFunc
	exit       chan int
}

var (
	httpLine = regexp.MustCompile(`http\s+(http://\S+)`)
	natsLine = regexp.MustCompile(`nats\s+(nats://\S+)`)
)

// startUp runs `twin up` on dir with free ports and waits for its banner.
func startUp(t testing.TB, dir string, extra ...string) *upProcess {
	t.Helper()
	p := &upProcess{dir: dir, stdout: &testwait.Buffer{}, stderr: &testwait.Buffer{}, exit: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	args := append([]string{"up", "--data", dir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1"}, extra...)
	go func() { p.exit <- execute(ctx, args, p.stdout, p.stderr, noEnv) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := p.stdout.String()
		if strings.Contains(out, "ready in") {
			if m := httpLine.FindStringSubmatch(out); m != nil { // none with --http off
				p.http = m[1]
			}
			if m := natsLine.FindStringSubmatch(out); m != nil { // none with --nats-listen off
				p.nats = m[1]
			}
			break
		}
		select {
		case code := <-p.exit:
			t.Fatalf("twin up exited with %d before it was ready:\n%s\n%s", code, out, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("twin up not ready after 30s:\n%s\n%s", out, p.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop cancels the command as SIGINT does and checks it exits cleanly.
func (p *upProcess) stop(t testing.TB) {
	t.Helper()
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case code := <-p.exit:
		if code != 0 {
			t.Errorf("twin up exited with %d:\n%s", code, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("twin up did not stop within 30s")
	}
}

func noEnv(string) string { return "" }

// twin runs a client subcommand against p and returns its stdout.
func (p *upProcess) twin(t testing.TB, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--server", p.http, "--nats", p.nats, "--data", p.dir)
	if code := execute(context.Background(), args, &out, &errOut, noEnv); code != 0 {
		return out.String(), fmt.Errorf("twin %s exited %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String(), nil
}

// connect opens a connection to p's NATS as its operator, with the
// credentials twin up keeps in the data dir.
func (p *upProcess) connect(t testing.TB) *nats.Conn {
	t.Helper()
	creds, err := streams.CredentialsOption(streams.SeedFile(p.dir, streams.RoleAdmin))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(p.nats, creds)
	if err != nil {
		t.Fatalf("connect to %s as admin: %v", p.nats, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestUpServesHealthReadinessMetricsAndStatus(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())

	if code, _ := get(t, p.http+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get(t, p.http+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d %s", code, body)
	}

	// A durable consumer that nobody runs shows its backlog as lag.
	js, _ := jetstream.New(p.connect(t))
	if _, err := js.CreateOrUpdateConsumer(context.Background(), "INDEX", jetstream.ConsumerConfig{Durable: "idle", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), "twin.index.events", []byte(`{"document_id":"d1","op":"upsert"}`)); err != nil {
		t.Fatal(err)
	}

	code, body := get(t, p.http+"/v1/status")
	if code != http.StatusOK {
		t.Fatalf("/v1/status = %d %s", code, body)
	}
	var st streams.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if missing := missingDesignStreams(st); len(missing) > 0 {
		t.Errorf("/v1/status lacks the streams %v", missing)
	}
	if idle := findConsumer(st, "INDEX", "idle"); idle == nil || idle.Pending != 1 {
		t.Errorf("idle consumer = %+v, want 1 pending", idle)
	}

	out, err := p.twin(t, "status", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var cli streams.Status
	if err := json.Unmarshal([]byte(out), &cli); err != nil || len(missingDesignStreams(cli)) > 0 {
		t.Errorf("twin status --json = %q (%v)", out, err)
	}
	out, err = p.twin(t, "status")
	if err != nil || !strings.Contains(out, "CRAWL") || !strings.Contains(out, "crawler") {
		t.Errorf("twin status = %q (%v)", out, err)
	}

	testwait.Until(t, 10*time.Second, "lag gauges on /metrics", func() bool {
		_, m := get(t, p.http+"/metrics")
		return strings.Contains(m, `twin_consumer_pending_messages{consumer="idle",stream="INDEX"} 1`)
	})
	if out, err := p.twin(t, "streams", "ls"); err != nil || !regexp.MustCompile(`CHAT_REPLIES +twin\.chat\.replies\.>`).MatchString(out) {
		t.Errorf("twin streams ls = %q (%v), want every stream with its subjects", out, err)
	}
	if out, err := p.twin(t, "dlq", "ls"); err != nil || !strings.Contains(out, "no dead letters") {
		t.Errorf("twin dlq ls = %q (%v)", out, err)
	}
}

func TestUpResumesOnTheSameDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startUp(t, dir)
	nc := p.connect(t)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateOrUpdateConsumer(ctx, "INDEX", jetstream.ConsumerConfig{Durable: "idle", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, "twin.index.events", fmt.Appendf(nil, `{"document_id":"d%d","op":"upsert"}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	// Consume and ack one: its position must survive too.
	c, _ := js.Consumer(ctx, "INDEX", "idle")
	m, err := c.Next()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	p.stop(t)

	p = startUp(t, dir)
	out, err := p.twin(t, "status", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st streams.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if c := findConsumer(st, "INDEX", "idle"); c == nil || c.Pending != 2 || c.AckPending != 0 {
		t.Fatalf("after restart idle = %+v, want the 2 unconsumed messages still pending", c)
	}
	for _, s := range st.Streams {
		if s.Name == "INDEX" && s.Messages != 3 {
			t.Fatalf("after restart INDEX holds %d messages, want 3", s.Messages)
		}
	}
}

func TestClientCommandsSayWhereTheyLooked(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"status", "--server", "http://127.0.0.1:1", "--nats", "nats://127.0.0.1:1"}, &out, &errOut, noEnv)
	if code == 0 || !strings.Contains(errOut.String(), "127.0.0.1:1") || !strings.Contains(errOut.String(), "twin up") {
		t.Fatalf("exit %d, stderr %q: want a failure naming the addresses and how to start twin", code, errOut.String())
	}
}

func TestRunRejectsUnknownComponents(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"run", "nosuch", "--nats", "nats://127.0.0.1:1"}, &out, &errOut, noEnv)
	if code == 0 || !strings.Contains(errOut.String(), `no component "nosuch"`) || !strings.Contains(errOut.String(), "gateway") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--help"}, {"up", "--help"}, {"dlq", "retry", "--help"}} {
		var out, errOut bytes.Buffer
		if code := execute(context.Background(), args, &out, &errOut, noEnv); code != 0 || out.Len() == 0 {
			t.Errorf("twin %v: exit %d, out %q, err %q", args, code, out.String(), errOut.String())
		}
	}
}

// missingDesignStreams lists the streams of the design that st lacks (KV
// buckets are streams too, and may be there besides).
func missingDesignStreams(st streams.Status) []string {
	have := map[string]bool{}
	for _, s := range st.Streams {
		have[s.Name] = true
	}
	var missing []string
	for _, s := range streams.DefaultTopology().Streams {
		if !have[s.Name] {
			missing = append(missing, s.Name)
		}
	}
	return missing
}

func findConsumer(st streams.Status, stream, name string) *streams.ConsumerStatus {
	for _, s := range st.Streams {
		if s.Name != stream {
			continue
		}
		for i := range s.Consumers {
			if s.Consumers[i].Name == name {
				return &s.Consumers[i]
			}
		}
	}
	return nil
}

// BenchmarkUpToReady measures `twin up` on a fresh data dir until /readyz
// answers 200 (target: under 3 seconds).
func BenchmarkUpToReady(b *testing.B) {
	var total time.Duration
	n := 0
	for b.Loop() {
		began := time.Now()
		p := startUp(b, b.TempDir())
		for {
			resp, err := http.Get(p.http + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(began)
		n++
		p.stop(b)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms_to_ready")
}

func TestExampleConfigNamesOnlyRealSettings(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	// Loading the example through a real command applies every key.
	code := execute(context.Background(), []string{"version", "--config", "../../twin.example.yaml"}, &out, &errOut, noEnv)
	if code != 0 {
		t.Fatalf("twin.example.yaml does not load: %s", errOut.String())
	}
	var typo bytes.Buffer
	code = execute(context.Background(), []string{"version", "--config", writeTemp(t, "nats-lisen: x\n")}, &out, &typo, noEnv)
	if code == 0 || !strings.Contains(typo.String(), "nats-lisen") {
		t.Fatalf("a typo in the config file passed: exit %d %q", code, typo.String())
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := t.TempDir() + "/twin.yaml"
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
