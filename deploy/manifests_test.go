package deploy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"go.yaml.in/yaml/v3"
)

// composeEnv is what deploy/.env holds once its example is filled in: a
// variable the compose file needs and the example lacks fails the tests.
func composeEnv(t testing.TB) map[string]string {
	t.Helper()
	env, err := FilledEnv(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestRuleFilesPassPrometheusRuleLoader(t *testing.T) {
	t.Parallel()
	rules, err := Rules(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	// The alerts operators were promised, each by what it watches.
	want := map[string]string{
		"TwinConsumerLagGrowing":       "twin_consumer_pending_messages",
		"TwinDeadLetters":              "twin_stream_messages",
		"TwinFreshnessSlow":            "twin_freshness_seconds_bucket",
		"TwinConsumerWithoutHeartbeat": "twin_consumer_in_flight_messages",
		"TwinTrainingJobFailed":        "twin_training_jobs_total",
	}
	for _, r := range rules {
		names, err := MetricNames(r.Expr)
		if err != nil {
			t.Errorf("%s: %v", r.Source, err)
			continue
		}
		for alert, metric := range want {
			if strings.HasSuffix(r.Source, "rule "+alert) && slices.Contains(names, metric) {
				delete(want, alert)
			}
		}
	}
	for alert, metric := range want {
		t.Errorf("no alert %s on %s", alert, metric)
	}
}

func TestRuleLoaderRefusesBrokenRules(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"bad PromQL":       "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum(rate(x[5m])\n",
		"unknown field":    "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    severity: page\n",
		"bad template":     "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    annotations: {summary: \"{{ $value \"}\n",
		"alert and record": "groups:\n- name: g\n  rules:\n  - alert: A\n    record: b\n    expr: up\n",
	} {
		fsys := fstest.MapFS{RulesDir + "/x.yml": {Data: []byte(body)}}
		if _, err := Rules(fsys); err == nil {
			t.Errorf("%s: Rules accepted %q", name, body)
		}
	}
}

func TestMetricNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr string
		want []string
		bad  bool
	}{
		{expr: `sum by (le) (rate(a_bucket[5m])) / on () b`, want: []string{"a_bucket", "b"}},
		{expr: `{__name__="c", x="y"} unless d offset 5m`, want: []string{"c", "d"}},
		{expr: `histogram_quantile(0.9, sum by (le) (rate(e_bucket[5m]))) > 1`, want: []string{"e_bucket"}},
		{expr: `sum(rate(f[5m])`, bad: true},
		{expr: `{job="twin"}`, bad: true}, // any metric at all
	} {
		got, err := MetricNames(tc.expr)
		if tc.bad {
			if err == nil {
				t.Errorf("MetricNames(%q) = %v, want an error", tc.expr, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("MetricNames(%q) = %v, %v; want %v", tc.expr, got, err, tc.want)
		}
	}
}

func TestPromQLOfGrafanaQueries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`rate(x{c=~"$consumer"}[$__rate_interval])`, `rate(x{c=~"x"}[5m])`},
		{`label_values(twin_consumer_pending_messages, consumer)`, `twin_consumer_pending_messages`},
		{`query_result(max by (s) (y{a="${var:regex}"}))`, `max by (s) (y{a="x"})`},
	} {
		if got := PromQL(tc.in); got != tc.want {
			t.Errorf("PromQL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDashboardsShowWhatOperatorsWatch(t *testing.T) {
	t.Parallel()
	ds, err := Dashboards(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	// A view of each of these must exist somewhere.
	want := map[string]bool{
		"twin_consumer_pending_messages": false, "twin_consumer_messages_total": false,
		"twin_freshness_seconds_bucket": false, "twin_stream_messages": false, "twin_dlq_messages_total": false,
		"twin_chat_first_token_seconds_bucket": false, "twin_chat_seconds_bucket": false,
		"twin_gateway_connections": false, "twin_training_jobs_total": false,
	}
	uids := map[string]string{}
	for _, d := range ds {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: no uid or title", d.File)
		}
		if other, ok := uids[d.UID]; ok {
			t.Errorf("%s and %s share the uid %q", d.File, other, d.UID)
		}
		uids[d.UID] = d.File
		if len(d.Queries) == 0 {
			t.Errorf("%s has no queries", d.File)
		}
		for _, q := range d.Queries {
			names, err := MetricNames(PromQL(q.Expr))
			if err != nil {
				t.Errorf("%s: %v", q.Source, err)
			}
			for _, n := range names {
				if _, ok := want[n]; ok {
					want[n] = true
				}
			}
		}
	}
	for n, shown := range want {
		if !shown {
			t.Errorf("no dashboard panel queries %s", n)
		}
	}
}

func TestGrafanaProvisioningMatchesTheComposeMounts(t *testing.T) {
	t.Parallel()
	env := composeEnv(t)
	p, err := Compose(context.Background(), ".", env)
	if err != nil {
		t.Fatal(err)
	}
	grafana, ok := p.Services["grafana"]
	if !ok {
		t.Fatal("no grafana service")
	}
	mounts := map[string]string{} // target -> source
	for _, v := range grafana.Volumes {
		mounts[v.Target] = v.Source
	}
	if src := mounts["/etc/grafana/provisioning"]; !strings.HasSuffix(src, "grafana/provisioning") {
		t.Errorf("grafana mounts %q at /etc/grafana/provisioning", src)
	}
	var provider struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	data, err := os.ReadFile("grafana/provisioning/dashboards/twin.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &provider); err != nil || len(provider.Providers) != 1 {
		t.Fatalf("dashboard provider: %v %+v", err, provider)
	}
	if src := mounts[provider.Providers[0].Options.Path]; !strings.HasSuffix(src, DashboardsDir) {
		t.Errorf("the dashboard provider reads %s, where compose mounts %q", provider.Providers[0].Options.Path, src)
	}
	var ds struct {
		Datasources []struct{ URL string } `yaml:"datasources"`
	}
	data, err = os.ReadFile("grafana/provisioning/datasources/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &ds); err != nil || len(ds.Datasources) != 1 || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("datasource: %v %+v, want the compose service prometheus", err, ds)
	}
	if home := grafana.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home == nil || !strings.HasPrefix(*home, provider.Providers[0].Options.Path+"/") {
		t.Errorf("the home dashboard %v is not a provisioned one", home)
	} else if _, err := os.Stat(DashboardsDir + "/" + strings.TrimPrefix(*home, provider.Providers[0].Options.Path+"/")); err != nil {
		t.Errorf("the home dashboard: %v", err)
	}
}

func TestComposeRunsANATSClusterAMongoReplicaSetAndQdrant(t *testing.T) {
	t.Parallel()
	env := composeEnv(t)
	p, err := Compose(context.Background(), ".", env)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile("nats/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`nats-route://([a-z0-9-]+):6222`).FindAllStringSubmatch(string(conf), -1)
	if len(routes) != 3 {
		t.Fatalf("nats.conf routes to %d servers, want 3", len(routes))
	}
	for _, r := range routes {
		s, ok := p.Services[r[1]]
		if !ok {
			t.Errorf("nats.conf routes to %s, which is no service", r[1])
			continue
		}
		if name := s.Environment["NATS_SERVER_NAME"]; name == nil || *name != r[1] {
			t.Errorf("%s: NATS_SERVER_NAME %v", r[1], name)
		}
		if tok := s.Environment["NATS_TOKEN"]; tok == nil || *tok != env["NATS_TOKEN"] {
			t.Errorf("%s: NATS_TOKEN %v", r[1], tok)
		}
	}
	mongo := p.Services["mongo"]
	if !slices.Contains(mongo.Command, "--replSet") || mongo.HealthCheck == nil || !strings.Contains(strings.Join(mongo.HealthCheck.Test, " "), "rs.initiate") {
		t.Errorf("mongo: command %v, health check %+v; want a replica set initiated by its health check", mongo.Command, mongo.HealthCheck)
	}
	if _, ok := p.Services["qdrant"]; !ok {
		t.Error("no qdrant service")
	}
	gw := p.Services["gateway"]
	if dep, ok := gw.DependsOn["mongo"]; !ok || dep.Condition != "service_healthy" {
		t.Errorf("the gateway does not wait for a healthy mongo: %+v", gw.DependsOn)
	}
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q: everything published stays on loopback", name, port.Published, port.HostIP)
			}
		}
	}
}

func TestComposeRefusesMissingSecrets(t *testing.T) {
	t.Parallel()
	all := composeEnv(t)
	if len(all) == 0 {
		t.Fatal(".env.example names no variable")
	}
	for k := range all {
		env := map[string]string{}
		for k2, v := range all {
			if k2 != k {
				env[k2] = v
			}
		}
		if _, err := Compose(context.Background(), ".", env); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("without %s: %v, want an error naming it", k, err)
		}
	}
}

func TestOverlaysBuildWithProbesResourcesAndBudgets(t *testing.T) {
	t.Parallel()
	secrets, err := ProdSecrets(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		overlay string
		extra   map[string][]byte
	}{
		{"dev", nil},
		{"prod", secrets},
	} {
		t.Run(tc.overlay, func(t *testing.T) {
			t.Parallel()
			rs, err := Kustomize(os.DirFS("."), tc.overlay, tc.extra)
			if err != nil {
				t.Fatal(err)
			}
			checkResources(t, rs)
		})
	}
}

func TestProdNeedsItsSecretsFile(t *testing.T) {
	t.Parallel()
	if _, err := Kustomize(os.DirFS("."), "prod", nil); err == nil || !strings.Contains(err.Error(), "secrets.env") {
		t.Errorf("prod without secrets.env: %v, want an error naming it", err)
	}
}

// checkResources checks what every build must hold.
func checkResources(t *testing.T, rs []Resource) {
	t.Helper()
	byKind := map[string]map[string]Resource{}
	for _, r := range rs {
		if r.Kind != "Namespace" && r.Namespace == "" {
			t.Errorf("%s %s has no namespace", r.Kind, r.Name)
		}
		if byKind[r.Kind] == nil {
			byKind[r.Kind] = map[string]Resource{}
		}
		byKind[r.Kind][r.Name] = r
	}
	var pdbs []PodDisruptionBudget
	for _, r := range byKind["PodDisruptionBudget"] {
		var p PodDisruptionBudget
		if err := r.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Spec.MinAvailable == nil && p.Spec.MaxUnavailable == nil {
			t.Errorf("PodDisruptionBudget %s says nothing", r.Name)
		}
		pdbs = append(pdbs, p)
	}
	minReplicas := map[string]int{} // "Kind/name" of a scaled workload -> its least replicas
	for _, r := range byKind["ScaledObject"] {
		var so ScaledObject
		if err := r.Decode(&so); err != nil {
			t.Fatal(err)
		}
		if so.Spec.MinReplicaCount != nil {
			minReplicas[so.Spec.ScaleTargetRef.Kind+"/"+so.Spec.ScaleTargetRef.Name] = *so.Spec.MinReplicaCount
		}
	}
	workloads := 0
	for _, kind := range []string{"Deployment", "StatefulSet"} {
		for name, r := range byKind[kind] {
			workloads++
			var w Workload
			if err := r.Decode(&w); err != nil {
				t.Fatal(err)
			}
			labels := w.Spec.Template.Metadata.Labels
			for k, v := range w.Spec.Selector.MatchLabels {
				if labels[k] != v {
					t.Errorf("%s %s: its selector %v does not select its pods %v", kind, name, w.Spec.Selector.MatchLabels, labels)
				}
			}
			covered := false
			for _, p := range pdbs {
				if !matches(p.Spec.Selector.MatchLabels, labels) {
					continue
				}
				covered = true
				// A budget that keeps as many pods as the workload may
				// have blocks every node drain.
				least := minReplicas[kind+"/"+name]
				if w.Spec.Replicas != nil {
					least = *w.Spec.Replicas
				}
				if n, ok := p.Spec.MinAvailable.(int); ok && n >= least {
					t.Errorf("%s %s: its PodDisruptionBudget keeps %d of %d pods: no node could be drained", kind, name, n, least)
				}
			}
			if !covered {
				t.Errorf("%s %s has no PodDisruptionBudget", kind, name)
			}
			if kind == "StatefulSet" {
				if _, ok := byKind["Service"][w.Spec.ServiceName]; !ok {
					t.Errorf("StatefulSet %s: its service %q is not in the build", name, w.Spec.ServiceName)
				}
			}
			if len(w.Spec.Template.Spec.Containers) == 0 {
				t.Errorf("%s %s has no container", kind, name)
			}
			for _, c := range w.Spec.Template.Spec.Containers {
				where := kind + " " + name + "/" + c.Name
				if c.LivenessProbe == nil || c.ReadinessProbe == nil {
					t.Errorf("%s: liveness %v, readiness %v; want both", where, c.LivenessProbe, c.ReadinessProbe)
				}
				if len(c.Resources.Requests) == 0 || c.Resources.Limits["memory"] == "" {
					t.Errorf("%s: resources %+v; want requests and a memory limit", where, c.Resources)
				}
				if c.Image == "twin" {
					t.Errorf("%s: the overlay sets no image for twin", where)
				}
				for _, ref := range c.EnvFrom {
					if ref.ConfigMapRef != nil {
						if _, ok := byKind["ConfigMap"][ref.ConfigMapRef.Name]; !ok {
							t.Errorf("%s: ConfigMap %s is not in the build", where, ref.ConfigMapRef.Name)
						}
					}
					if ref.SecretRef != nil {
						if _, ok := byKind["Secret"][ref.SecretRef.Name]; !ok {
							t.Errorf("%s: Secret %s is not in the build", where, ref.SecretRef.Name)
						}
					}
				}
				for _, e := range c.Env {
					if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
						if !secretHas(t, byKind["Secret"], e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key) {
							t.Errorf("%s: %s reads key %s of Secret %s, which the build lacks", where, e.Name, e.ValueFrom.SecretKeyRef.Key, e.ValueFrom.SecretKeyRef.Name)
						}
					}
				}
			}
			for _, v := range w.Spec.Template.Spec.Volumes {
				if v.ConfigMap != nil {
					if _, ok := byKind["ConfigMap"][v.ConfigMap.Name]; !ok {
						t.Errorf("%s %s: volume ConfigMap %s is not in the build", kind, name, v.ConfigMap.Name)
					}
				}
			}
		}
	}
	if workloads == 0 {
		t.Fatal("the build has no workloads")
	}
	for name, r := range byKind["ScaledObject"] {
		var so ScaledObject
		if err := r.Decode(&so); err != nil {
			t.Fatal(err)
		}
		ref := so.Spec.ScaleTargetRef
		lo, hi := so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount
		switch {
		case hi == nil || lo == nil:
			t.Errorf("ScaledObject %s: min %v, max %v replicas; want both said", name, lo, hi)
		case *lo > *hi:
			t.Errorf("ScaledObject %s: min %d > max %d replicas", name, *lo, *hi)
		case runsOnce[ref.Name] && *hi > 1:
			t.Errorf("ScaledObject %s scales %s to %d replicas; it runs once (docs/scale-out.md)", name, ref.Name, *hi)
		}
		if _, ok := byKind[ref.Kind][ref.Name]; !ok {
			t.Errorf("ScaledObject %s scales %s %s, which is not in the build", name, ref.Kind, ref.Name)
		}
		for _, trig := range so.Spec.Triggers {
			endpoint := trig.Metadata["natsServerMonitoringEndpoint"]
			host, port, _ := strings.Cut(endpoint, ":")
			svc, ns, _ := strings.Cut(host, ".")
			ns, _, _ = strings.Cut(ns, ".")
			s, ok := byKind["Service"][svc]
			if !ok || s.Namespace != ns || port != "8222" {
				t.Errorf("ScaledObject %s: monitoring endpoint %q is not the NATS monitoring port of a Service in the build", name, endpoint)
			}
		}
	}
}

// runsOnce are the workloads of the components that must not run twice
// against one deployment: the retrain policy keeps its ratings window and
// decides on a timer, the trainer holds a job at a time.
var runsOnce = map[string]bool{"twin-policy": true, "twin-trainer": true, "twin-cdc": true}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func secretHas(t *testing.T, secrets map[string]Resource, name, key string) bool {
	r, ok := secrets[name]
	if !ok {
		return false
	}
	var s struct {
		Data       map[string]string `yaml:"data"`
		StringData map[string]string `yaml:"stringData"`
	}
	if err := r.Decode(&s); err != nil {
		t.Fatal(err)
	}
	_, inData := s.Data[key]
	_, inString := s.StringData[key]
	return inData || inString
}

func FuzzFilledEnv(f *testing.F) {
	f.Add([]byte("# c\nA=1\n\nB=\n"))
	f.Add([]byte("no equals sign"))
	f.Add([]byte("=value"))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := filledEnv(data)
		if err != nil {
			return
		}
		for k, v := range env {
			if k == "" || strings.ContainsAny(k, "=\n") || v != "value-of-"+k {
				t.Fatalf("filledEnv(%q) gave %q=%q", data, k, v)
			}
		}
	})
}

// TestDashboardPanelsAreLaidOut checks what Grafana would otherwise fix up
// silently or show broken: unique panel ids, every panel inside the 24
// columns, none over another, each with the data source variable.
func TestDashboardPanelsAreLaidOut(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(DashboardsDir + "/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("dashboards: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				ID         int    `json:"id"`
				Title      string `json:"title"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
				GridPos struct{ X, Y, W, H int } `json:"gridPos"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		ids := map[int]bool{}
		for i, p := range d.Panels {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d twice", f, p.ID)
			}
			ids[p.ID] = true
			g := p.GridPos
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
				t.Errorf("%s: panel %q at %+v is outside the 24 columns", f, p.Title, g)
			}
			if p.Datasource.UID != "${datasource}" {
				t.Errorf("%s: panel %q uses data source %q, not the dashboard's variable", f, p.Title, p.Datasource.UID)
			}
			for _, q := range d.Panels[:i] {
				o := q.GridPos
				if g.X < o.X+o.W && o.X < g.X+g.W && g.Y < o.Y+o.H && o.Y < g.Y+g.H {
					t.Errorf("%s: panel %q overlaps %q", f, p.Title, q.Title)
				}
			}
		}
	}
}
