package deploy

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/config"
	_ "github.com/prometheus/prometheus/discovery/dns" // dns_sd_configs
	"github.com/prometheus/prometheus/promql/promqltest"
)

// TestAlertsFireOnTroubleAndStayQuietOtherwise evaluates each alert's
// expression with Prometheus' own query engine on series that show the
// trouble, and on series of a healthy system. (The rules' `for:` is not
// exercised: an instant query sees one evaluation.)
func TestAlertsFireOnTroubleAndStayQuietOtherwise(t *testing.T) {
	t.Parallel()
	rules, err := Rules(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{}
	for _, r := range rules {
		exprs[r.Name] = r.Expr
	}
	// Series are loaded every minute from 0 to 30m; each case is
	// evaluated at 30m.
	for _, tc := range []struct {
		name, alert, series string
		fire                bool
	}{
		{"lag growing", "TwinConsumerLagGrowing", `
			twin_consumer_pending_messages{stream="EMBED", consumer="embedder", instance="gw1"} 0+100x30
			twin_consumer_pending_messages{stream="EMBED", consumer="embedder", instance="gw2"} 0+100x30`, true},
		{"lag high and steady", "TwinConsumerLagGrowing", `
			twin_consumer_pending_messages{stream="EMBED", consumer="embedder"} 1000x30`, false},
		{"lag growing but small", "TwinConsumerLagGrowing", `
			twin_consumer_pending_messages{stream="EMBED", consumer="embedder"} 0+10x30`, false},

		{"work waits, nothing acked", "TwinConsumerStalled", `
			twin_consumer_pending_messages{stream="CDC", consumer="featurizer"} 10x30
			twin_consumer_ack_pending_messages{stream="CDC", consumer="featurizer"} 4x30
			twin_consumer_messages_total{consumer="featurizer", outcome="ack"} 7x30`, true},
		{"work waits and is acked", "TwinConsumerStalled", `
			twin_consumer_pending_messages{stream="CDC", consumer="featurizer"} 10x30
			twin_consumer_ack_pending_messages{stream="CDC", consumer="featurizer"} 4x30
			twin_consumer_messages_total{consumer="featurizer", outcome="ack"} 0+50x30`, false},

		{"work waits, no process runs the consumer", "TwinConsumerWithoutHeartbeat", `
			twin_consumer_pending_messages{stream="CHAT_REQUESTS", consumer="rag"} 5x30
			twin_consumer_in_flight_messages{consumer="embedder"} 0x30`, true},
		{"the last process went away 10 minutes ago", "TwinConsumerWithoutHeartbeat", `
			twin_consumer_pending_messages{stream="CHAT_REQUESTS", consumer="rag"} 5x30
			twin_consumer_in_flight_messages{consumer="rag"} 0x20`, true},
		{"a process runs the consumer", "TwinConsumerWithoutHeartbeat", `
			twin_consumer_pending_messages{stream="CHAT_REQUESTS", consumer="rag"} 5x30
			twin_consumer_in_flight_messages{consumer="rag", instance="rag-1"} 3x30`, false},
		{"nothing waits and nothing runs (scaled to zero)", "TwinConsumerWithoutHeartbeat", `
			twin_consumer_pending_messages{stream="TRAINING", consumer="trainer"} 0x30`, false},

		{"dead letters", "TwinDeadLetters", `twin_stream_messages{stream="DLQ"} 3x30`, true},
		{"empty DLQ", "TwinDeadLetters", `twin_stream_messages{stream="DLQ"} 0x30
			twin_stream_messages{stream="DOCS"} 500x30`, false},

		{"dead-lettering now", "TwinDeadLettersGrowing", `twin_dlq_messages_total{consumer="crawler", reason="invalid"} 0+1x30`, true},
		{"dead-lettered long ago", "TwinDeadLettersGrowing", `twin_dlq_messages_total{consumer="crawler", reason="invalid"} 0+1x10 10x20`, false},

		{"freshness p99 past 5 s", "TwinFreshnessSlow", `
			twin_freshness_seconds_bucket{le="1"} 0+10x30
			twin_freshness_seconds_bucket{le="5"} 0+20x30
			twin_freshness_seconds_bucket{le="10"} 0+100x30
			twin_freshness_seconds_bucket{le="+Inf"} 0+100x30`, true},
		{"freshness under a second", "TwinFreshnessSlow", `
			twin_freshness_seconds_bucket{le="1"} 0+100x30
			twin_freshness_seconds_bucket{le="5"} 0+100x30
			twin_freshness_seconds_bucket{le="10"} 0+100x30
			twin_freshness_seconds_bucket{le="+Inf"} 0+100x30`, false},

		{"first token slow", "TwinChatFirstTokenSlow", `
			twin_chat_first_token_seconds_bucket{le="1"} 0+1x30
			twin_chat_first_token_seconds_bucket{le="5"} 0+10x30
			twin_chat_first_token_seconds_bucket{le="+Inf"} 0+10x30`, true},
		{"first token fast", "TwinChatFirstTokenSlow", `
			twin_chat_first_token_seconds_bucket{le="1"} 0+10x30
			twin_chat_first_token_seconds_bucket{le="5"} 0+10x30
			twin_chat_first_token_seconds_bucket{le="+Inf"} 0+10x30`, false},

		{"half the API fails", "TwinAPIErrors", `
			twin_http_requests_total{route="/v1/search", code="500"} 0+10x30
			twin_http_requests_total{route="/v1/search", code="200"} 0+10x30`, true},
		{"the API answers", "TwinAPIErrors", `
			twin_http_requests_total{route="/v1/search", code="500"} 2x30
			twin_http_requests_total{route="/v1/search", code="200"} 0+10x30`, false},

		{"a job failed", "TwinTrainingJobFailed", `
			twin_training_jobs_total{kind="rerank", state="failed", decision="none"} 0x10 1x20`, true},
		{"jobs succeed", "TwinTrainingJobFailed", `
			twin_training_jobs_total{kind="rerank", state="succeeded", decision="promoted"} 0x10 1x20
			twin_training_jobs_total{kind="rerank", state="failed", decision="none"} 1x30`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			expr, ok := exprs[tc.alert]
			if !ok {
				t.Fatalf("no alert %s", tc.alert)
			}
			var load strings.Builder
			load.WriteString("load 1m\n")
			for line := range strings.Lines(tc.series) {
				if line = strings.TrimSpace(line); line != "" {
					load.WriteString("  " + line + "\n")
				}
			}
			storage := promqltest.LoadedStorage(t, load.String())
			engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
			q, err := engine.NewInstantQuery(context.Background(), storage, nil, expr, time.Unix(0, 0).Add(30*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			res := q.Exec(context.Background())
			if res.Err != nil {
				t.Fatalf("%s: %v", tc.alert, res.Err)
			}
			v, err := res.Vector()
			if err != nil {
				t.Fatal(err)
			}
			if fired := len(v) > 0; fired != tc.fire {
				t.Errorf("%s fired = %v (%v), want %v, on%s", tc.alert, fired, v, tc.fire, tc.series)
			}
		})
	}
}

// TestPrometheusConfigLoads reads prometheus.yml with Prometheus' own
// config loader (with the DNS service discovery compose relies on), and
// finds the rule files it names.
func TestPrometheusConfigLoads(t *testing.T) {
	t.Parallel()
	cfg, err := config.LoadFile("prometheus/prometheus.yml", false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, pattern := range cfg.RuleFiles {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, m...)
	}
	if len(rules) == 0 {
		t.Errorf("rule_files %v match no file", cfg.RuleFiles)
	}
	var twin bool
	for _, sc := range cfg.ScrapeConfigs {
		twin = twin || sc.JobName == "twin"
	}
	if !twin {
		t.Error("no scrape job twin")
	}
}
