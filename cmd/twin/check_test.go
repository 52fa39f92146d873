package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestInvalidSettingsFailTheStartBeforeAnythingRuns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"unknown llm", []string{"up", "--llm", "nonsense"}, `rag: --llm "nonsense": want extractive, openai or sagemaker`},
		{"llm without its server", []string{"up", "--llm", "openai"}, "--llm openai needs --llm-url and --llm-name"},
		{"unknown reranker", []string{"up", "--rerank", "nonsense"}, `--rerank "nonsense"`},
		{"reranker without its server", []string{"up", "--rerank", "tei"}, "--rerank tei needs --rerank-url"},
		{"unknown cdc mode", []string{"up", "--cdc-mode", "binlog"}, `cdc: --cdc-mode "binlog": want auto, changestream or tail`},
		{"change streams without MongoDB", []string{"up", "--cdc-mode", "changestream"}, "--cdc-mode changestream needs the MongoDB warehouse (--mongo)"},
		{"unknown search mode", []string{"up", "--search-mode", "fuzzy"}, `--search-mode "fuzzy"`},
		{"unknown embedding model", []string{"up", "--embed-model", "nonsense"}, `--embed-model "nonsense"`},
		{"qdrant without a port", []string{"up", "--qdrant", "qdrant-host"}, `--qdrant "qdrant-host": want host:port`},
		{"short auth token", []string{"up", "--auth-token", "short"}, "token"},
		// twin run checks what it runs, before it connects: the NATS URL
		// leads nowhere.
		{"run rag, unknown llm", []string{"run", "rag", "--llm", "nonsense", "--nats", "nats://127.0.0.1:1"}, `rag: --llm "nonsense"`},
		{"run gateway, unknown search mode", []string{"run", "gateway", "--search-mode", "fuzzy", "--nats", "nats://127.0.0.1:1"}, `gateway: --search-mode "fuzzy"`},
		{"run gateway, unknown reranker", []string{"run", "gateway", "--rerank", "nonsense", "--nats", "nats://127.0.0.1:1"}, `gateway: --rerank "nonsense"`},
		{"policy interval", []string{"up", "--policy-interval", "0s"}, "policy: --policy-interval is 0s"},
		{"run cdc, unknown mode", []string{"run", "cdc", "--cdc-mode", "binlog", "--nats", "nats://127.0.0.1:1"}, `cdc: --cdc-mode "binlog"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append(tc.args, "--data", dir, "--http", "127.0.0.1:0")
			if tc.args[0] == "up" {
				args = append(args, "--nats-listen", "off")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			code := execute(ctx, args, &out, &errOut, noEnv)
			if ctx.Err() != nil {
				t.Fatalf("twin %s ran until the test's deadline instead of failing:\n%s", strings.Join(tc.args, " "), errOut.String())
			}
			if code == 0 || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("twin %s exited %d saying:\n%s\nwant a failure saying %q", strings.Join(tc.args, " "), code, errOut.String(), tc.want)
			}
			if strings.Contains(out.String(), "ready in") {
				t.Errorf("it started before failing:\n%s", out.String())
			}
			// Nothing started: no NATS store, no warehouse, no lock.
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("the data dir holds %d entries (%s...): something started before the check", len(entries), entries[0].Name())
			}
		})
	}
}

func TestValidSettingsOfOtherComponentsAreNotCheckedByRun(t *testing.T) {
	t.Parallel()
	// twin run crawler does not answer chat: an LLM setting it does not use
	// does not stop it (it fails on the NATS URL that leads nowhere).
	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"run", "crawler", "--llm", "openai", "--nats", "nats://127.0.0.1:1", "--data", t.TempDir(), "--http", "off"}, &out, &errOut, noEnv)
	if code == 0 || strings.Contains(errOut.String(), "--llm") || !strings.Contains(errOut.String(), "NATS") {
		t.Errorf("twin run crawler --llm openai exited %d saying %q: want a NATS connection failure, not the LLM", code, errOut.String())
	}
}
