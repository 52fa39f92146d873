package streams

import (
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// The file store of every stream takes its sync policy from the server's
// JetStream config, so that is where the setting must arrive.
func TestServerSyncSettingReachesJetStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		always       bool
		interval     time.Duration
		wantAlways   bool
		wantInterval time.Duration
	}{
		{name: "always", always: true, wantAlways: true},
		{name: "interval", interval: 5 * time.Second, wantInterval: 5 * time.Second},
		{name: "server default", wantInterval: 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, err := StartServer(ServerConfig{DataDir: t.TempDir(), MaxMemory: 64 * mib, MaxStore: gib,
				SyncAlways: tt.always, SyncInterval: tt.interval, Log: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Shutdown()
			always, interval := srv.Sync()
			if always != tt.wantAlways {
				t.Errorf("sync always = %v, want %v", always, tt.wantAlways)
			}
			// With always, the interval is still the background pass
			// over what always does not cover; only its absence matters.
			if !tt.wantAlways && interval != tt.wantInterval {
				t.Errorf("sync interval = %v, want %v", interval, tt.wantInterval)
			}
		})
	}
}
