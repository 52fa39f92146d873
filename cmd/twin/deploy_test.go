package main

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/deploy"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// deployDir is the repository's deploy directory, from this package's.
const deployDir = "../../deploy"

// runningConsumers runs every component alone, as `twin run COMPONENT`
// against p's NATS, and returns the durable consumers each one runs: the
// runtime exports twin_consumer_in_flight_messages for every consumer a
// process runs, from the moment it starts it.
func runningConsumers(t *testing.T, p *upProcess) map[string][]string {
	t.Helper()
	type run struct {
		name   string
		stdout *testwait.Buffer
		stderr *testwait.Buffer
		exit   chan int
		http   string
	}
	ctx, cancel := context.WithCancel(context.Background())
	var runs []*run
	for _, c := range components() {
		r := &run{name: c.name, stdout: &testwait.Buffer{}, stderr: &testwait.Buffer{}, exit: make(chan int, 1)}
		args := []string{"run", c.name, "--nats", p.nats, "--nats-creds", streams.SeedFile(p.dir, streams.RoleSystem),
			"--data", t.TempDir(), "--http", "127.0.0.1:0"}
		go func() { r.exit <- execute(ctx, args, r.stdout, r.stderr, noEnv) }()
		runs = append(runs, r)
	}
	var wg sync.WaitGroup
	defer func() {
		cancel()
		for _, r := range runs {
			wg.Go(func() {
				select {
				case code := <-r.exit:
					if code != 0 {
						t.Errorf("twin run %s exited with %d:\n%s", r.name, code, r.stderr.String())
					}
				case <-time.After(30 * time.Second):
					t.Errorf("twin run %s did not stop within 30s", r.name)
				}
			})
		}
		wg.Wait()
	}()
	for _, r := range runs {
		testwait.Until(t, 30*time.Second, "twin run "+r.name+" ready", func() bool {
			select {
			case code := <-r.exit:
				t.Fatalf("twin run %s exited with %d before it was ready:\n%s", r.name, code, r.stderr.String())
			default:
			}
			m := httpLine.FindStringSubmatch(r.stdout.String())
			if m != nil && strings.Contains(r.stdout.String(), "ready in") {
				r.http = m[1]
			}
			return r.http != ""
		})
	}
	// Every consumer of the topology runs somewhere once all have started;
	// a component's set is complete then, since none runs late.
	want := map[string]bool{}
	for _, c := range streams.DefaultTopology().Consumers {
		want[c.Name] = true
	}
	got := map[string][]string{}
	testwait.Until(t, 30*time.Second, "every consumer of the topology running in some twin run", func() bool {
		seen := map[string]bool{}
		for _, r := range runs {
			_, body := get(t, r.http+"/metrics")
			got[r.name] = inFlightConsumers(body)
			for _, c := range got[r.name] {
				seen[c] = true
			}
		}
		return maps.Equal(seen, want)
	})
	return got
}

// inFlightConsumers reads the consumer labels of
// twin_consumer_in_flight_messages from a /metrics page.
func inFlightConsumers(page string) []string {
	var out []string
	for line := range strings.Lines(page) {
		rest, ok := strings.CutPrefix(line, "twin_consumer_in_flight_messages{")
		if !ok {
			continue
		}
		_, v, ok := strings.Cut(rest, `consumer="`)
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(v, `"`)
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// TestEveryConsumerHasAWorkloadAndAScaler checks the manifests against the
// code: which component runs which durable consumer is what `twin run`
// really does, the streams and durable names are the topology's.
func TestEveryConsumerHasAWorkloadAndAScaler(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	byComponent := runningConsumers(t, p)
	topo := streams.DefaultTopology()
	streamOf := map[string]string{}
	for _, c := range topo.Consumers {
		streamOf[c.Name] = c.Stream
	}
	names := slices.Sorted(maps.Keys(byComponent))
	secrets, err := deploy.ProdSecrets(deployDir)
	if err != nil {
		t.Fatal(err)
	}

	for _, overlay := range []string{"dev", "prod"} {
		t.Run("kubernetes "+overlay, func(t *testing.T) {
			rs, err := deploy.Kustomize(os.DirFS(deployDir), overlay, secrets)
			if err != nil {
				t.Fatal(err)
			}
			// The workload of each component: the one whose container runs it.
			workload := map[string]string{} // component -> "Kind/name"
			componentOf := map[string]string{}
			for _, r := range rs {
				if r.Kind != "Deployment" && r.Kind != "StatefulSet" {
					continue
				}
				var w deploy.Workload
				if err := r.Decode(&w); err != nil {
					t.Fatal(err)
				}
				for _, c := range w.Spec.Template.Spec.Containers {
					if len(c.Args) == 2 && c.Args[0] == "run" {
						if prev, ok := workload[c.Args[1]]; ok {
							t.Errorf("component %s runs in %s and %s/%s", c.Args[1], prev, r.Kind, r.Name)
						}
						workload[c.Args[1]] = r.Kind + "/" + r.Name
						componentOf[r.Kind+"/"+r.Name] = c.Args[1]
					}
				}
			}
			triggers := map[string][]string{} // "Kind/name" -> "STREAM/durable"
			for _, r := range rs {
				if r.Kind != "ScaledObject" {
					continue
				}
				var so deploy.ScaledObject
				if err := r.Decode(&so); err != nil {
					t.Fatal(err)
				}
				target := so.Spec.ScaleTargetRef.Kind + "/" + so.Spec.ScaleTargetRef.Name
				for _, trig := range so.Spec.Triggers {
					if trig.Type != "nats-jetstream" {
						continue
					}
					stream, durable := trig.Metadata["stream"], trig.Metadata["consumer"]
					triggers[target] = append(triggers[target], stream+"/"+durable)
					comp, ok := componentOf[target]
					switch {
					case !ok:
						t.Errorf("ScaledObject %s scales %s, which runs no component", r.Name, target)
					case streamOf[durable] != stream:
						t.Errorf("ScaledObject %s: trigger on %s/%s; the topology has %s on %q", r.Name, stream, durable, durable, streamOf[durable])
					case !slices.Contains(byComponent[comp], durable):
						t.Errorf("ScaledObject %s scales %s on %s, which twin run %s does not run (it runs %v)", r.Name, target, durable, comp, byComponent[comp])
					}
				}
			}
			for _, comp := range names {
				w, ok := workload[comp]
				if !ok {
					t.Errorf("no workload runs %s", comp)
					continue
				}
				for _, durable := range byComponent[comp] {
					if !slices.Contains(triggers[w], streamOf[durable]+"/"+durable) {
						t.Errorf("%s (twin run %s) has no nats-jetstream scaler on %s/%s", w, comp, streamOf[durable], durable)
					}
				}
			}
		})
	}

	t.Run("compose", func(t *testing.T) {
		env, err := deploy.FilledEnv(filepath.Join(deployDir, ".env.example"))
		if err != nil {
			t.Fatal(err)
		}
		project, err := deploy.Compose(context.Background(), deployDir, env)
		if err != nil {
			t.Fatal(err)
		}
		services := map[string]string{} // component -> service
		for name, s := range project.Services {
			if len(s.Command) == 2 && s.Command[0] == "run" {
				services[s.Command[1]] = name
			}
		}
		prom, err := deploy.Prometheus(deployDir)
		if err != nil {
			t.Fatal(err)
		}
		var scraped []string
		for _, sc := range prom.ScrapeConfigs {
			for _, d := range sc.DNSSDConfigs {
				scraped = append(scraped, d.Names...)
			}
		}
		for _, comp := range names {
			svc, ok := services[comp]
			if !ok {
				t.Errorf("no compose service runs %s", comp)
				continue
			}
			if !slices.Contains(scraped, svc) {
				t.Errorf("prometheus.yml does not scrape the service %s", svc)
			}
		}
	})
}

// TestEveryMetricTheManifestsQueryIsExported scrapes a running twin that has
// ingested, answered, dead-lettered and trained, and finds there every
// metric that a dashboard panel or an alert rule queries.
func TestEveryMetricTheManifestsQueryIsExported(t *testing.T) {
	t.Parallel()
	fsys := os.DirFS(deployDir)
	queries, err := deploy.Rules(fsys)
	if err != nil {
		t.Fatal(err)
	}
	dashboards, err := deploy.Dashboards(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dashboards {
		queries = append(queries, d.Queries...)
	}
	need := map[string][]string{} // metric -> where
	for _, q := range queries {
		ms, err := deploy.MetricNames(deploy.PromQL(q.Expr))
		if err != nil {
			t.Errorf("%s: %v", q.Source, err)
		}
		for _, m := range ms {
			need[m] = append(need[m], q.Source)
		}
	}

	p := startUp(t, t.TempDir())
	docs := filepath.Join(t.TempDir(), "docs.jsonl")
	var b strings.Builder
	for _, d := range []struct{ id, title, text string }{
		{"replicas", "Stream replicas", "# Stream replicas\n\nWith three replicas a JetStream stream survives the loss of one server. The leader orders the writes."},
		{"lag", "Consumer lag", "# Consumer lag\n\nThe pending count of a durable consumer is its lag. Scale the consumer when the lag grows."},
	} {
		line, _ := json.Marshal(map[string]string{"id": d.id, "title": d.title, "text": d.text})
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(docs, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := p.twin(t, "import", docs, "--author", "Ada", "--kind", "post", "--wait"); err != nil {
		t.Fatalf("twin import: %q %v", out, err)
	}
	if out, err := p.twin(t, "chat", "What survives the loss of one server?"); err != nil {
		t.Fatalf("twin chat: %q %v", out, err)
	}
	if out, err := p.twin(t, "search", "consumer lag"); err != nil {
		t.Fatalf("twin search: %q %v", out, err)
	}
	// A body that does not decode is dead-lettered at once.
	js, err := jetstream.New(p.connect(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), schemas.SubjectCrawlRequests, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	// A trace whose search step failed, as a rag worker reports one.
	trace := schemas.Trace{TraceID: "trace-of-a-failed-step", Query: "q", TotalMS: 12,
		Steps: []schemas.TraceStep{{Name: "search", LatencyMS: 3, Error: "vector store unavailable"}}}
	if _, err := streams.NewPublisher(js).Publish(context.Background(), streams.Out{Subject: schemas.SubjectMonitorTraces, MsgID: trace.TraceID, Body: trace}); err != nil {
		t.Fatal(err)
	}
	// A plain GET of the chat endpoint is no WebSocket handshake: refused.
	if code, _ := get(t, p.http+"/v1/chat"); code < 400 {
		t.Fatalf("GET /v1/chat without an upgrade = %d, want a refusal", code)
	}
	// No judgments yet: the job ends, failed, which is what the
	// training-failed alert counts.
	_, _ = p.twin(t, "train", "trigger", "--kind", "rerank", "--wait", "--timeout", "1m")

	var missing []string
	deadline := time.Now().Add(30 * time.Second)
	testwait.Until(t, time.Minute, "the scrape", func() bool {
		_, page := get(t, p.http+"/metrics")
		exported := map[string]bool{}
		for line := range strings.Lines(page) {
			if line == "" || line[0] == '#' {
				continue
			}
			name, _, _ := strings.Cut(line, "{")
			name, _, _ = strings.Cut(name, " ")
			exported[name] = true
		}
		missing = missing[:0]
		for m := range need {
			if !exported[m] {
				missing = append(missing, m)
			}
		}
		return len(missing) == 0 || time.Now().After(deadline)
	})
	slices.Sort(missing)
	for _, m := range missing {
		t.Errorf("%s is queried by %v but twin does not export it", m, need[m])
	}
	if len(need) < 20 {
		t.Errorf("the manifests query only %d metrics: %v", len(need), slices.Sorted(maps.Keys(need)))
	}
}
