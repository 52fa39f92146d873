package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/testwait"
)

// Each mode must reach both stores: the embedded server's JetStream config
// (what every stream's file store is built with) and the SQLite writer.
func TestSyncModeReachesJetStreamAndSQLite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode        syncMode
		wantAlways  bool
		wantSQLite  string
		description string
	}{
		{syncAlways, true, "FULL", "every write synced"},
		{syncWarehouse, false, "FULL", "SQLite synced, JetStream on an interval"},
		{syncInterval, false, "NORMAL", "both on an interval"},
		{"", false, "FULL", "the default is warehouse"},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String()+"/"+tt.description, func(t *testing.T) {
			t.Parallel()
			g := &globals{data: t.TempDir(), log: zerolog.Nop()}
			s, err := start(t.Context(), g, serveFlags{http: "off", natsListen: "off", maxMemory: 64 << 20, maxStore: 1 << 30,
				replicas: 1, sync: tt.mode})
			if err != nil {
				t.Fatal(err)
			}
			defer s.close()
			always, every := s.embedded.Sync()
			if always != tt.wantAlways {
				t.Errorf("JetStream sync always = %v, want %v", always, tt.wantAlways)
			}
			if !tt.wantAlways && every != natsSyncEvery {
				t.Errorf("JetStream sync interval = %v, want %v", every, natsSyncEvery)
			}
			st, err := s.warehouse(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			got, err := st.(*warehouse.SQLiteStore).Synchronous(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.wantSQLite {
				t.Errorf("SQLite synchronous = %s, want %s", got, tt.wantSQLite)
			}
		})
	}
}

// The mode comes from the flag, TWIN_SYNC or the config file, and the
// banner reports what the embedded server applied.
func TestUpTakesTheSyncModeFromFlagEnvironmentAndConfig(t *testing.T) {
	t.Parallel()
	conf := writeTemp(t, "sync: always\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"flag", []string{"--sync", "interval"}, nil, "sync     interval: JetStream every 1s, SQLite (if used) at checkpoints"},
		{"environment", nil, map[string]string{"TWIN_SYNC": "always"}, "sync     always: JetStream before every ack, SQLite (if used) at every commit"},
		{"config file", []string{"--config", conf}, nil, "sync     always: JetStream before every ack"},
		{"flag over environment", []string{"--sync", "warehouse"}, map[string]string{"TWIN_SYNC": "always"}, "sync     warehouse: JetStream every 1s, SQLite (if used) at every commit"},
		{"default", nil, nil, "sync     warehouse: JetStream every 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, code := runUpUntilReady(t, tt.args, tt.env)
			if code != 0 {
				t.Fatalf("twin up exited with %d:\n%s", code, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("banner does not say %q:\n%s", tt.want, out)
			}
		})
	}
}

// A mode that does not exist fails the start before anything is opened,
// wherever it came from.
func TestUpRefusesAnUnknownSyncModeAtOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"flag", []string{"--sync", "sometimes"}, nil},
		{"environment", nil, map[string]string{"TWIN_SYNC": "never"}},
		{"config file", []string{"--config", writeTemp(t, "sync: lazy\n")}, nil},
		{"empty", []string{"--sync", ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "data")
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			var stdout, stderr testwait.Buffer
			args := append([]string{"up", "--data", dir, "--http", "127.0.0.1:0", "--nats-listen", "off"}, tt.args...)
			code := execute(ctx, args, &stdout, &stderr, mapEnv(tt.env))
			if code == 0 || ctx.Err() != nil {
				t.Fatalf("twin up with a bad sync mode: exit %d, context %v; want a failure at once\n%s%s", code, ctx.Err(), stdout.String(), stderr.String())
			}
			if msg := stderr.String(); !strings.Contains(msg, "want always, warehouse or interval") {
				t.Errorf("error does not name the modes:\n%s", msg)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the data dir was created (%v): something was opened before the setting was checked", err)
			}
		})
	}
}

func mapEnv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// runUpUntilReady runs `twin up` on a fresh data dir until its banner is
// printed, then stops it; it returns what it printed and its exit code.
func runUpUntilReady(t *testing.T, extra []string, env map[string]string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr testwait.Buffer
	args := append([]string{"up", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--nats-listen", "off"}, extra...)
	exit := make(chan int, 1)
	go func() { exit <- execute(ctx, args, &stdout, &stderr, mapEnv(env)) }()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(stdout.String(), "ready in") {
		select {
		case code := <-exit:
			return stdout.String() + stderr.String(), code
		case <-deadline:
			t.Fatalf("twin up not ready after 30s:\n%s%s", stdout.String(), stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	return stdout.String(), <-exit
}
